"""Delivery of the email outbox over SMTP with retries and backoff, and the staff views of the outbox."""

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from care.models.messaging import EMAIL_STATUSES, OutboxEmail
from engine import audit, clock
from engine.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_SMTP_TIMEOUT = 30.0
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=1)
# A claimed email goes back to the queue after this lease, in case its deliverer died mid-send.
# Each SMTP command waits at most the socket time-out, and one email takes about ten commands
# (greeting, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, the message, QUIT), so 20 time-outs leave a margin.
MIN_SENDING_LEASE = timedelta(minutes=15)
LEASE_PER_TIMEOUT = 20


class SmtpSettings(Protocol):
    smtp_host: str | None
    smtp_port: int
    smtp_starttls: bool
    smtp_user: str | None
    smtp_password: str | None
    smtp_sender: str


@dataclass
class DeliveryReport:
    """The ids of the emails one ``deliver_outbox`` call sent, rescheduled and failed permanently."""

    enabled: bool = True
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lost_claims: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int
    recipient: str
    subject: str
    body_text: str
    body_html: str
    created_at: datetime


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before the next try after ``attempts`` failed tries: 1, 2, 4, 8... minutes, at most an hour."""
    delay = FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0)

    return min(delay, MAX_RETRY_DELAY)


def deliver_outbox(
    session_factory: sessionmaker[Session],
    settings: SmtpSettings,
    *,
    batch_size: int = 50,
    now: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: float = DEFAULT_SMTP_TIMEOUT,
    tls_context: ssl.SSLContext | None = None,
) -> DeliveryReport:
    """Send up to ``batch_size`` due emails over SMTP and record each outcome.

    Each email is claimed in its own short transaction (``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL, a conditional update on SQLite), so any number of
    deliverers can run at once without sending one email twice. A 5xx reply
    to the message fails the email at once. Any other error, including a
    refused connection, STARTTLS or login, retries it with backoff until
    ``max_attempts`` tries have failed. With no SMTP host configured nothing
    is sent and emails stay pending. STARTTLS verifies the server's
    certificate against ``tls_context``, by default the system's CA store.
    """
    if not settings.smtp_host:
        log.debug("no SMTP host configured: outbox emails stay pending")
        return DeliveryReport(enabled=False)

    if batch_size < 1 or max_attempts < 1 or timeout <= 0:
        raise ValueError(
            f"batch_size={batch_size}, max_attempts={max_attempts}, timeout={timeout}: batch_size and max_attempts must be at least 1, timeout above 0"
        )

    report = DeliveryReport()
    lease = max(MIN_SENDING_LEASE, timedelta(seconds=timeout * LEASE_PER_TIMEOUT))
    connection: smtplib.SMTP | None = None
    try:
        for _ in range(batch_size):
            claim = _claim_next(session_factory, now or clock.now(), lease)
            if claim is None:
                break

            if connection is None:
                try:
                    connection = _connect(settings, timeout, tls_context or ssl.create_default_context())
                except (OSError, smtplib.SMTPException) as error:
                    # A refused login or STARTTLS is a setting to fix, not a verdict on this email, so it is retried.
                    log.warning("SMTP connection to %s:%s failed (%s): stopping this delivery pass", settings.smtp_host, settings.smtp_port, _describe(error))
                    _record_failure(session_factory, claim, now, max_attempts, permanent=False, error=error, report=report)
                    break

            try:
                connection.send_message(_build_message(claim, settings.smtp_sender, now or clock.now()))
            except (OSError, smtplib.SMTPException) as error:
                connection.close()
                connection = None
                _record_failure(session_factory, claim, now, max_attempts, permanent=_is_permanent(error), error=error, report=report)
            else:
                _record_sent(session_factory, claim, now, report)
    finally:
        if connection is not None:
            _quit(connection)

    level = logging.INFO if report.sent or report.retrying or report.failed else logging.DEBUG
    log.log(level, "outbox delivery pass: %s sent, %s retrying, %s failed", len(report.sent), len(report.retrying), len(report.failed))

    return report


def _claim_next(session_factory: sessionmaker[Session], now: datetime, lease: timedelta) -> _Claim | None:
    """Mark the next due email as ``sending`` for ``lease``, count the attempt and return a copy (None when nothing is due)."""
    due = sa.and_(OutboxEmail.status.in_(("pending", "sending")), OutboxEmail.next_attempt_at <= now)
    claim_values = {"status": "sending", "attempts": OutboxEmail.attempts + 1, "next_attempt_at": now + lease}

    with session_factory.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            locked = (
                sa.select(OutboxEmail.id)
                .where(due)
                .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            email_id = session.execute(locked).scalar_one_or_none()
            if email_id is None:
                return None

            session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == email_id).values(**claim_values))
        else:
            # SQLite has one writer at a time, so the first statement of the transaction is a write:
            # a read first would pin a snapshot that another deliverer's commit makes stale.
            first_due = sa.select(OutboxEmail.id).where(due).order_by(OutboxEmail.next_attempt_at, OutboxEmail.id).limit(1).scalar_subquery()
            claimed = sa.update(OutboxEmail).where(OutboxEmail.id == first_due, due).values(**claim_values).returning(OutboxEmail.id)
            email_id = session.execute(claimed).scalar_one_or_none()
            if email_id is None:
                return None

        row = session.execute(sa.select(OutboxEmail).where(OutboxEmail.id == email_id)).scalar_one()

        return _Claim(row.id, row.attempts, row.recipient, row.subject, row.body_text, row.body_html, row.created_at)


def _connect(settings: SmtpSettings, timeout: float, tls_context: ssl.SSLContext) -> smtplib.SMTP:
    connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_starttls:
            connection.starttls(context=tls_context)
        if settings.smtp_user:
            connection.login(settings.smtp_user, settings.smtp_password or "")
    except (OSError, smtplib.SMTPException):
        # Closed without QUIT: after a failed STARTTLS the server may still wait for a TLS handshake.
        connection.close()
        raise

    return connection


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


def _build_message(claim: _Claim, sender: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = claim.recipient
    message["Subject"] = claim.subject
    message["Date"] = format_datetime(now)
    # A stable Message-ID lets mail clients merge the rare duplicate left by a deliverer that died after sending.
    domain = sender.rpartition("@")[2].strip(" >") or "careplace.invalid"
    message["Message-ID"] = f"<outbox-{claim.id}-{claim.created_at:%Y%m%d%H%M%S%f}@{domain}>"
    message.set_content(claim.body_text)
    message.add_alternative(claim.body_html, subtype="html")

    return message


def _is_permanent(error: Exception) -> bool:
    """Return True for a 5xx SMTP reply, which no retry will change (unknown mailbox, rejected sender or content)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())

    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600

    return False


def _describe(error: Exception) -> str:
    """Summarise an SMTP failure for logs: the error type and reply code, never the server's text, which may quote the address."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        return f"{type(error).__name__} {', '.join(str(code) for code in codes)}"

    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} {error.smtp_code}"

    return type(error).__name__


def _error_detail(error: Exception) -> str:
    """Describe an SMTP failure for ``last_error``, which only staff read: the summary plus the server's reply text."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = {_decode(reply) for _, reply in error.recipients.values()}
        return f"{_describe(error)}: {'; '.join(sorted(replies))}"

    if isinstance(error, smtplib.SMTPResponseException):
        return f"{_describe(error)}: {_decode(error.smtp_error)}"

    return f"{_describe(error)}: {error}"


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _finish(session_factory: sessionmaker[Session], claim: _Claim, values: dict) -> bool:
    """Apply ``values`` to the claimed email unless another deliverer re-claimed it after the lease ran out."""
    with session_factory.begin() as session:
        result = session.execute(
            sa.update(OutboxEmail)
            .where(OutboxEmail.id == claim.id, OutboxEmail.status == "sending", OutboxEmail.attempts == claim.attempts)
            .values(**values)
        )

        return result.rowcount == 1


def _record_sent(session_factory: sessionmaker[Session], claim: _Claim, now: datetime | None, report: DeliveryReport) -> None:
    sent_at = now or clock.now()
    if _finish(session_factory, claim, {"status": "sent", "sent_at": sent_at, "next_attempt_at": None}):
        log.debug("outbox email %s sent on attempt %s", claim.id, claim.attempts)
        report.sent.append(claim.id)
        return

    log.warning("outbox email %s was sent after its lease ran out; another deliverer may send it again", claim.id)
    report.lost_claims.append(claim.id)


def _record_failure(
    session_factory: sessionmaker[Session],
    claim: _Claim,
    now: datetime | None,
    max_attempts: int,
    *,
    permanent: bool,
    error: Exception,
    report: DeliveryReport,
) -> None:
    at = now or clock.now()
    summary = _describe(error)
    if permanent or claim.attempts >= max_attempts:
        reason = "permanent SMTP error" if permanent else f"{max_attempts} attempts"
        values = {"status": "failed", "next_attempt_at": None, "last_error": f"{reason}: {_error_detail(error)}"}
        if _finish(session_factory, claim, values):
            log.warning("outbox email %s failed after attempt %s (%s): staff can retry it from the failed list", claim.id, claim.attempts, summary)
            report.failed.append(claim.id)
            return
    else:
        retry_at = at + retry_delay(claim.attempts)
        values = {"status": "pending", "next_attempt_at": retry_at, "last_error": f"attempt {claim.attempts}: {_error_detail(error)}"}
        if _finish(session_factory, claim, values):
            log.info("outbox email %s attempt %s failed (%s); retrying at %s", claim.id, claim.attempts, summary, retry_at.isoformat())
            report.retrying.append(claim.id)
            return

    log.warning("outbox email %s lost its claim before its failure was recorded; another deliverer owns it", claim.id)
    report.lost_claims.append(claim.id)


def list_outbox(session: Session, status: str | None = None, limit: int = 50, offset: int = 0) -> list[OutboxEmail]:
    """Return outbox emails for the dev mailbox page, newest first, and only those in ``status`` when it is given."""
    if status is not None and status not in EMAIL_STATUSES:
        raise ValueError(f"unknown outbox status {status!r}: use one of {', '.join(EMAIL_STATUSES)}")

    query = sa.select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(OutboxEmail.status == status)

    return list(session.scalars(query))


def list_failed(session: Session, limit: int = 100, offset: int = 0) -> list[OutboxEmail]:
    """Return the emails that failed permanently, oldest first, for staff to fix and retry."""
    query = sa.select(OutboxEmail).where(OutboxEmail.status == "failed").order_by(OutboxEmail.id).limit(limit).offset(offset)

    return list(session.scalars(query))


def retry_failed(session: Session, email_id: int, actor: str) -> OutboxEmail:
    """Put a failed email back in the queue with a fresh attempt count, and audit who did it.

    Changes ``session`` only; the caller commits. Raises NotFoundError for an
    unknown id and ConflictError when the email is not in ``failed`` status.
    """
    email = session.get(OutboxEmail, email_id, with_for_update=True)
    if email is None:
        raise NotFoundError("outbox email", email_id)

    if email.status != "failed":
        raise ConflictError(f"outbox email {email_id} is {email.status}, not failed: reload the failed list")

    now = clock.now()
    email.status = "pending"
    email.attempts = 0
    email.next_attempt_at = now
    audit.record(session, "outbox.retry", actor, instance_id=email.instance_id, task_id=email.task_id, email_id=email_id)
    log.info("outbox email %s queued again by staff", email_id)

    return email

"""Tests of outbox delivery against a real SMTP server (aiosmtpd) on loopback."""

import asyncio
import logging
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from care.models.messaging import OutboxEmail
from careplace.db import make_db_engine, make_session_factory
from engine import clock
from engine.errors import ConflictError, NotFoundError
from engine.models import AuditEvent
from handlers import email, outbox
from handlers.config import HandlerSettings

BASE_URL = "https://careplace.example.org"
SMTP_LOGIN = "careplace-test"
SMTP_PASSWORD = "made-up-test-password"

VARIABLES = {
    "provider_name": "Larkspur Home Care Ltd",
    "care_manager_name": "Morwenna Pike",
    "enquiry_reference": "ENQ-000123",
    "postcode_district": "ZZ1",
    "respond_by": "2026-12-11",
    "start_date": "2027-01-04",
    "suspended_from": "2027-02-01",
    "resumed_from": "2027-02-15",
    "live_from": "2027-01-20",
    "amount": "1234.50",
    "payment_date": "2027-03-05",
    "payment_reference": "RUN-2027-03",
    "workshop_start": "2027-01-12T10:00:00+00:00",
    "workshop_venue": "Online (Teams)",
}


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class RecordingHandler:
    """An aiosmtpd handler that stores each message and rejects the recipients listed in ``rcpt_replies``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}
        self.delay = 0.0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]

        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self, **smtp_options) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.smtp_options = smtp_options
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.smtp_options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_LOGIN.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=valid, handled=False)


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(smtp_server) -> HandlerSettings:
    return HandlerSettings(
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        smtp_user="",
        smtp_password="",
        smtp_sender="careplace@council.example",
        public_base_url=BASE_URL,
    )


def queue(session_factory, key: str, to: str = "office@larkspur.example", template: str = "enquiry_new", link_path: str = "/provider/enquiries/12") -> int:
    with session_factory.begin() as session:
        return email.queue_email(
            session, to=to, template=template, context=VARIABLES, link_path=link_path, idempotency_key=key, base_url=BASE_URL
        )


def load(session_factory, email_id: int) -> OutboxEmail:
    with session_factory() as session:
        return session.get(OutboxEmail, email_id)


def body_parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_deliver_outbox_sends_every_template(session_factory, settings, smtp_server):
    expected = {}
    for number, template in enumerate(email.TEMPLATE_NAMES):
        to = f"{template}@larkspur.example"
        email_id = queue(session_factory, f"template-{template}", to=to, template=template, link_path=f"/tasks/{number}")
        expected[to] = (load(session_factory, email_id).subject, f"{BASE_URL}/tasks/{number}")

    report = outbox.deliver_outbox(session_factory, settings)

    assert len(report.sent) == len(email.TEMPLATE_NAMES)
    assert report.retrying == report.failed == []
    assert len(smtp_server.received) == len(email.TEMPLATE_NAMES)
    for received in smtp_server.received:
        (to,) = received.rcpt_tos
        subject, link = expected[to]
        text, html = body_parts(received.message)
        assert received.message["To"] == to
        assert received.message["From"] == "careplace@council.example"
        assert received.message["Subject"].strip() == subject
        assert received.mail_from == "careplace@council.example"
        assert link in text
        assert f'href="{link}"' in html


def test_deliver_outbox_marks_sent(session_factory, settings, smtp_server):
    email_id = queue(session_factory, "sent-1")

    outbox.deliver_outbox(session_factory, settings)
    row = load(session_factory, email_id)

    assert row.status == "sent"
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.next_attempt_at is None
    assert smtp_server.received[0].message["Message-ID"].startswith(f"<outbox-{email_id}-")
    assert outbox.deliver_outbox(session_factory, settings).sent == []
    assert len(smtp_server.received) == 1


def test_deliver_outbox_outage_then_recovery(session_factory, settings, smtp_server):
    ids = [queue(session_factory, f"outage-{number}", to=f"office{number}@larkspur.example") for number in range(3)]
    smtp_server.stop()

    during = outbox.deliver_outbox(session_factory, settings)

    assert during.sent == []
    assert len(during.retrying) == 1
    assert [load(session_factory, email_id).status for email_id in ids] == ["pending"] * 3
    first = load(session_factory, during.retrying[0])
    assert first.attempts == 1
    assert "ConnectionRefusedError" in first.last_error

    smtp_server.start()
    too_early = outbox.deliver_outbox(session_factory, settings)
    after = outbox.deliver_outbox(session_factory, settings, now=clock.now() + timedelta(minutes=2))
    again = outbox.deliver_outbox(session_factory, settings, now=clock.now() + timedelta(minutes=10))

    assert sorted(too_early.sent + after.sent) == sorted(ids)
    assert again.sent == []
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [f"office{number}@larkspur.example" for number in range(3)]
    assert [load(session_factory, email_id).status for email_id in ids] == ["sent"] * 3


def test_deliver_outbox_permanent_rejection_fails(session_factory, settings, smtp_server):
    smtp_server.handler.rcpt_replies["gone@larkspur.example"] = "550 5.1.1 Mailbox unavailable"
    rejected = queue(session_factory, "reject-1", to="gone@larkspur.example")
    accepted = queue(session_factory, "reject-2")

    report = outbox.deliver_outbox(session_factory, settings)

    assert report.failed == [rejected]
    assert report.sent == [accepted]
    row = load(session_factory, rejected)
    assert row.status == "failed"
    assert row.next_attempt_at is None
    assert "550" in row.last_error
    assert "Mailbox unavailable" in row.last_error
    with session_factory() as session:
        assert [failed.id for failed in outbox.list_failed(session)] == [rejected]
        assert [failed.id for failed in outbox.list_outbox(session, status="failed")] == [rejected]


def test_retry_failed_requeues_and_audits(session_factory, settings, smtp_server):
    smtp_server.handler.rcpt_replies["gone@larkspur.example"] = "550 5.1.1 Mailbox unavailable"
    email_id = queue(session_factory, "retry-1", to="gone@larkspur.example")
    outbox.deliver_outbox(session_factory, settings)
    del smtp_server.handler.rcpt_replies["gone@larkspur.example"]

    with session_factory.begin() as session:
        outbox.retry_failed(session, email_id, "user:41")
    requeued = load(session_factory, email_id)
    report = outbox.deliver_outbox(session_factory, settings)

    assert requeued.status == "pending"
    assert requeued.attempts == 0
    assert report.sent == [email_id]
    assert len(smtp_server.received) == 1
    with session_factory() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "outbox.retry")).one()
        assert outbox.list_failed(session) == []
    assert event.actor == "user:41"
    assert event.detail == {"email_id": email_id}


def test_retry_failed_rejects_other_status(session_factory):
    email_id = queue(session_factory, "retry-pending")

    with session_factory() as session:
        with pytest.raises(ConflictError, match="is pending, not failed"):
            outbox.retry_failed(session, email_id, "user:41")
        with pytest.raises(NotFoundError, match="outbox email 999"):
            outbox.retry_failed(session, 999, "user:41")


def test_deliver_outbox_temporary_rejection_retries(session_factory, settings, smtp_server):
    smtp_server.handler.rcpt_replies["busy@larkspur.example"] = "451 4.3.0 Try again later"
    email_id = queue(session_factory, "busy-1", to="busy@larkspur.example")
    before = clock.now()

    report = outbox.deliver_outbox(session_factory, settings)
    row = load(session_factory, email_id)

    assert report.retrying == [email_id]
    assert row.status == "pending"
    assert row.attempts == 1
    assert before + timedelta(minutes=1) <= row.next_attempt_at <= clock.now() + timedelta(minutes=1)
    assert "451" in row.last_error


def test_deliver_outbox_gives_up_after_max_attempts(session_factory, settings, smtp_server):
    email_id = queue(session_factory, "give-up-1")
    smtp_server.stop()
    start = clock.now()

    first = outbox.deliver_outbox(session_factory, settings, now=start, max_attempts=2)
    second = outbox.deliver_outbox(session_factory, settings, now=start + timedelta(minutes=1), max_attempts=2)
    row = load(session_factory, email_id)

    assert first.retrying == [email_id]
    assert second.failed == [email_id]
    assert row.status == "failed"
    assert row.attempts == 2
    assert row.last_error.startswith("2 attempts")


def test_deliver_outbox_skips_not_due(session_factory, settings, smtp_server):
    email_id = queue(session_factory, "later-1")

    report = outbox.deliver_outbox(session_factory, settings, now=clock.now() - timedelta(minutes=5))

    assert report.sent == []
    assert load(session_factory, email_id).status == "pending"
    assert smtp_server.received == []


def test_deliver_outbox_reclaims_expired_lease(session_factory, settings, smtp_server):
    email_id = queue(session_factory, "stale-1")
    with session_factory.begin() as session:
        row = session.get(OutboxEmail, email_id)
        row.status = "sending"
        row.attempts = 1
        row.next_attempt_at = clock.now() - timedelta(seconds=1)

    report = outbox.deliver_outbox(session_factory, settings)

    assert report.sent == [email_id]
    assert load(session_factory, email_id).attempts == 2


def test_deliver_outbox_leaves_leased_email(session_factory, settings, smtp_server):
    email_id = queue(session_factory, "leased-1")
    with session_factory.begin() as session:
        row = session.get(OutboxEmail, email_id)
        row.status = "sending"
        row.next_attempt_at = clock.now() + timedelta(minutes=5)

    report = outbox.deliver_outbox(session_factory, settings)

    assert report.sent == []
    assert smtp_server.received == []


def test_record_outcome_lost_claim(session_factory):
    email_id = queue(session_factory, "lost-1")
    now = clock.now()
    claim = outbox._claim_next(session_factory, now, timedelta(minutes=15))
    with session_factory.begin() as session:
        session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == email_id).values(attempts=OutboxEmail.attempts + 1))
    report = outbox.DeliveryReport()

    outbox._record_sent(session_factory, claim, now, report)
    outbox._record_failure(session_factory, claim, now, 10, permanent=False, error=OSError("reset"), report=report)
    outbox._record_failure(session_factory, claim, now, 10, permanent=True, error=OSError("reset"), report=report)

    assert claim.id == email_id
    assert report.lost_claims == [email_id] * 3
    assert report.sent == report.retrying == report.failed == []
    assert load(session_factory, email_id).status == "sending"


def test_deliver_outbox_without_host_stays_pending(session_factory, settings, smtp_server):
    email_id = queue(session_factory, "embedded-1")

    report = outbox.deliver_outbox(session_factory, replace(settings, smtp_host=""))

    assert report.enabled is False
    assert load(session_factory, email_id).status == "pending"
    with session_factory() as session:
        assert [row.id for row in outbox.list_outbox(session, status="pending")] == [email_id]


def test_deliver_outbox_rejects_bad_options(session_factory, settings):
    with pytest.raises(ValueError, match="batch_size=0"):
        outbox.deliver_outbox(session_factory, settings, batch_size=0)


def test_deliver_outbox_batch_size_limits(session_factory, settings, smtp_server):
    for number in range(3):
        queue(session_factory, f"batch-{number}")

    first = outbox.deliver_outbox(session_factory, settings, batch_size=2)
    second = outbox.deliver_outbox(session_factory, settings, batch_size=2)

    assert len(first.sent) == 2
    assert len(second.sent) == 1


def test_list_outbox_newest_first_and_paged(session_factory):
    ids = [queue(session_factory, f"list-{number}") for number in range(3)]

    with session_factory() as session:
        assert [row.id for row in outbox.list_outbox(session)] == ids[::-1]
        assert [row.id for row in outbox.list_outbox(session, limit=1, offset=1)] == [ids[1]]
        assert outbox.list_outbox(session, status="sent") == []
        with pytest.raises(ValueError, match="unknown outbox status 'queued'"):
            outbox.list_outbox(session, status="queued")


def test_retry_delay_doubles_and_caps():
    assert [outbox.retry_delay(attempt) for attempt in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert outbox.retry_delay(7) == timedelta(hours=1)
    assert outbox.retry_delay(30) == timedelta(hours=1)


def test_deliver_outbox_logs_no_address_or_body(session_factory, settings, smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    smtp_server.handler.rcpt_replies["gone@larkspur.example"] = "550 5.1.1 <gone@larkspur.example> unknown"
    smtp_server.handler.rcpt_replies["busy@larkspur.example"] = "451 4.3.0 <busy@larkspur.example> busy"
    ids = [
        queue(session_factory, "log-1", to="office@larkspur.example"),
        queue(session_factory, "log-2", to="gone@larkspur.example"),
        queue(session_factory, "log-3", to="busy@larkspur.example"),
    ]
    outbox.deliver_outbox(session_factory, settings)
    with session_factory.begin() as session:
        outbox.retry_failed(session, ids[1], "user:41")
    smtp_server.stop()
    outbox.deliver_outbox(session_factory, settings, now=clock.now() + timedelta(hours=1))

    project_records = [record for record in caplog.records if record.name.split(".")[0] in ("handlers", "engine", "care")]
    logged = "\n".join(record.getMessage() for record in project_records)
    assert str(ids[0]) in logged
    for secret in ("larkspur.example", "Larkspur Home Care", "ENQ-000123", "A care manager has sent you", "Mailbox", "unknown", "busy"):
        assert secret not in logged


def test_deliver_outbox_login_with_starttls(session_factory, tmp_path):
    certificate, key = make_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    server = SmtpServer(tls_context=server_context, require_starttls=True, authenticator=check_login, auth_required=True)
    server.start()
    tls_settings = HandlerSettings(
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_starttls=True,
        smtp_user=SMTP_LOGIN,
        smtp_password=SMTP_PASSWORD,
        smtp_sender="careplace@council.example",
    )
    trusting = ssl.create_default_context(cafile=str(certificate))
    email_id = queue(session_factory, "tls-1")
    try:
        untrusted = outbox.deliver_outbox(session_factory, tls_settings)
        untrusted_error = load(session_factory, email_id).last_error
        wrong_password = outbox.deliver_outbox(
            session_factory, replace(tls_settings, smtp_password="wrong"), now=clock.now() + timedelta(minutes=2), tls_context=trusting
        )
        no_starttls = outbox.deliver_outbox(
            session_factory, replace(tls_settings, smtp_starttls=False), now=clock.now() + timedelta(minutes=5), tls_context=trusting
        )
        sent = outbox.deliver_outbox(session_factory, tls_settings, now=clock.now() + timedelta(minutes=15), tls_context=trusting)
    finally:
        server.stop()

    assert untrusted.retrying == [email_id]
    assert "SSLCertVerificationError" in untrusted_error
    assert wrong_password.retrying == [email_id]
    assert no_starttls.retrying == [email_id]
    assert sent.sent == [email_id]
    assert len(server.received) == 1


def make_certificate(folder) -> tuple:
    """Make a self-signed certificate for 127.0.0.1 with the openssl command."""
    certificate = folder / "cert.pem"
    key = folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(certificate),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


@pytest.mark.postgres
def test_deliver_outbox_concurrent_deliverers_send_once(pg_url, smtp_server):
    settings = HandlerSettings(
        smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_starttls=False, smtp_sender="careplace@council.example", public_base_url=BASE_URL
    )
    smtp_server.handler.delay = 0.005
    engines = [make_db_engine(pg_url) for _ in range(2)]
    factories = [make_session_factory(db_engine) for db_engine in engines]
    ids = [queue(factories[0], f"concurrent-{number}", to=f"office{number}@larkspur.example") for number in range(60)]
    start = threading.Barrier(2)
    reports: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def deliver(index: int) -> None:
        try:
            start.wait()
            while True:
                report = outbox.deliver_outbox(factories[index], settings, batch_size=7)
                reports[index].extend(report.sent)
                if not report.sent:
                    return
        except BaseException as error:  # noqa: BLE001  (re-raised in the main thread below)
            errors.append(error)

    workers = [threading.Thread(target=deliver, args=(index,)) for index in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert errors == []
    assert reports[0] and reports[1]
    assert set(reports[0]).isdisjoint(reports[1])
    assert sorted(reports[0] + reports[1]) == sorted(ids)
    recipients = [received.rcpt_tos[0] for received in smtp_server.received]
    assert len(recipients) == 60
    assert len(set(recipients)) == 60
    with factories[0]() as session:
        assert session.scalar(sa.select(sa.func.count()).where(OutboxEmail.status == "sent")) == 60
    for db_engine in engines:
        db_engine.dispose()

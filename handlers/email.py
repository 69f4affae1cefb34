"""Transactional email: Jinja templates, the outbox writer ``queue_email`` and the ``email.send`` topic."""

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol

import jinja2
from jinja2 import meta
from sqlalchemy.orm import Session

from care.models.messaging import OutboxEmail, insert_once
from engine import clock
from engine.handler_api import HandlerContext, HandlerRegistry

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).with_name("templates")

# The recipient and the occasion of each template, as the analyst guide lists them.
TEMPLATES: dict[str, str] = {
    "provider_information_pack": "provider: the approval criteria and an invitation to apply",
    "access_instructions": "provider: how to log in, set up the profile and the PayPal payee account",
    "workshop_invitation": "provider: an invitation to the onboarding workshop",
    "go_live": "provider: the provider is approved and live on Care Place",
    "enquiry_new": "provider: a new enquiry to respond to",
    "enquiry_reminder": "provider: a reminder before the respond-by date of an enquiry",
    "follow_up_call_due": "care manager: phone a provider that did not respond by the respond-by date",
    "enquiry_note_question": "care manager: a provider added a question to an enquiry and waits for the answer",
    "enquiry_note_from_council": "provider: the council added a note or an answer to an enquiry",
    "enquiry_escalation": "provider services team: a non-response the care manager could not resolve",
    "selection_provisional": "provider: provisionally selected, waiting for the care manager to confirm the start",
    "selection_confirmed": "provider: selection confirmed, with the start date",
    "selection_not_selected": "provider: another provider was selected",
    "package_suspended": "provider: a care package is suspended and its payments pause",
    "package_resumed": "provider: a suspended care package resumes",
    "remittance": "provider: the date and amount of a payment",
    "payout_unclaimed": "provider: a PayPal payout was not claimed",
}
TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATES)

# Variables every template gets without the caller passing them.
AUTOMATIC_VARIABLES = frozenset({"link", "subject"})

# An outward code such as "ZZ1" or "ZZ10A": emails may name the district, never a full postcode.
POSTCODE_DISTRICT = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")
LINK_PATH = re.compile(r"/[A-Za-z0-9/_.~%?=&#-]*")
MAX_SUBJECT_LENGTH = 255


class PublicUrlSettings(Protocol):
    public_base_url: str


@dataclass(frozen=True)
class RenderedEmail:
    """One email ready for the outbox: a single-line subject, both bodies and the absolute link."""

    subject: str
    text: str
    html: str
    link: str


def format_long_date(value: date | datetime | str) -> str:
    """Format a date (or an ISO 8601 string) the British way, such as 'Friday 4 December 2026'."""
    day = _as_date_or_datetime(value)
    if isinstance(day, datetime):
        day = day.astimezone(clock.LONDON).date() if day.tzinfo else day.date()

    return f"{day:%A} {day.day} {day:%B %Y}"


def format_long_datetime(value: datetime | str) -> str:
    """Format a date and time in London time, such as 'Friday 4 December 2026 at 10:30'."""
    moment = _as_date_or_datetime(value)
    if not isinstance(moment, datetime):
        raise ValueError(f"{value!r} has no time of day: pass an ISO 8601 date and time such as 2026-12-04T10:30:00+00:00")

    if moment.tzinfo is not None:
        moment = moment.astimezone(clock.LONDON)

    return f"{format_long_date(moment.date())} at {moment:%H:%M}"


def format_money(value: Decimal | int | str) -> str:
    """Format an amount in pounds with pence, such as '£1,234.50'."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"amount {value!r} is not exact: pass a Decimal, an integer or a string such as '1234.50'")

    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as error:
        raise ValueError(f"amount {value!r} is not a number: pass a Decimal, an integer or a string such as '1234.50'") from error

    return f"£{amount:,.2f}"


def _as_date_or_datetime(value: date | datetime | str) -> date | datetime:
    if isinstance(value, date):
        return value

    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date: pass a date or an ISO 8601 string such as 2026-12-04")

    try:
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a date: pass a date or an ISO 8601 string such as 2026-12-04") from error


def _make_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["long_date"] = format_long_date
    environment.filters["long_datetime"] = format_long_datetime
    environment.filters["money"] = format_money

    return environment


ENVIRONMENT = _make_environment()


def check_template_name(template: str) -> None:
    """Raise ValueError unless ``template`` is one of ``TEMPLATE_NAMES``, because a diagram that names another has a bug."""
    if template not in TEMPLATES:
        known = ", ".join(TEMPLATE_NAMES)
        raise ValueError(f"unknown email template {template!r}: use one of {known}")


def template_variables(template: str) -> frozenset[str]:
    """Return the variables that ``template`` needs from the caller, for the linter and the analyst guide."""
    check_template_name(template)
    names: set[str] = set()
    for suffix in ("txt", "html"):
        source, _, _ = ENVIRONMENT.loader.get_source(ENVIRONMENT, f"email/{template}.{suffix}")
        names |= meta.find_undeclared_variables(ENVIRONMENT.parse(source))

    return frozenset(names - AUTOMATIC_VARIABLES)


def build_link(base_url: str, link_path: str) -> str:
    """Join ``public_base_url`` and a path inside Care Place, such as '/provider/enquiries/12'."""
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"public base URL {base_url!r} is invalid: set CAREPLACE_PUBLIC_BASE_URL to an http(s) URL")

    check_link_path(link_path)

    return base_url.rstrip("/") + link_path


def check_link_path(link_path: str) -> None:
    """Raise ValueError unless ``link_path`` is a path inside Care Place (one leading slash, no host, no spaces)."""
    if not isinstance(link_path, str) or link_path.startswith("//") or not LINK_PATH.fullmatch(link_path):
        raise ValueError(f"link path {link_path!r} is invalid: pass a path inside Care Place such as '/provider/enquiries/12'")


def render_email(template: str, variables: dict[str, Any], link: str) -> RenderedEmail:
    """Render the subject, plain text and HTML of ``template`` with ``variables`` and the deep ``link``."""
    check_template_name(template)
    missing = sorted(template_variables(template) - set(variables))
    if missing:
        raise ValueError(f"email template {template!r} needs the variables {', '.join(missing)}: add them to 'variables'")

    district = variables.get("postcode_district")
    if district is not None and not POSTCODE_DISTRICT.fullmatch(str(district)):
        raise ValueError(
            "postcode_district must be a postcode district such as 'ZZ1', never a full postcode: "
            "emails carry no more of a service user's address than the district"
        )

    context = {**variables, "link": link}
    text_template = ENVIRONMENT.get_template(f"email/{template}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(context)))
    subject = " ".join(subject.split())
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise ValueError(f"email template {template!r} rendered a subject of {len(subject)} characters: keep it between 1 and {MAX_SUBJECT_LENGTH}")

    context["subject"] = subject
    text = text_template.render(context)
    html = ENVIRONMENT.get_template(f"email/{template}.html").render(context)

    return RenderedEmail(subject=subject, text=text, html=html, link=link)


def check_address(address: str) -> None:
    """Raise ValueError unless ``address`` is one plain email address.

    The error message leaves the address out, because it is personal data.
    """
    if not isinstance(address, str) or len(address) > 320 or any(c in address for c in "\r\n"):
        raise ValueError("recipient email address is invalid: pass one address such as 'office@example.org'")

    _, parsed = parseaddr(address)
    local, _, domain = parsed.rpartition("@")
    if parsed != address.strip() or not local or "." not in domain or " " in parsed:
        raise ValueError("recipient email address is invalid: pass one address such as 'office@example.org'")


def queue_email(
    session: Session,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    link_path: str,
    idempotency_key: str,
    base_url: str,
    instance_id: str | None = None,
    task_id: str | None = None,
) -> int:
    """Render an email, write it to the outbox in ``session`` and return its id.

    The row commits or rolls back with the caller's transaction, and nothing
    talks to SMTP here: ``handlers.outbox.deliver_outbox`` sends it later.
    A second call with the same ``idempotency_key`` writes nothing and
    returns the id of the first email.
    """
    check_address(to)
    if not idempotency_key:
        raise ValueError("idempotency key is empty: pass one that is the same on every retry, such as instance id plus task id")

    rendered = render_email(template, context, build_link(base_url, link_path))
    now = clock.now()
    email_id = insert_once(
        session,
        OutboxEmail,
        {
            "created_at": now,
            "recipient": to.strip(),
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "template": template,
            "link": rendered.link,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "idempotency_key": idempotency_key,
            "instance_id": instance_id,
            "task_id": task_id,
        },
    )
    log.debug("outbox email %s queued from template %s (instance %s, task %s)", email_id, template, instance_id, task_id)

    return email_id


def register(registry: HandlerRegistry, settings: PublicUrlSettings) -> None:
    """Register the ``email.send`` topic, which writes one outbox email per service task."""

    @registry.topic(
        "email.send",
        description="Queue a templated email in the same transaction as the task; the worker delivers it over SMTP.",
        inputs={
            "to": "recipient email address (one address)",
            "template": "template name, one of: " + ", ".join(TEMPLATE_NAMES),
            "link_path": "path inside Care Place that the email links to, such as /provider/enquiries/12",
            "variables": "dict of template variables; handlers.email.template_variables(name) lists what each template needs",
        },
        outputs={"email_id": "id of the outbox email (the same id on every retry of the task)"},
        errors={
            "ValueError": "unknown template, missing variable or input, invalid address or link path, "
            "or a full postcode in postcode_district, so the task becomes an incident to fix in the diagram or data",
        },
    )
    def send_email(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        missing = [name for name in ("to", "template", "link_path") if not inputs.get(name)]
        if missing:
            raise ValueError(f"email.send task {context.element_id!r} is missing the inputs {', '.join(missing)}: map them in the diagram")

        variables = inputs.get("variables") or {}
        if not isinstance(variables, dict):
            raise ValueError(f"email.send task {context.element_id!r}: 'variables' must be a dict of template variables")

        email_id = queue_email(
            context.session,
            to=inputs["to"],
            template=inputs["template"],
            context=variables,
            link_path=inputs["link_path"],
            idempotency_key=context.idempotency_key,
            base_url=settings.public_base_url,
            instance_id=context.instance_id,
            task_id=context.task_id,
        )

        return {"email_id": email_id}

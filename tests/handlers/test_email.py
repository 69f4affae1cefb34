"""Tests of email rendering, the outbox writer and the email.send topic."""

import threading
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.models.messaging import OutboxEmail
from careplace.db import make_db_engine, make_session_factory
from engine import clock
from engine.handler_api import HandlerContext, HandlerRegistry
from handlers import email
from handlers.config import HandlerSettings

BASE_URL = "https://careplace.example.org"

SAMPLE_VARIABLES = {
    "provider_name": "Larkspur Home Care Ltd",
    "care_manager_name": "Morwenna Pike",
    "enquiry_reference": "ENQ-000123",
    "postcode_district": "ZZ1",
    "respond_by": "2026-12-11",
    "start_date": date(2027, 1, 4),
    "suspended_from": "2027-02-01",
    "resumed_from": "2027-02-15",
    "live_from": "2027-01-20",
    "amount": "1234.5",
    "payment_date": "2027-03-05",
    "payment_reference": "RUN-2027-03",
    "workshop_start": "2027-01-12T10:00:00+00:00",
    "workshop_venue": "Online (Teams)",
}

# Variables that would carry a service user's personal data; no template may print them.
PERSONAL_VARIABLES = {
    "service_user_name": "Ottoline Brackenbury",
    "address": "12 Imaginary Lane, Nowhereton",
    "postcode": "ZZ1 9QX",
    "date_of_birth": "1931-02-29",
    "care_needs": "needs help with insulin injections",
}

ALLOWED_VARIABLES = set(SAMPLE_VARIABLES)


def make_context(session, task_id="task-1") -> HandlerContext:
    return HandlerContext(
        instance_id="instance-1",
        task_id=task_id,
        element_id="SendEnquiryEmail",
        topic="email.send",
        business_key="ENQ-000123",
        idempotency_key=f"instance-1:{task_id}",
        attempt=1,
        session=session,
        now=clock.now(),
    )


def queue(session, key="key-1", template="enquiry_new", to="office@larkspur.example"):
    return email.queue_email(
        session,
        to=to,
        template=template,
        context=SAMPLE_VARIABLES,
        link_path="/provider/enquiries/12",
        idempotency_key=key,
        base_url=BASE_URL,
    )


@pytest.mark.parametrize("template", email.TEMPLATE_NAMES)
def test_render_email_every_template(template):
    rendered = email.render_email(template, SAMPLE_VARIABLES, BASE_URL + "/provider/enquiries/12")

    assert rendered.subject
    assert "\n" not in rendered.subject
    assert BASE_URL + "/provider/enquiries/12" in rendered.text
    assert 'href="https://careplace.example.org/provider/enquiries/12"' in rendered.html
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert 'lang="en-GB"' in rendered.html
    assert f"<title>{rendered.subject}</title>" in rendered.html
    assert "{{" not in rendered.text + rendered.html
    assert "Larkspur Home Care Ltd" in rendered.text or "Morwenna Pike" in rendered.text or template == "enquiry_escalation"


@pytest.mark.parametrize("template", email.TEMPLATE_NAMES)
def test_render_email_no_personal_data(template):
    rendered = email.render_email(template, {**SAMPLE_VARIABLES, **PERSONAL_VARIABLES}, BASE_URL + "/tasks/7")

    for value in PERSONAL_VARIABLES.values():
        assert value not in rendered.subject + rendered.text + rendered.html
    assert email.template_variables(template) <= ALLOWED_VARIABLES


def test_template_names_match_files():
    files = {path.name.rsplit(".", 1)[0] for path in (email.TEMPLATE_DIR / "email").iterdir() if not path.name.startswith("_")}
    suffixes = {path.suffix for path in (email.TEMPLATE_DIR / "email").iterdir()}

    assert files == set(email.TEMPLATE_NAMES)
    assert suffixes == {".txt", ".html"}
    for name in email.TEMPLATE_NAMES:
        assert (email.TEMPLATE_DIR / "email" / f"{name}.txt").is_file()
        assert (email.TEMPLATE_DIR / "email" / f"{name}.html").is_file()


def test_render_email_escapes_html_only():
    variables = {**SAMPLE_VARIABLES, "provider_name": "<b>Fennel & Daughters</b>"}

    rendered = email.render_email("selection_not_selected", variables, BASE_URL + "/provider/enquiries/12")

    assert "&lt;b&gt;Fennel &amp; Daughters&lt;/b&gt;" in rendered.html
    assert "<b>Fennel" not in rendered.html
    assert "<b>Fennel & Daughters</b>" in rendered.text


def test_render_email_unknown_template_lists_known():
    with pytest.raises(ValueError) as raised:
        email.render_email("enquiry_nwe", SAMPLE_VARIABLES, BASE_URL + "/")

    assert "'enquiry_nwe'" in str(raised.value)
    assert "enquiry_new" in str(raised.value)
    assert "remittance" in str(raised.value)


def test_render_email_missing_variable_named():
    variables = {key: value for key, value in SAMPLE_VARIABLES.items() if key != "respond_by"}

    with pytest.raises(ValueError, match="respond_by"):
        email.render_email("enquiry_reminder", variables, BASE_URL + "/")


@pytest.mark.parametrize("district", ["ZZ1 9QX", "ZZ19QX", "zz1", "", "Nowhereton"])
def test_render_email_rejects_non_district(district):
    with pytest.raises(ValueError, match="postcode district"):
        email.render_email("enquiry_new", {**SAMPLE_VARIABLES, "postcode_district": district}, BASE_URL + "/")


def test_template_variables_lists_needs():
    assert email.template_variables("enquiry_new") == {"provider_name", "enquiry_reference", "postcode_district", "respond_by"}
    assert email.template_variables("remittance") == {"provider_name", "amount", "payment_date", "payment_reference"}


def test_build_link_joins_base_and_path():
    assert email.build_link("https://careplace.example.org/", "/tasks/42") == "https://careplace.example.org/tasks/42"
    assert email.build_link("http://127.0.0.1:5000", "/provider/enquiries/7?tab=notes") == "http://127.0.0.1:5000/provider/enquiries/7?tab=notes"


@pytest.mark.parametrize("path", ["//elsewhere.example/x", "https://elsewhere.example/", "tasks/1", "/tasks/1 2", "/tasks/\n1", ""])
def test_build_link_rejects_bad_path(path):
    with pytest.raises(ValueError, match="link path"):
        email.build_link(BASE_URL, path)


def test_build_link_rejects_bad_base():
    with pytest.raises(ValueError, match="CAREPLACE_PUBLIC_BASE_URL"):
        email.build_link("careplace.example.org", "/tasks/1")


def test_format_money_pounds_and_pence():
    assert email.format_money("1234.5") == "£1,234.50"
    assert email.format_money(Decimal("0.456")) == "£0.46"
    assert email.format_money(20) == "£20.00"


@pytest.mark.parametrize("value", [12.5, True, "twelve", None])
def test_format_money_rejects_inexact(value):
    with pytest.raises(ValueError, match="amount"):
        email.format_money(value)


def test_format_long_date_accepts_dates_and_strings():
    assert email.format_long_date("2026-12-04") == "Friday 4 December 2026"
    assert email.format_long_date(date(2027, 1, 4)) == "Monday 4 January 2027"
    assert email.format_long_date(datetime(2027, 6, 30, 23, 30, tzinfo=timezone.utc)) == "Thursday 1 July 2027"


def test_format_long_datetime_london_time():
    assert email.format_long_datetime("2027-06-01T09:00:00+00:00") == "Tuesday 1 June 2027 at 10:00"
    assert email.format_long_datetime("2027-01-12T10:00:00+00:00") == "Tuesday 12 January 2027 at 10:00"


@pytest.mark.parametrize("value", ["2026-13-01", "next week", 20261204])
def test_format_long_date_rejects_non_dates(value):
    with pytest.raises(ValueError, match="not a date"):
        email.format_long_date(value)


def test_format_long_datetime_rejects_date_only():
    with pytest.raises(ValueError, match="no time of day"):
        email.format_long_datetime("2027-01-12")


@pytest.mark.parametrize(
    "address",
    ["", "office", "office@localhost", "a@b.example, c@d.example", "office@larkspur.example\r\nBcc: x@y.example", "Office <office@larkspur.example>", None],
)
def test_check_address_rejects_invalid(address):
    with pytest.raises(ValueError) as raised:
        email.check_address(address)

    assert "recipient email address is invalid" in str(raised.value)
    if address and "@" in address:
        assert address not in str(raised.value)


def test_queue_email_writes_pending_row(session_factory):
    with session_factory.begin() as session:
        email_id = queue(session)

    with session_factory() as session:
        row = session.get(OutboxEmail, email_id)

    assert row.status == "pending"
    assert row.recipient == "office@larkspur.example"
    assert row.subject == "New enquiry ENQ-000123 for home care in ZZ1"
    assert row.link == BASE_URL + "/provider/enquiries/12"
    assert row.template == "enquiry_new"
    assert row.attempts == 0
    assert row.next_attempt_at <= clock.now()
    assert row.created_at.tzinfo is not None


def test_queue_email_rolled_back_leaves_nothing(session_factory):
    with session_factory() as session:
        session.begin()
        queue(session)
        session.rollback()

    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == 0


def test_queue_email_same_key_once(session_factory):
    with session_factory.begin() as session:
        first = queue(session, key="instance-9:task-3")
        again = queue(session, key="instance-9:task-3")
    with session_factory.begin() as session:
        later = queue(session, key="instance-9:task-3")
        other = queue(session, key="instance-9:task-4")

    assert first == again == later
    assert other != first
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == 2


@pytest.mark.postgres
def test_queue_email_same_key_concurrent(pg_url):
    db_engine = make_db_engine(pg_url)
    factory = make_session_factory(db_engine)
    results: dict[str, int] = {}

    first = factory()
    first.begin()
    results["first"] = queue(first, key="instance-2:task-8")

    def queue_in_second_transaction():
        with factory.begin() as second:
            results["second"] = queue(second, key="instance-2:task-8")

    # The second insert waits on the first transaction's uncommitted row, then finds it.
    worker = threading.Thread(target=queue_in_second_transaction)
    worker.start()
    worker.join(0.5)
    assert worker.is_alive()
    first.commit()
    first.close()
    worker.join(10)

    assert results["second"] == results["first"]
    with factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == 1
    db_engine.dispose()


def test_queue_email_rejects_empty_key(session_factory):
    with session_factory() as session:
        with pytest.raises(ValueError, match="idempotency key"):
            queue(session, key="")


def test_email_send_topic_queues_once(session_factory):
    registry = HandlerRegistry()
    email.register(registry, HandlerSettings(public_base_url=BASE_URL))
    spec = registry.get("email.send")
    inputs = {"to": "office@larkspur.example", "template": "selection_confirmed", "link_path": "/provider/packages/5", "variables": SAMPLE_VARIABLES}

    with session_factory.begin() as session:
        first = spec.handler(inputs, make_context(session))
    with session_factory.begin() as session:
        retried = spec.handler(inputs, make_context(session))

    assert first == retried
    assert set(first) == set(spec.outputs) == {"email_id"}
    assert set(spec.inputs) == {"to", "template", "link_path", "variables"}
    assert "ValueError" in spec.errors
    with session_factory() as session:
        row = session.get(OutboxEmail, first["email_id"])
    assert row.link == BASE_URL + "/provider/packages/5"
    assert row.instance_id == "instance-1"
    assert row.task_id == "task-1"
    assert row.idempotency_key == "instance-1:task-1"


def test_email_send_topic_unknown_template(session_factory):
    registry = HandlerRegistry()
    email.register(registry, HandlerSettings(public_base_url=BASE_URL))
    inputs = {"to": "office@larkspur.example", "template": "welcome", "link_path": "/", "variables": {}}

    with session_factory() as session:
        with pytest.raises(ValueError, match="unknown email template 'welcome'"):
            registry.get("email.send").handler(inputs, make_context(session))


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"template": "go_live", "link_path": "/"}, "missing the inputs to"),
        ({"to": "office@larkspur.example", "template": "go_live"}, "missing the inputs link_path"),
        ({"to": "office@larkspur.example", "template": "go_live", "link_path": "/", "variables": ["x"]}, "must be a dict"),
    ],
)
def test_email_send_topic_bad_inputs(session_factory, inputs, message):
    registry = HandlerRegistry()
    email.register(registry, HandlerSettings(public_base_url=BASE_URL))

    with session_factory() as session:
        with pytest.raises(ValueError, match=message):
            registry.get("email.send").handler(inputs, make_context(session))

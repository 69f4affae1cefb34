"""The PayPal client and the paypal.create_payout and paypal.poll_payout topics, over real HTTP against the simulator."""

import dataclasses
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from engine.errors import BusinessError, TransientError
from engine.handler_api import HandlerRegistry
from handlers import paypal
from handlers.http import UnexpectedResponseError
from handlers.paypal_client import PayoutItem, PayPalApiError, PayPalClient, format_amount

ITEMS = [
    {"provider_id": "P-0001", "receiver_email": "accounts@brightwater.example", "amount": "125.50"},
    {"provider_id": "P-0002", "receiver_email": "finance@meadowlark.example", "amount": Decimal("980"), "note": "March visits"},
]


@pytest.fixture
def client(settings):
    client = PayPalClient(settings)
    yield client
    client.close()


@pytest.fixture
def impatient_client(settings):
    """A client whose read time-out (0.3 s) is shorter than the simulator's 1 s lost-response delay."""
    client = PayPalClient(dataclasses.replace(settings, http_read_timeout=0.3))
    yield client
    client.close()


@pytest.fixture
def topics(client):
    registry = HandlerRegistry()
    paypal.register(registry, None, client=client)
    return registry


def creator(client, make_context):
    """Return a function that runs paypal.create_payout through a registry with ``client``."""
    registry = HandlerRegistry()
    paypal.register(registry, None, client=client)
    handler = registry.get(paypal.CREATE_TOPIC).handler

    def run(run_id: str = "run-2025-04", items=None, key: str = "instance-1:task-1", attempt: int = 1):
        inputs = {"payment_run_id": run_id, "items": ITEMS if items is None else items}
        return handler(inputs, make_context(paypal.CREATE_TOPIC, key, attempt))

    return run


@pytest.fixture
def create(client, make_context):
    return creator(client, make_context)


@pytest.fixture
def poll(topics, make_context):
    def run(batch_id: str):
        return topics.get(paypal.POLL_TOPIC).handler({"payout_batch_id": batch_id}, make_context(paypal.POLL_TOPIC, "instance-1:poll-1"))

    return run


def test_create_payout_sends_gbp_amounts(sim, create):
    outputs = create()

    assert outputs["payout_batch_status"] == "PENDING"
    assert outputs["payout_already_existed"] is False
    assert outputs["payout_item_count"] == 2
    assert outputs["payout_total"] == "1105.50"
    ledger = sim.state.paypal.ledger_for("run-2025-04")
    assert [(entry["sender_item_id"], entry["amount"], entry["currency"]) for entry in ledger] == [
        ("P-0001", "125.50", "GBP"),
        ("P-0002", "980.00", "GBP"),
    ]
    assert {entry["payout_batch_id"] for entry in ledger} == {outputs["payout_batch_id"]}


def test_create_payout_sends_derived_request_id(sim, create):
    create(key="instance-7:task-3")

    assert sim.state.paypal.request_ids == [paypal.request_id_for("instance-7:task-3")]
    assert len(paypal.request_id_for("instance-7:task-3")) == 36


def test_token_cached_across_payouts(sim, create):
    create(run_id="run-a")
    create(run_id="run-b", key="instance-2:task-1")

    assert sim.state.call_count("paypal", "token") == 1
    assert sim.state.call_count("paypal", "create_payout") == 2


def test_token_refreshed_near_expiry(sim, client, restore_clock):
    start = datetime(2025, 4, 1, 9, 0, tzinfo=timezone.utc)
    expires_in = sim.state.paypal.token_expires_in
    restore_clock.set_clock(lambda: start)
    first = client.access_token()

    restore_clock.set_clock(lambda: start + timedelta(seconds=expires_in - 61))
    assert client.access_token() == first
    assert sim.state.call_count("paypal", "token") == 1

    restore_clock.set_clock(lambda: start + timedelta(seconds=expires_in - 59))
    second = client.access_token()
    assert second != first
    assert sim.state.call_count("paypal", "token") == 2


def test_token_shared_between_threads(sim, client):
    tokens = []
    threads = [threading.Thread(target=lambda: tokens.append(client.access_token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(tokens)) == 1
    assert sim.state.call_count("paypal", "token") == 1


def test_token_revoked_is_replaced(sim, client, create):
    client.access_token()
    sim.state.paypal.revoke_tokens()

    outputs = create()

    assert outputs["payout_batch_status"] == "PENDING"
    assert sim.state.call_count("paypal", "token") == 2


def test_token_bad_secret(settings):
    client = PayPalClient(dataclasses.replace(settings, paypal_secret="wrong-secret"))
    try:
        with pytest.raises(UnexpectedResponseError, match="CAREPLACE_PAYPAL_SECRET") as caught:
            client.access_token()
    finally:
        client.close()

    assert caught.value.status == 401


def test_create_payout_lost_response_pays_once(sim, impatient_client, make_context):
    sim.state.add_fault("paypal", operation="create_payout", delay_after=1.0, times=1)

    outputs = creator(impatient_client, make_context)(run_id="run-lost")

    assert sim.state.call_count("paypal", "create_payout") == 2
    assert len(sim.state.paypal.batches) == 1
    assert len(sim.state.paypal.ledger_for("run-lost")) == 2
    assert outputs["payout_batch_id"] == sim.state.paypal.batch_ids_by_sender["run-lost"]


def test_create_payout_retried_after_crash_pays_once(sim, impatient_client, make_context):
    create = creator(impatient_client, make_context)
    sim.state.add_fault("paypal", operation="create_payout", delay_after=1.0, times=3)

    with pytest.raises(TransientError, match="timed out"):
        create(run_id="run-crash", attempt=1)
    outputs = create(run_id="run-crash", attempt=2)

    assert sim.state.call_count("paypal", "create_payout") == 4
    assert len(sim.state.paypal.batches) == 1
    assert len(sim.state.paypal.ledger_for("run-crash")) == 2
    assert outputs["payout_batch_id"] == sim.state.paypal.batch_ids_by_sender["run-crash"]


def test_create_payout_reused_batch_id_returns_existing(sim, create):
    first = create(run_id="run-reused", key="instance-1:task-1")

    again = create(run_id="run-reused", key="instance-1:task-2")

    assert again["payout_batch_id"] == first["payout_batch_id"]
    assert again["payout_already_existed"] is True
    assert len(sim.state.paypal.ledger_for("run-reused")) == 2


def test_create_payout_lost_response_without_request_id_replay(sim, impatient_client, make_context):
    sim.state.paypal.honour_request_id = False
    sim.state.add_fault("paypal", operation="create_payout", delay_after=1.0, times=1)

    outputs = creator(impatient_client, make_context)(run_id="run-no-replay")

    assert outputs["payout_already_existed"] is True
    assert len(sim.state.paypal.batches) == 1
    assert len(sim.state.paypal.ledger_for("run-no-replay")) == 2


def test_create_payout_duplicate_without_link(sim, create):
    create(run_id="run-unlinked", key="instance-1:task-1")
    sim.state.paypal.link_duplicates = False

    with pytest.raises(BusinessError) as caught:
        create(run_id="run-unlinked", key="instance-1:task-2")

    assert caught.value.code == "PAYPAL_BATCH_ALREADY_EXISTS"
    assert caught.value.details["paypal_error"] == "USER_BUSINESS_ERROR"
    assert len(sim.state.paypal.ledger_for("run-unlinked")) == 2


def test_create_payout_rejected_by_paypal(sim, create):
    items = [{"provider_id": "P-0001", "receiver_email": "accounts@localhost", "amount": "10.00"}]

    with pytest.raises(BusinessError) as caught:
        create(run_id="run-rejected", items=items)

    assert caught.value.code == "PAYPAL_PAYOUT_REJECTED"
    assert caught.value.details["paypal_error"] == "VALIDATION_ERROR"
    assert caught.value.details["paypal_debug_id"]
    assert "Receiver is invalid" in caught.value.message
    assert sim.state.paypal.ledger == []


def test_create_payout_500_exhausted(sim, create):
    sim.state.add_fault("paypal", operation="create_payout", status=500)

    with pytest.raises(TransientError, match="HTTP 500"):
        create(run_id="run-500")

    assert sim.state.call_count("paypal", "create_payout") == 3


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([], "non-empty list"),
        ([{"provider_id": "P-1", "receiver_email": "a@b.example", "amount": 12.5}], "not float"),
        ([{"provider_id": "P-1", "receiver_email": "a@b.example", "amount": "12.345"}], "more than two decimal places"),
        ([{"provider_id": "P-1", "receiver_email": "a@b.example", "amount": "-5.00"}], "positive"),
        ([{"provider_id": "P-1", "receiver_email": "a@b.example", "amount": "ten"}], "is invalid"),
        ([{"provider_id": "P-1", "receiver_email": "not an email", "amount": "1.00"}], "not an email address"),
        ([{"receiver_email": "a@b.example", "amount": "1.00"}], "needs a provider_id"),
        ([{"provider_id": "P-1", "receiver_email": "a@b.example", "amount": "1.00"}] * 2, "repeats sender_item_id"),
        (["P-1"], "must be a dict"),
    ],
)
def test_create_payout_invalid_items(sim, create, items, problem):
    with pytest.raises(BusinessError, match=problem) as caught:
        create(run_id="run-invalid", items=items)

    assert caught.value.code == "PAYPAL_INVALID_INPUT"
    assert sim.state.call_count("paypal", "create_payout") == 0


def test_create_payout_too_many_items(sim, create):
    items = [{"provider_id": f"P-{index}", "receiver_email": "a@b.example", "amount": "1.00"} for index in range(15_001)]

    with pytest.raises(BusinessError, match="15,001 items exceed") as caught:
        create(run_id="run-big", items=items)

    assert caught.value.code == "PAYPAL_INVALID_INPUT"


def test_client_rejects_long_sender_batch_id(client):
    with pytest.raises(ValueError, match="1 to 256 characters"):
        client.create_payout("x" * 257, [PayoutItem("P-1", "a@b.example", Decimal("1.00"))], request_id="r", email_subject="s", email_message="m")


def test_format_amount_pads_pence():
    assert format_amount(Decimal("7")) == "7.00"
    assert format_amount(Decimal("1E+1")) == "10.00"
    assert format_amount(Decimal("0.50")) == "0.50"


def test_poll_payout_pending_then_success(create, poll):
    batch_id = create()["payout_batch_id"]

    pending = poll(batch_id)
    done = poll(batch_id)

    assert pending["payout_batch_status"] == "PENDING"
    assert pending["payout_terminal"] is False
    assert pending["payout_pending_item_ids"] == ["P-0001", "P-0002"]
    assert done["payout_batch_status"] == "SUCCESS"
    assert done["payout_terminal"] is True
    assert done["payout_succeeded_item_ids"] == ["P-0001", "P-0002"]
    assert done["payout_needs_attention"] is False


def test_poll_payout_failed_unclaimed_returned(sim, create, poll):
    items = [
        {"provider_id": "P-ok", "receiver_email": "ok@provider.example", "amount": "10.00"},
        {"provider_id": "P-failed", "receiver_email": "failed@provider.example", "amount": "11.00"},
        {"provider_id": "P-unclaimed", "receiver_email": "unclaimed@provider.example", "amount": "12.00"},
        {"provider_id": "P-returned", "receiver_email": "returned@provider.example", "amount": "13.00"},
    ]
    sim.state.paypal.set_outcome("failed@provider.example", "FAILED")
    sim.state.paypal.set_outcome("unclaimed@provider.example", "UNCLAIMED")
    response = requests.put(
        sim.base_url + "/_sim/paypal/outcomes/returned@provider.example", json={"transaction_status": "RETURNED"}, timeout=5
    )
    assert response.status_code == 200
    batch_id = create(run_id="run-mixed", items=items)["payout_batch_id"]

    poll(batch_id)
    outputs = poll(batch_id)

    assert outputs["payout_terminal"] is True
    assert outputs["payout_needs_attention"] is True
    assert outputs["payout_succeeded_item_ids"] == ["P-ok"]
    assert outputs["payout_unclaimed_item_ids"] == ["P-unclaimed"]
    failed = {item["sender_item_id"]: item for item in outputs["payout_failed_items"]}
    assert set(failed) == {"P-failed", "P-returned"}
    assert failed["P-failed"]["transaction_status"] == "FAILED"
    assert failed["P-failed"]["error"] == "RECEIVER_ACCOUNT_LOCKED"
    assert failed["P-returned"]["transaction_status"] == "RETURNED"


def test_poll_payout_item_on_hold_not_terminal(sim, create, poll):
    sim.state.paypal.set_outcome("finance@meadowlark.example", "ONHOLD")
    batch_id = create()["payout_batch_id"]

    poll(batch_id)
    outputs = poll(batch_id)

    assert outputs["payout_batch_status"] == "SUCCESS"
    assert outputs["payout_terminal"] is False
    assert outputs["payout_pending_item_ids"] == ["P-0002"]


def test_poll_payout_reads_every_page(sim, create, poll):
    items = [{"provider_id": f"P-{index:05d}", "receiver_email": "p@provider.example", "amount": "1.00"} for index in range(1_005)]
    batch_id = create(run_id="run-pages", items=items)["payout_batch_id"]

    poll(batch_id)
    outputs = poll(batch_id)

    assert outputs["payout_item_count"] == 1_005
    assert len(outputs["payout_succeeded_item_ids"]) == 1_005
    assert sim.state.call_count("paypal", "get_payout") == 4


def test_poll_payout_unknown_batch(poll):
    with pytest.raises(BusinessError) as caught:
        poll("NOSUCHBATCH01")

    assert caught.value.code == "PAYPAL_BATCH_NOT_FOUND"


def test_get_payout_raises_paypal_error(sim, client):
    sim.state.add_fault("paypal", operation="get_payout", status=404)

    with pytest.raises(PayPalApiError) as caught:
        client.get_payout("NOSUCHBATCH01")

    assert caught.value.status == 404
    assert caught.value.name == "INVALID_RESOURCE_ID"
    assert caught.value.debug_id


def test_poll_payout_forbidden_propagates(sim, create, poll):
    batch_id = create()["payout_batch_id"]
    sim.state.add_fault("paypal", operation="get_payout", status=403, times=1)

    with pytest.raises(PayPalApiError) as caught:
        poll(batch_id)

    assert caught.value.name == "NOT_AUTHORIZED"


def test_poll_payout_refreshes_rejected_token(sim, create, poll):
    batch_id = create()["payout_batch_id"]
    sim.state.add_fault("paypal", operation="get_payout", status=401, times=1)

    assert poll(batch_id)["payout_batch_status"] == "PENDING"
    assert sim.state.call_count("paypal", "token") == 2


def test_poll_payout_token_rejected_twice(sim, create, poll):
    batch_id = create()["payout_batch_id"]
    sim.state.add_fault("paypal", operation="get_payout", status=401, times=2)

    with pytest.raises(UnexpectedResponseError, match="check the PayPal credentials"):
        poll(batch_id)


def test_create_payout_forbidden_is_rejected(sim, create):
    sim.state.add_fault("paypal", operation="create_payout", status=403, times=1)

    with pytest.raises(BusinessError) as caught:
        create(run_id="run-forbidden")

    assert caught.value.code == "PAYPAL_PAYOUT_REJECTED"
    assert caught.value.details["paypal_error"] == "NOT_AUTHORIZED"


def test_create_payout_link_to_other_run(sim, create):
    other = create(run_id="run-other", key="instance-1:task-1")["payout_batch_id"]
    sim.state.paypal.batch_ids_by_sender["run-mislinked"] = other

    with pytest.raises(BusinessError, match="belongs to 'run-other'") as caught:
        create(run_id="run-mislinked", key="instance-1:task-2")

    assert caught.value.code == "PAYPAL_PAYOUT_REJECTED"
    assert sim.state.paypal.ledger_for("run-mislinked") == []

"""PayPal webhook signature verification through the simulator's verify-webhook-signature endpoint."""

import dataclasses
import json

import pytest

from engine.errors import TransientError
from handlers.http import ConfigurationError
from handlers.paypal_client import PayPalClient
from handlers.simulators import fixtures, sign_webhook

EVENT = {
    "id": "WH-0000000000000000A-00000000000000000",
    "event_type": "PAYMENT.PAYOUTS-ITEM.SUCCEEDED",
    "resource_type": "payouts_item",
    "resource": {"payout_item_id": "ITEM00000001", "payout_batch_id": "BATCH0000001", "transaction_status": "SUCCESS"},
}


@pytest.fixture
def client(settings):
    client = PayPalClient(settings)
    yield client
    client.close()


def test_verify_webhook_signature_success(sim, client):
    headers = sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID)

    assert client.verify_webhook_signature(headers, json.dumps(EVENT).encode()) is True
    assert sim.state.call_count("paypal", "verify_webhook") == 1


def test_verify_webhook_signature_header_names_any_case(client):
    headers = {name.lower(): value for name, value in sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID).items()}

    assert client.verify_webhook_signature(headers, json.dumps(EVENT)) is True


def test_verify_webhook_signature_tampered_event(client):
    headers = sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID)
    tampered = {**EVENT, "resource": {**EVENT["resource"], "transaction_status": "FAILED"}}

    assert client.verify_webhook_signature(headers, json.dumps(tampered)) is False


def test_verify_webhook_signature_other_webhook(client):
    headers = sign_webhook(EVENT, "WH-SIM-9999999999")

    assert client.verify_webhook_signature(headers, json.dumps(EVENT)) is False


def test_verify_webhook_signature_missing_header(sim, client):
    headers = sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID)
    del headers["PAYPAL-TRANSMISSION-SIG"]

    assert client.verify_webhook_signature(headers, json.dumps(EVENT)) is False
    assert sim.state.call_count("paypal", "verify_webhook") == 0


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_verify_webhook_signature_body_not_object(sim, client, body):
    assert client.verify_webhook_signature(sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID), body) is False
    assert sim.state.call_count("paypal", "verify_webhook") == 0


def test_verify_webhook_signature_rejected_request(client):
    headers = sign_webhook({}, fixtures.PAYPAL_WEBHOOK_ID)

    assert client.verify_webhook_signature(headers, b"{}") is False


def test_verify_webhook_signature_paypal_down(sim, client):
    sim.state.add_fault("paypal", operation="verify_webhook", status=503)

    with pytest.raises(TransientError, match="HTTP 503"):
        client.verify_webhook_signature(sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID), json.dumps(EVENT))


def test_verify_webhook_signature_needs_webhook_id(settings):
    client = PayPalClient(dataclasses.replace(settings, paypal_webhook_id=""))
    try:
        with pytest.raises(ConfigurationError, match="CAREPLACE_PAYPAL_WEBHOOK_ID"):
            client.verify_webhook_signature(sign_webhook(EVENT, fixtures.PAYPAL_WEBHOOK_ID), json.dumps(EVENT))
    finally:
        client.close()

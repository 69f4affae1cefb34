"""No API key, secret or access token reaches the logs, whatever the handlers do."""

import base64
import json
import logging

import pytest

from engine.errors import BusinessError
from engine.handler_api import HandlerRegistry
from handlers import charity_commission, companies_house, cqc, paypal
from handlers.simulators import fixtures, sign_webhook


@pytest.fixture
def registry(settings):
    registry = HandlerRegistry()
    clients = [
        cqc.register(registry, settings),
        companies_house.register(registry, settings),
        charity_commission.register(registry, settings),
        paypal.register(registry, settings),
    ]
    yield registry
    for client in clients:
        client.close()


def test_logs_contain_no_secrets(sim, registry, make_context, caplog):
    caplog.set_level(logging.DEBUG)
    sim.state.add_fault("cqc", status=429, retry_after=1, times=1)
    sim.state.add_fault("paypal", operation="get_payout", status=503, times=1)

    def run(topic, inputs):
        return registry.get(topic).handler(inputs, make_context(topic))

    run(cqc.TOPIC, {"cqc_provider_id": "1-000000001", "provider_name": "Brightwater Home Care Ltd"})
    run(companies_house.TOPIC, {"company_number": "09000001"})
    with pytest.raises(BusinessError):
        run(charity_commission.TOPIC, {"charity_number": "1200002"})
    items = [{"provider_id": "P-1", "receiver_email": "accounts@brightwater.example", "amount": "42.00"}]
    batch_id = run(paypal.CREATE_TOPIC, {"payment_run_id": "run-logs", "items": items})["payout_batch_id"]
    run(paypal.POLL_TOPIC, {"payout_batch_id": batch_id})
    event = {"id": "WH-LOGS", "event_type": "PAYMENT.PAYOUTSBATCH.SUCCESS"}
    client = registry.get(paypal.POLL_TOPIC).handler.args[0]
    assert client.verify_webhook_signature(sign_webhook(event, fixtures.PAYPAL_WEBHOOK_ID), json.dumps(event))

    secrets = [
        fixtures.CQC_API_KEY,
        fixtures.COMPANIES_HOUSE_API_KEY,
        fixtures.CHARITY_COMMISSION_API_KEY,
        fixtures.PAYPAL_SECRET,
        base64.b64encode(f"{fixtures.PAYPAL_CLIENT_ID}:{fixtures.PAYPAL_SECRET}".encode()).decode(),
        base64.b64encode(f"{fixtures.COMPANIES_HOUSE_API_KEY}:".encode()).decode(),
        *sim.state.paypal.issued_tokens,
    ]
    assert sim.state.paypal.issued_tokens
    assert any(record.name == "handlers.http" for record in caplog.records)
    for secret in secrets:
        assert secret not in caplog.text

    handler_messages = [record.getMessage() for record in caplog.records if record.name.startswith("handlers.")]
    assert not [message for message in handler_messages if "page_size" in message or "accounts@" in message or "42.00" in message]

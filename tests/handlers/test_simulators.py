"""The simulators themselves: loopback-only start, wire-format error shapes and the /_sim control endpoints."""

import threading
import time

import pytest
import requests

from handlers.simulators import SimulatorServer, fixtures, start_simulators

CQC_HEADERS = {"Ocp-Apim-Subscription-Key": fixtures.CQC_API_KEY}


def _paypal_token(sim) -> str:
    response = requests.post(
        sim.paypal_base_url + "/v1/oauth2/token",
        auth=(fixtures.PAYPAL_CLIENT_ID, fixtures.PAYPAL_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["access_token"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.invalid"])
def test_simulators_reject_non_loopback_host(host):
    with pytest.raises(ValueError, match="not a loopback address"):
        SimulatorServer(host)


def test_simulators_stop_wakes_slow_request():
    server = start_simulators()
    server.state.add_fault("cqc", delay=30)
    outcome = []

    def call():
        try:
            outcome.append(requests.get(server.cqc_base_url + "/providers/1-000000001", headers=CQC_HEADERS, timeout=10).status_code)
        except requests.ConnectionError as error:
            outcome.append(type(error).__name__)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    caller.join(timeout=10)

    assert time.monotonic() - started < 5
    assert outcome, "the slow request must finish once the server stops"


def test_cqc_fault_uses_apim_error_shape(sim):
    response = requests.post(sim.base_url + "/_sim/faults", json={"api": "cqc", "status": 429, "retry_after": 7, "times": 1}, timeout=5)
    assert response.status_code == 201

    faulted = requests.get(sim.cqc_base_url + "/providers/1-000000001", headers=CQC_HEADERS, timeout=5)
    healthy = requests.get(sim.cqc_base_url + "/providers/1-000000001", headers=CQC_HEADERS, timeout=5)

    assert faulted.status_code == 429
    assert faulted.headers["Retry-After"] == "7"
    assert faulted.json()["statusCode"] == 429
    assert healthy.status_code == 200


def test_companies_house_404_error_shape(sim):
    response = requests.get(sim.companies_house_base_url + "/company/09999999", auth=(fixtures.COMPANIES_HOUSE_API_KEY, ""), timeout=5)

    assert response.status_code == 404
    assert response.json() == {"errors": [{"error": "company-profile-not-found", "type": "ch:service"}]}


def test_paypal_fault_uses_paypal_error_shape(sim):
    sim.state.add_fault("paypal", operation="get_payout", status=500, times=1)
    token = _paypal_token(sim)

    response = requests.get(sim.paypal_base_url + "/v1/payments/payouts/ANYBATCH", headers={"Authorization": f"Bearer {token}"}, timeout=5)

    body = response.json()
    assert response.status_code == 500
    assert body["name"] == "INTERNAL_SERVER_ERROR"
    assert body["message"]
    assert body["debug_id"]
    assert body["details"] == []


def test_paypal_rejects_missing_bearer(sim):
    response = requests.post(sim.paypal_base_url + "/v1/payments/payouts", json={}, timeout=5)

    assert response.status_code == 401
    assert response.json()["name"] == "AUTHENTICATION_FAILURE"


def test_paypal_token_needs_grant_type(sim):
    response = requests.post(
        sim.paypal_base_url + "/v1/oauth2/token", auth=(fixtures.PAYPAL_CLIENT_ID, fixtures.PAYPAL_SECRET), timeout=5
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_paypal_validation_error_details(sim):
    token = _paypal_token(sim)
    body = {
        "sender_batch_header": {"sender_batch_id": "run-bad"},
        "items": [{"recipient_type": "EMAIL", "receiver": "a@b.example", "amount": {"value": "1.5", "currency": "GBP"}}, "junk"],
    }

    response = requests.post(sim.paypal_base_url + "/v1/payments/payouts", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)

    fields = [detail["field"] for detail in response.json()["details"]]
    assert response.status_code == 400
    assert fields == ["items[0].amount", "items[1]"]


def test_control_rejects_invalid_fault(sim):
    for body in ({"api": "nhs"}, {"api": "cqc", "colour": "red"}, {"api": "cqc", "status": 418}, {"api": "cqc", "times": 0}, []):
        response = requests.post(sim.base_url + "/_sim/faults", json=body, timeout=5)

        assert response.status_code == 400, body
        assert response.json()["error"]


def test_control_clears_faults_and_counts_calls(sim):
    requests.post(sim.base_url + "/_sim/faults", json={"api": "cqc", "status": 500}, timeout=5)
    assert requests.delete(sim.base_url + "/_sim/faults", timeout=5).status_code == 200

    response = requests.get(sim.cqc_base_url + "/providers/1-000000001", headers=CQC_HEADERS, timeout=5)
    calls = requests.get(sim.base_url + "/_sim/calls", timeout=5).json()

    assert response.status_code == 200
    assert calls == {"cqc.get_provider": 1}


def test_control_reset_restores_records(sim):
    sim.state.update_provider("1-000000001", registrationStatus="Deregistered")

    assert requests.post(sim.base_url + "/_sim/reset", timeout=5).status_code == 200

    assert sim.state.providers["1-000000001"]["registrationStatus"] == "Registered"


def test_control_paypal_switches(sim):
    changed = requests.patch(sim.base_url + "/_sim/paypal/switches", json={"token_expires_in": 120, "polls_before_success": 0}, timeout=5)
    invalid = requests.patch(sim.base_url + "/_sim/paypal/switches", json={"token_expires_in": "soon"}, timeout=5)
    unknown = requests.patch(sim.base_url + "/_sim/paypal/switches", json={"speed": 1}, timeout=5)

    assert changed.json()["token_expires_in"] == 120
    assert sim.state.paypal.polls_before_success == 0
    assert invalid.status_code == 400
    assert unknown.status_code == 400


def test_control_paypal_outcome_rejects_unknown_status(sim):
    response = requests.put(sim.base_url + "/_sim/paypal/outcomes/a@b.example", json={"transaction_status": "LOST"}, timeout=5)

    assert response.status_code == 400


def test_control_paypal_revoke_and_ledger(sim):
    token = _paypal_token(sim)
    body = {
        "sender_batch_header": {"sender_batch_id": "run-ledger"},
        "items": [{"recipient_type": "EMAIL", "receiver": "a@b.example", "amount": {"value": "3.00", "currency": "GBP"}, "sender_item_id": "P-1"}],
    }
    created = requests.post(sim.paypal_base_url + "/v1/payments/payouts", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)

    assert requests.post(sim.base_url + "/_sim/paypal/revoke-tokens", timeout=5).status_code == 200
    rejected = requests.get(
        sim.paypal_base_url + "/v1/payments/payouts/" + created.json()["batch_header"]["payout_batch_id"],
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    ledger = requests.get(sim.base_url + "/_sim/paypal/ledger", timeout=5).json()

    assert created.status_code == 201
    assert rejected.status_code == 401
    assert ledger["batches"] == 1
    assert [(entry["sender_item_id"], entry["amount"]) for entry in ledger["payments"]] == [("P-1", "3.00")]

"""The /_sim control endpoints, which flip the same switches as SimulatorState's methods, over HTTP."""

from typing import Any

from flask import Blueprint, jsonify, request

from handlers.simulators.common import current_state, error_response

control = Blueprint("simulator_control", __name__, url_prefix="/_sim")

FAULT_OPTIONS = frozenset({"api", "operation", "status", "delay", "delay_after", "retry_after", "times"})
PAYPAL_SWITCHES = {"honour_request_id": bool, "link_duplicates": bool, "token_expires_in": int, "polls_before_success": int}


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")

    return body


@control.errorhandler(ValueError)
@control.errorhandler(TypeError)
def invalid_request(error: Exception):
    return error_response(400, {"error": str(error)})


@control.post("/reset")
def reset():
    """Restore the invented records and forget faults, calls, tokens and payouts."""
    current_state().reset()
    return jsonify(status="reset")


@control.post("/faults")
def add_fault():
    """Inject a fault: {"api": "cqc", "operation": "get_provider", "status": 429, "retry_after": 1, "times": 1}."""
    body = _json_object()
    unknown = set(body) - FAULT_OPTIONS
    if unknown:
        raise ValueError(f"unknown fault options {sorted(unknown)}; use {sorted(FAULT_OPTIONS)}")

    fault = current_state().add_fault(**body)
    return error_response(201, fault.as_dict())


@control.delete("/faults")
def clear_faults():
    current_state().clear_faults()
    return jsonify(status="cleared")


@control.get("/calls")
def calls():
    """Count requests per API operation, e.g. {"cqc.get_provider": 2}."""
    state = current_state()
    with state.lock:
        return jsonify(dict(state.calls))


@control.patch("/cqc/providers/<provider_id>")
def update_provider(provider_id: str):
    """Merge fields into a provider, e.g. {"registrationStatus": "Deregistered"}."""
    return jsonify(current_state().update_provider(provider_id, **_json_object()))


@control.patch("/companies-house/companies/<company_number>")
def update_company(company_number: str):
    """Merge fields into a company, e.g. {"company_status": "dissolved"}."""
    return jsonify(current_state().update_company(company_number, **_json_object()))


@control.patch("/charity-commission/charities/<charity_number>")
def update_charity(charity_number: str):
    """Merge fields into a charity, e.g. {"reg_status": "RM"}."""
    return jsonify(current_state().update_charity(charity_number, **_json_object()))


@control.put("/paypal/outcomes/<receiver>")
def set_outcome(receiver: str):
    """Make items paid to ``receiver`` end in {"transaction_status": "FAILED" | "UNCLAIMED" | "RETURNED" | ...}."""
    status = _json_object().get("transaction_status")
    current_state().paypal.set_outcome(receiver, str(status))
    return jsonify(receiver=receiver, transaction_status=status)


@control.patch("/paypal/switches")
def set_paypal_switches():
    """Change {"honour_request_id": false, "link_duplicates": false, "token_expires_in": 60, "polls_before_success": 2}."""
    body = _json_object()
    unknown = set(body) - set(PAYPAL_SWITCHES)
    if unknown:
        raise ValueError(f"unknown PayPal switches {sorted(unknown)}; use {sorted(PAYPAL_SWITCHES)}")

    state = current_state()
    with state.lock:
        for name, value in body.items():
            if not isinstance(value, PAYPAL_SWITCHES[name]):
                raise ValueError(f"switch {name} must be a {PAYPAL_SWITCHES[name].__name__}, not {value!r}")

            setattr(state.paypal, name, value)

        return jsonify({name: getattr(state.paypal, name) for name in PAYPAL_SWITCHES})


@control.post("/paypal/revoke-tokens")
def revoke_tokens():
    current_state().paypal.revoke_tokens()
    return jsonify(status="revoked")


@control.get("/paypal/ledger")
def ledger():
    """List every payment the simulated PayPal has made, one entry per payout item."""
    state = current_state()
    with state.lock:
        return jsonify(payments=list(state.paypal.ledger), batches=len(state.paypal.batches))

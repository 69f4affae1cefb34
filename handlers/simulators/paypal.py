"""Simulated PayPal REST API under /paypal: OAuth tokens, Payouts v1 and webhook signature verification."""

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, jsonify, request

from handlers.simulators.common import current_state, error_response, simulate
from handlers.simulators.paypal_book import WEBHOOK_AUTH_ALGO, debug_id, webhook_signature

PREFIX = "/paypal"
MAX_ITEMS = 15_000
MAX_PAGE_SIZE = 1000
AMOUNT_PATTERN = re.compile(r"^\d{1,10}\.\d{2}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ERROR_NAMES = {
    400: ("VALIDATION_ERROR", "Invalid request - see details."),
    401: ("AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication credentials or a missing Authorization header."),
    403: ("NOT_AUTHORIZED", "Authorization failed due to insufficient permissions."),
    404: ("INVALID_RESOURCE_ID", "Requested resource ID was not found."),
    429: ("RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
    502: ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable."),
    504: ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
}
VERIFY_FIELDS = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id", "webhook_event")

paypal = Blueprint("paypal", __name__, url_prefix=PREFIX)


def paypal_error(status: int, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """PayPal's error shape: ``name``, ``message``, ``debug_id``, ``information_link`` and ``details``."""
    name, message = ERROR_NAMES.get(status, ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."))
    return {
        "name": name,
        "message": message,
        "debug_id": debug_id(),
        "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
        "details": details or [],
        "links": [],
    }


def _base_url() -> str:
    return request.host_url.rstrip("/") + PREFIX


def _bearer_rejected():
    """Return a 401 response unless the request carries a token this simulator issued and has not revoked."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and current_state().paypal.token_valid(token):
        return None

    return error_response(401, paypal_error(401))


@paypal.post("/v1/oauth2/token")
def issue_token():
    def view():
        book = current_state().paypal
        auth = request.authorization
        if auth is None or auth.type != "basic" or (auth.username, auth.password) != (book.client_id, book.secret):
            return error_response(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        if request.form.get("grant_type") != "client_credentials":
            return error_response(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})

        return jsonify(
            scope="https://uri.paypal.com/services/payments/payouts https://uri.paypal.com/services/applications/webhooks",
            access_token=book.issue_token(),
            token_type="Bearer",
            app_id="APP-00000000000000000",
            expires_in=book.token_expires_in,
            nonce=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") + uuid.uuid4().hex[:16],
        )

    return simulate("paypal", "token", view, paypal_error)


def _payout_problems(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"field": "body", "location": "body", "issue": "MALFORMED_REQUEST_JSON"}]

    problems = []
    sender_batch_id = (body.get("sender_batch_header") or {}).get("sender_batch_id")
    if not isinstance(sender_batch_id, str) or not 0 < len(sender_batch_id) <= 256:
        problems.append({"field": "sender_batch_header.sender_batch_id", "location": "body", "issue": "Invalid sender_batch_id"})

    items = body.get("items")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
        return problems + [{"field": "items", "location": "body", "issue": f"Items must number 1 to {MAX_ITEMS}"}]

    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append({"field": f"items[{index}]", "location": "body", "issue": "MALFORMED_REQUEST_JSON"})
            continue

        amount = item.get("amount") or {}
        if item.get("recipient_type") != "EMAIL" or not EMAIL_PATTERN.match(str(item.get("receiver", ""))):
            problems.append({"field": f"items[{index}].receiver", "location": "body", "issue": "Receiver is invalid or does not match with type"})
        if not AMOUNT_PATTERN.match(str(amount.get("value", ""))) or amount.get("currency") != "GBP":
            problems.append({"field": f"items[{index}].amount", "location": "body", "issue": "Amount must be a GBP value with two decimals"})

    return problems


@paypal.post("/v1/payments/payouts")
def create_payout():
    def view():
        rejected = _bearer_rejected()
        if rejected:
            return rejected

        body = request.get_json(silent=True)
        problems = _payout_problems(body)
        if problems:
            return error_response(400, paypal_error(400, problems))

        status, reply = current_state().paypal.create_batch(body, request.headers.get("PayPal-Request-Id"), _base_url())
        return error_response(status, reply)

    return simulate("paypal", "create_payout", view, paypal_error)


@paypal.get("/v1/payments/payouts/<payout_batch_id>")
def get_payout(payout_batch_id: str):
    def view():
        rejected = _bearer_rejected()
        if rejected:
            return rejected

        page = request.args.get("page", default=1, type=int)
        page_size = min(request.args.get("page_size", default=MAX_PAGE_SIZE, type=int), MAX_PAGE_SIZE)
        if page < 1 or page_size < 1:
            return error_response(400, paypal_error(400, [{"field": "page", "location": "query", "issue": "Invalid page"}]))

        reply = current_state().paypal.read_batch(payout_batch_id, page, page_size, _base_url())
        if reply is None:
            return error_response(404, paypal_error(404))
        if request.args.get("total_required") != "true":
            reply.pop("total_items")
            reply.pop("total_page")

        return jsonify(reply)

    return simulate("paypal", "get_payout", view, paypal_error)


@paypal.post("/v1/notifications/verify-webhook-signature")
def verify_webhook_signature():
    def view():
        rejected = _bearer_rejected()
        if rejected:
            return rejected

        body = request.get_json(silent=True) or {}
        missing = [name for name in VERIFY_FIELDS if not body.get(name)]
        if missing or not isinstance(body.get("webhook_event"), dict):
            details = [{"field": name, "location": "body", "issue": "MISSING_REQUIRED_PARAMETER"} for name in missing]
            return error_response(400, paypal_error(400, details))

        valid = current_state().paypal.signature_valid(body)
        return jsonify(verification_status="SUCCESS" if valid else "FAILURE")

    return simulate("paypal", "verify_webhook", view, paypal_error)


def sign_webhook(event: dict[str, Any], webhook_id: str, transmission_id: str | None = None) -> dict[str, str]:
    """Build the ``PAYPAL-*`` delivery headers that the simulator accepts for ``event`` sent to ``webhook_id``."""
    transmission_id = transmission_id or str(uuid.uuid4())
    transmission_time = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "PAYPAL-AUTH-ALGO": WEBHOOK_AUTH_ALGO,
        "PAYPAL-CERT-URL": "https://simulator.invalid/v1/notifications/certs/CERT-SIMULATED",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-SIG": webhook_signature(transmission_id, transmission_time, webhook_id, event),
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
    }

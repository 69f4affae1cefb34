"""PayPal payout topics: paypal.create_payout pays a payment run once, paypal.poll_payout reports item outcomes."""

import functools
import logging
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.errors import BusinessError
from engine.handler_api import HandlerContext, HandlerRegistry, TopicSpec
from handlers.checks import require_text
from handlers.config import HandlerSettings
from handlers.paypal_client import (
    MAX_ITEMS_PER_BATCH,
    PayoutItem,
    PayPalApiError,
    PayPalClient,
    format_amount,
)

log = logging.getLogger(__name__)

CREATE_TOPIC = "paypal.create_payout"
POLL_TOPIC = "paypal.poll_payout"

DEFAULT_EMAIL_SUBJECT = "You have a payment for home care"
DEFAULT_EMAIL_MESSAGE = "The council has paid you for home care delivered through the care marketplace."

# Namespace of the PayPal-Request-Id values derived from task idempotency keys.
REQUEST_ID_NAMESPACE = uuid.UUID("5b0f7a52-4b8e-4f38-9d43-6a1c7e0c2f11")

TERMINAL_BATCH_STATUSES = frozenset({"SUCCESS", "DENIED", "CANCELED"})
SUCCEEDED_ITEM_STATUSES = frozenset({"SUCCESS"})
PENDING_ITEM_STATUSES = frozenset({"PENDING", "ONHOLD", "NEW"})
UNCLAIMED_ITEM_STATUSES = frozenset({"UNCLAIMED"})

CREATE_INPUTS = {
    "payment_run_id": "id of the payment run; sent as sender_batch_id, so one run is paid at most once",
    "items": (
        "list of {provider_id, receiver_email, amount, sender_item_id (optional, defaults to provider_id), "
        f"note (optional)}}; amount is a string or Decimal in pounds such as '125.50'; 1 to {MAX_ITEMS_PER_BATCH:,} items"
    ),
    "email_subject": "optional: subject of PayPal's email to each receiver",
    "email_message": "optional: message in PayPal's email to each receiver",
}
CREATE_OUTPUTS = {
    "payout_batch_id": "PayPal's id of the batch; poll it with paypal.poll_payout",
    "payout_batch_status": "PENDING, PROCESSING, SUCCESS, DENIED or CANCELED when created",
    "payout_already_existed": "True when an earlier attempt had already created the batch, so nothing new was paid",
    "payout_item_count": "number of items in the batch",
    "payout_total": "sum of the item amounts in pounds, as a string with two decimals",
}
CREATE_ERRORS = {
    "PAYPAL_INVALID_INPUT": "an input is missing, an amount is not a positive sum in pence, an id repeats or there are too many items",
    "PAYPAL_PAYOUT_REJECTED": "PayPal rejected the batch (validation, insufficient funds, restricted account); details carry its error name and debug id",
    "PAYPAL_BATCH_ALREADY_EXISTS": "PayPal reports the payment run as already sent but gave no link to the batch; find it in the PayPal dashboard",
}

POLL_INPUTS = {"payout_batch_id": "PayPal's id of the batch, the output of paypal.create_payout"}
POLL_OUTPUTS = {
    "payout_batch_status": "PENDING, PROCESSING, SUCCESS, DENIED or CANCELED",
    "payout_terminal": (
        "True when the batch is SUCCESS, DENIED or CANCELED and no item is PENDING, ONHOLD or NEW; "
        "while False, wait on a timer and poll again"
    ),
    "payout_item_count": "number of items in the batch",
    "payout_succeeded_item_ids": "sender_item_ids whose transaction_status is SUCCESS",
    "payout_pending_item_ids": "sender_item_ids that are PENDING, ONHOLD or NEW",
    "payout_unclaimed_item_ids": "sender_item_ids that are UNCLAIMED: PayPal returns the money after 30 days unless the receiver claims it",
    "payout_failed_items": (
        "list of {sender_item_id, payout_item_id, transaction_status, error} for items that are FAILED, RETURNED, "
        "BLOCKED, REFUNDED, REVERSED or in a status this handler does not know"
    ),
    "payout_needs_attention": "True when any item failed or is unclaimed, or the batch was DENIED or CANCELED",
}
POLL_ERRORS = {
    "PAYPAL_INVALID_INPUT": "payout_batch_id is missing",
    "PAYPAL_BATCH_NOT_FOUND": "PayPal has no batch with this id",
}


def request_id_for(idempotency_key: str) -> str:
    """Derive a stable PayPal-Request-Id (a 36-character UUID) from a task's idempotency key."""
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, idempotency_key))


def parse_amount(raw: Any, index: int) -> Decimal:
    """Read an item amount given as a Decimal, an int or a string, rejecting floats to keep pence exact."""
    if isinstance(raw, bool) or isinstance(raw, float) or not isinstance(raw, (Decimal, int, str)):
        raise BusinessError(
            "PAYPAL_INVALID_INPUT",
            f"items[{index}].amount {raw!r} must be a string or Decimal such as '125.50', not {type(raw).__name__}",
        )

    try:
        amount = Decimal(str(raw).strip())
        format_amount(amount)
    except (InvalidOperation, ValueError) as error:
        raise BusinessError("PAYPAL_INVALID_INPUT", f"items[{index}].amount {raw!r} is invalid: {error}") from None

    return amount


def parse_items(raw_items: Any) -> list[PayoutItem]:
    """Validate the items input and build payout items, raising BusinessError PAYPAL_INVALID_INPUT that names the item."""
    if not isinstance(raw_items, list) or not raw_items:
        raise BusinessError("PAYPAL_INVALID_INPUT", "input 'items' must be a non-empty list of payout items")
    if len(raw_items) > MAX_ITEMS_PER_BATCH:
        raise BusinessError(
            "PAYPAL_INVALID_INPUT",
            f"{len(raw_items):,} items exceed PayPal's {MAX_ITEMS_PER_BATCH:,} per batch; split the payment run",
        )

    items = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, Mapping):
            raise BusinessError("PAYPAL_INVALID_INPUT", f"items[{index}] must be a dict, not {type(raw).__name__}")

        receiver = str(raw.get("receiver_email") or "").strip()
        if "@" not in receiver or any(char.isspace() for char in receiver):
            raise BusinessError("PAYPAL_INVALID_INPUT", f"items[{index}].receiver_email {receiver!r} is not an email address")

        sender_item_id = str(raw.get("sender_item_id") or raw.get("provider_id") or "").strip()
        if not sender_item_id:
            raise BusinessError("PAYPAL_INVALID_INPUT", f"items[{index}] needs a provider_id or a sender_item_id")
        if sender_item_id in seen:
            raise BusinessError(
                "PAYPAL_INVALID_INPUT",
                f"items[{index}] repeats sender_item_id {sender_item_id!r}; give each payment its own sender_item_id",
            )

        seen.add(sender_item_id)
        items.append(PayoutItem(sender_item_id, receiver, parse_amount(raw.get("amount"), index), str(raw.get("note") or "")))

    return items


def create_payout(client: PayPalClient, inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    """Send a payment run to PayPal as one batch, returning the existing batch when the run was already sent."""
    run_id = require_text(inputs, "payment_run_id", "PAYPAL_INVALID_INPUT")
    items = parse_items(inputs.get("items"))

    try:
        batch = client.create_payout(
            run_id,
            items,
            request_id=request_id_for(context.idempotency_key),
            email_subject=str(inputs.get("email_subject") or DEFAULT_EMAIL_SUBJECT),
            email_message=str(inputs.get("email_message") or DEFAULT_EMAIL_MESSAGE),
        )
    except PayPalApiError as error:
        details = {"payment_run_id": run_id, "paypal_error": error.name, "paypal_debug_id": error.debug_id}
        if error.is_duplicate_batch():
            raise BusinessError(
                "PAYPAL_BATCH_ALREADY_EXISTS",
                f"PayPal already has a batch for payment run {run_id} but did not link it; "
                "find the batch in the PayPal dashboard and record its id instead of paying again",
                details,
            ) from error

        raise BusinessError(
            "PAYPAL_PAYOUT_REJECTED",
            f"PayPal rejected the payout for payment run {run_id}: {error}; correct the run and send it again",
            details,
        ) from error

    return {
        "payout_batch_id": batch.payout_batch_id,
        "payout_batch_status": batch.batch_status,
        "payout_already_existed": batch.already_existed,
        "payout_item_count": len(items),
        "payout_total": format_amount(sum((item.amount for item in items), Decimal(0))),
    }


def poll_payout(client: PayPalClient, inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    """Sort a batch's items by outcome and set ``payout_terminal`` once polling can stop.

    The handler returns instead of raising TransientError while the batch is
    still PENDING, so waiting does not use up the task's retries: the diagram
    waits on a timer and polls again while ``payout_terminal`` is False.
    """
    batch_id = require_text(inputs, "payout_batch_id", "PAYPAL_INVALID_INPUT")
    try:
        status = client.get_payout(batch_id)
    except PayPalApiError as error:
        if error.status == 404:
            raise BusinessError(
                "PAYPAL_BATCH_NOT_FOUND",
                f"PayPal has no payout batch {batch_id}; check the id recorded for the payment run",
                {"payout_batch_id": batch_id, "paypal_debug_id": error.debug_id},
            ) from error
        raise

    succeeded, pending, unclaimed, failed = [], [], [], []
    for item in status.items:
        if item.transaction_status in SUCCEEDED_ITEM_STATUSES:
            succeeded.append(item.sender_item_id)
        elif item.transaction_status in PENDING_ITEM_STATUSES:
            pending.append(item.sender_item_id)
        elif item.transaction_status in UNCLAIMED_ITEM_STATUSES:
            unclaimed.append(item.sender_item_id)
        else:
            failed.append(
                {
                    "sender_item_id": item.sender_item_id,
                    "payout_item_id": item.payout_item_id,
                    "transaction_status": item.transaction_status,
                    "error": item.error,
                }
            )

    terminal = status.batch_status in TERMINAL_BATCH_STATUSES and not pending
    needs_attention = bool(failed or unclaimed) or status.batch_status in ("DENIED", "CANCELED")
    if needs_attention:
        log.warning(
            "PayPal batch %s is %s with %d failed and %d unclaimed items (task %s)",
            batch_id,
            status.batch_status,
            len(failed),
            len(unclaimed),
            context.task_id,
        )

    return {
        "payout_batch_status": status.batch_status,
        "payout_terminal": terminal,
        "payout_item_count": len(status.items),
        "payout_succeeded_item_ids": succeeded,
        "payout_pending_item_ids": pending,
        "payout_unclaimed_item_ids": unclaimed,
        "payout_failed_items": failed,
        "payout_needs_attention": needs_attention,
    }


def register(registry: HandlerRegistry, settings: HandlerSettings, client: PayPalClient | None = None) -> PayPalClient:
    """Register paypal.create_payout and paypal.poll_payout and return the client they share."""
    client = client or PayPalClient(settings)
    policy = client.http.policy
    registry.register(
        TopicSpec(
            topic=CREATE_TOPIC,
            handler=functools.partial(create_payout, client),
            description=(
                "Pay a payment run through PayPal Payouts in GBP. The payment run id is the sender_batch_id, "
                "so a retry after a time-out or crash returns the batch already created instead of paying twice."
            ),
            inputs=CREATE_INPUTS,
            outputs=CREATE_OUTPUTS,
            errors=CREATE_ERRORS,
            # A token call, the payout call, and on a duplicate one look-up of the existing batch.
            timeout=policy.worst_case_seconds(calls=3) + 5,
        )
    )
    registry.register(
        TopicSpec(
            topic=POLL_TOPIC,
            handler=functools.partial(poll_payout, client),
            description=(
                "Read a PayPal payout batch and sort its items into succeeded, pending, unclaimed and failed. "
                "Returns payout_terminal False while PayPal is still processing instead of raising, "
                "so model the wait with a timer and a loop back to this task."
            ),
            inputs=POLL_INPUTS,
            outputs=POLL_OUTPUTS,
            errors=POLL_ERRORS,
            # Sized for a token call and two pages; a poll cut short by the time-out is
            # simply retried, because reading a batch changes nothing.
            timeout=policy.worst_case_seconds(calls=3) + 5,
        )
    )
    return client

"""The simulated PayPal account: access tokens, payout batches, the ledger of payments and webhook signatures."""

import base64
import copy
import hashlib
import hmac
import json
import secrets
import string
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

ITEM_OUTCOMES = frozenset({"SUCCESS", "FAILED", "UNCLAIMED", "RETURNED", "BLOCKED", "ONHOLD"})
OUTCOME_ERRORS = {
    "FAILED": "RECEIVER_ACCOUNT_LOCKED",
    "UNCLAIMED": "RECEIVER_UNREGISTERED",
    "RETURNED": "RECEIVER_UNREGISTERED",
    "BLOCKED": "RECEIVER_COUNTRY_NOT_ALLOWED",
}
WEBHOOK_AUTH_ALGO = "SHA256withRSA"
_ID_ALPHABET = string.ascii_uppercase + string.digits
# Key of the simulator's stand-in for PayPal's certificate signature; it signs only invented events.
_WEBHOOK_SIGNING_KEY = b"careplace-simulator-webhook-signing-key"


def new_id(length: int = 13) -> str:
    """Return a random id in PayPal's style, e.g. ``5UXD2E8A7EBQJ``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def debug_id() -> str:
    return secrets.token_hex(7)[:13]


def webhook_signature(transmission_id: str, transmission_time: str, webhook_id: str, event: dict[str, Any]) -> str:
    """Sign ``transmission_id|transmission_time|webhook_id|crc32(event)`` as PayPal's message layout does.

    The simulator uses an HMAC in place of PayPal's RSA certificate, and the
    CRC32 is over the event's canonical JSON because verification receives
    the parsed event, not the raw body.
    """
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(canonical)}".encode()
    return base64.b64encode(hmac.new(_WEBHOOK_SIGNING_KEY, message, hashlib.sha256).digest()).decode()


@dataclass
class SimulatedBatch:
    """One payout batch as the simulated PayPal stores it."""

    payout_batch_id: str
    sender_batch_header: dict[str, Any]
    items: list[dict[str, Any]]
    time_created: str
    polls: int = 0
    batch_status: str = "PENDING"
    outcomes: dict[str, str] = field(default_factory=dict)


class PayPalBook:
    """Tokens, batches and the ledger of the simulated PayPal account.

    Switches:

    - ``honour_request_id``: False ignores PayPal-Request-Id, so a repeated
      request gets the duplicate sender_batch_id error, as after PayPal's
      30-day window.
    - ``link_duplicates``: False leaves the link to the original batch out of
      that error, as older PayPal responses did.
    - ``token_expires_in``: lifetime of new access tokens in seconds.
    - ``polls_before_success``: how many reads of a batch still show PENDING.
    - ``set_outcome``: the final status of items paid to one receiver.
    - ``revoke_tokens``: invalidates every token issued so far.
    """

    def __init__(self, lock: threading.RLock, client_id: str, secret: str, webhook_id: str):
        self.lock = lock
        self.client_id = client_id
        self.secret = secret
        self.webhook_id = webhook_id
        self.honour_request_id = True
        self.link_duplicates = True
        self.token_expires_in = 32400
        self.polls_before_success = 1
        self.outcomes: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.issued_tokens: list[str] = []
        self.batches: dict[str, SimulatedBatch] = {}
        self.batch_ids_by_sender: dict[str, str] = {}
        self.replies_by_request_id: dict[str, tuple[int, dict[str, Any]]] = {}
        self.ledger: list[dict[str, Any]] = []
        self.request_ids: list[str | None] = []

    def set_outcome(self, receiver: str, transaction_status: str) -> None:
        """Make items paid to ``receiver`` end in ``transaction_status`` (FAILED, UNCLAIMED, RETURNED, ...)."""
        if transaction_status not in ITEM_OUTCOMES:
            raise ValueError(f"outcome {transaction_status!r} is not simulated; use one of {sorted(ITEM_OUTCOMES)}")

        with self.lock:
            self.outcomes[receiver.casefold()] = transaction_status

    def issue_token(self) -> str:
        token = "A21AA" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens.add(token)
            self.issued_tokens.append(token)

        return token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            return token in self.tokens

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far, as PayPal does when an app's credentials change."""
        with self.lock:
            self.tokens.clear()

    def create_batch(self, body: dict[str, Any], request_id: str | None, base_url: str) -> tuple[int, dict[str, Any]]:
        """Create a batch and record its payments, or respond as PayPal does to a repeated request or batch id."""
        header = body["sender_batch_header"]
        sender_batch_id = header["sender_batch_id"]
        with self.lock:
            self.request_ids.append(request_id)
            if request_id and self.honour_request_id and request_id in self.replies_by_request_id:
                status, reply = self.replies_by_request_id[request_id]
                return status, copy.deepcopy(reply)

            if sender_batch_id in self.batch_ids_by_sender:
                existing = self.batch_ids_by_sender[sender_batch_id]
                detail = {"field": "SENDER_BATCH_ID", "location": "body", "issue": "Batch with given sender_batch_id already exists"}
                if self.link_duplicates:
                    detail["link"] = [{"href": f"{base_url}/v1/payments/payouts/{existing}", "rel": "self", "method": "GET"}]
                return 400, {
                    "name": "USER_BUSINESS_ERROR",
                    "message": "User business error.",
                    "debug_id": debug_id(),
                    "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
                    "details": [detail],
                    "links": [],
                }

            batch = SimulatedBatch(
                payout_batch_id=new_id(),
                sender_batch_header=copy.deepcopy(header),
                items=[],
                time_created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            for item in body["items"]:
                payout_item_id = new_id()
                batch.items.append({"payout_item_id": payout_item_id, "payout_item": copy.deepcopy(item)})
                batch.outcomes[payout_item_id] = self.outcomes.get(item["receiver"].casefold(), "SUCCESS")
                self.ledger.append(
                    {
                        "sender_batch_id": sender_batch_id,
                        "payout_batch_id": batch.payout_batch_id,
                        "payout_item_id": payout_item_id,
                        "sender_item_id": item.get("sender_item_id"),
                        "receiver": item["receiver"],
                        "amount": item["amount"]["value"],
                        "currency": item["amount"]["currency"],
                    }
                )

            self.batches[batch.payout_batch_id] = batch
            self.batch_ids_by_sender[sender_batch_id] = batch.payout_batch_id
            reply = {
                "batch_header": {
                    "payout_batch_id": batch.payout_batch_id,
                    "batch_status": batch.batch_status,
                    "sender_batch_header": copy.deepcopy(header),
                },
                "links": [self_link(base_url, batch.payout_batch_id)],
            }
            if request_id:
                self.replies_by_request_id[request_id] = (201, reply)

            return 201, copy.deepcopy(reply)

    def read_batch(self, payout_batch_id: str, page: int, page_size: int, base_url: str) -> dict[str, Any] | None:
        """Return one page of a batch. Reading page 1 counts as a poll, which moves the batch on from PENDING."""
        with self.lock:
            batch = self.batches.get(payout_batch_id)
            if batch is None:
                return None

            if page == 1:
                batch.polls += 1
                if batch.polls > self.polls_before_success:
                    batch.batch_status = "SUCCESS"

            done = batch.batch_status == "SUCCESS"
            total = sum(Decimal(item["payout_item"]["amount"]["value"]) for item in batch.items)
            start = (page - 1) * page_size
            items = [self._item_view(batch, item, done, base_url) for item in batch.items[start : start + page_size]]
            header = {
                "payout_batch_id": batch.payout_batch_id,
                "batch_status": batch.batch_status,
                "time_created": batch.time_created,
                "sender_batch_header": copy.deepcopy(batch.sender_batch_header),
                "amount": {"currency": "GBP", "value": format(total, "f")},
                "fees": {"currency": "GBP", "value": "0.00"},
            }
            return {
                "batch_header": header,
                "items": items,
                "total_items": len(batch.items),
                "total_page": max(1, -(-len(batch.items) // page_size)),
                "links": [self_link(base_url, batch.payout_batch_id)],
            }

    def _item_view(self, batch: SimulatedBatch, item: dict[str, Any], done: bool, base_url: str) -> dict[str, Any]:
        status = batch.outcomes[item["payout_item_id"]] if done else "PENDING"
        view = {
            "payout_item_id": item["payout_item_id"],
            "transaction_status": status,
            "payout_batch_id": batch.payout_batch_id,
            "payout_item_fee": {"currency": "GBP", "value": "0.00"},
            "payout_item": copy.deepcopy(item["payout_item"]),
            "links": [{"href": f"{base_url}/v1/payments/payouts-item/{item['payout_item_id']}", "rel": "item", "method": "GET"}],
        }
        if status == "SUCCESS":
            view["transaction_id"] = new_id(17)
        if status in OUTCOME_ERRORS:
            view["errors"] = {"name": OUTCOME_ERRORS[status], "message": f"The payout item is {status.lower()}."}

        return view

    def signature_valid(self, request: dict[str, Any]) -> bool:
        """Check a verify-webhook-signature request against the simulator's own signing key."""
        expected = webhook_signature(
            request["transmission_id"], request["transmission_time"], request["webhook_id"], request["webhook_event"]
        )
        return (
            request["webhook_id"] == self.webhook_id
            and request["auth_algo"] == WEBHOOK_AUTH_ALGO
            and hmac.compare_digest(expected, str(request["transmission_sig"]))
        )

    def ledger_for(self, sender_batch_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(entry) for entry in self.ledger if entry["sender_batch_id"] == sender_batch_id]


def self_link(base_url: str, payout_batch_id: str) -> dict[str, str]:
    return {"href": f"{base_url}/v1/payments/payouts/{payout_batch_id}", "rel": "self", "method": "GET", "encType": "application/json"}

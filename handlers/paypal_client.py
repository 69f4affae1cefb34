"""PayPal Payouts (v1) client: a cached OAuth token, payouts that never pay twice, status polling and webhook checks."""

import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from engine import clock
from handlers.config import HandlerSettings, env_name
from handlers.http import ConfigurationError, HttpPolicy, ServiceClient, UnexpectedResponseError

log = logging.getLogger(__name__)

TOKEN_PATH = "/v1/oauth2/token"
PAYOUTS_PATH = "/v1/payments/payouts"
PAYOUT_PATH = "/v1/payments/payouts/{payout_batch_id}"
VERIFY_WEBHOOK_PATH = "/v1/notifications/verify-webhook-signature"

CURRENCY = "GBP"
MAX_ITEMS_PER_BATCH = 15_000
MAX_SENDER_BATCH_ID_LENGTH = 256
PAGE_SIZE = 1000
TOKEN_REFRESH_MARGIN = timedelta(seconds=60)
CENT = Decimal("0.01")

# Request field of verify-webhook-signature, and the delivery header that carries it.
WEBHOOK_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}

_LINKED_BATCH_ID = re.compile(r"/v1/payments/payouts/([A-Za-z0-9]+)/?$")


class PayPalApiError(RuntimeError):
    """PayPal rejected a request and returned its JSON error: ``name``, ``message``, ``debug_id`` and ``details``."""

    def __init__(self, status: int, body: Mapping[str, Any], path_template: str):
        self.status = status
        self.name = str(body.get("name") or body.get("error") or f"HTTP_{status}")
        self.message = str(body.get("message") or body.get("error_description") or "")
        self.debug_id = body.get("debug_id")
        self.details = [detail for detail in body.get("details") or [] if isinstance(detail, Mapping)]
        issues = "; ".join(str(detail.get("issue")) for detail in self.details if detail.get("issue"))
        super().__init__(
            f"PayPal {path_template} returned HTTP {status} {self.name}: {self.message}"
            + (f" ({issues})" if issues else "")
            + f" [debug id {self.debug_id}]"
        )

    def is_duplicate_batch(self) -> bool:
        """Tell whether PayPal rejected the payout because its ``sender_batch_id`` was already used."""
        return self.name == "USER_BUSINESS_ERROR" and any(
            str(detail.get("field", "")).upper() == "SENDER_BATCH_ID" for detail in self.details
        )

    def linked_batch_id(self) -> str | None:
        """Return the ``payout_batch_id`` that a duplicate-batch error links to, or None when there is no link.

        Only the id is taken from the link. The client never calls the link's
        host, which may differ from the configured base URL.
        """
        for detail in self.details:
            for link in detail.get("link") or detail.get("links") or []:
                match = _LINKED_BATCH_ID.search(str(link.get("href", "")).split("?")[0])
                if match:
                    return match.group(1)

        return None


@dataclass(frozen=True)
class PayoutItem:
    """One payment in a batch, with ``amount`` in pounds and at most two decimal places."""

    sender_item_id: str
    receiver: str
    amount: Decimal
    note: str = ""


@dataclass(frozen=True)
class PayoutBatch:
    """A created payout batch. ``already_existed`` is True when an earlier request had created it."""

    payout_batch_id: str
    batch_status: str
    sender_batch_id: str
    already_existed: bool = False


@dataclass(frozen=True)
class PayoutItemStatus:
    """The state of one payout item as PayPal reports it."""

    payout_item_id: str
    sender_item_id: str
    transaction_status: str
    amount: str
    error: str | None


@dataclass(frozen=True)
class PayoutStatus:
    """A payout batch with every one of its items."""

    payout_batch_id: str
    batch_status: str
    sender_batch_id: str
    items: tuple[PayoutItemStatus, ...]


def format_amount(amount: Decimal) -> str:
    """Format a positive amount of at most two decimal places as PayPal's string value, e.g. ``"125.50"``."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ValueError(f"payout amount {amount!r} is invalid; pass a positive Decimal such as Decimal('125.50')")
    if amount != amount.quantize(CENT):
        raise ValueError(f"payout amount {amount} has more than two decimal places; round it to pence first")

    return format(amount.quantize(CENT), "f")


class PayPalClient:
    """Calls PayPal Payouts with a bearer token that is cached until 60 seconds before it expires.

    The token cache is guarded by a lock, so threads share one token and only
    one of them fetches a new one. POST requests are retried on time-outs,
    429 and 5xx because every POST here is safe to repeat: payouts carry
    ``sender_batch_id`` and ``PayPal-Request-Id``, and tokens and signature
    checks change nothing.
    """

    def __init__(self, settings: HandlerSettings, policy: HttpPolicy | None = None):
        self.http = ServiceClient(
            "PayPal",
            settings.paypal_base_url,
            policy or HttpPolicy.from_settings(settings),
            required={
                env_name("paypal_base_url"): settings.paypal_base_url,
                env_name("paypal_client_id"): settings.paypal_client_id,
                env_name("paypal_secret"): settings.paypal_secret,
            },
            retry_methods=("GET", "HEAD", "POST"),
        )
        self._credentials = (settings.paypal_client_id, settings.paypal_secret)
        self._webhook_id = settings.paypal_webhook_id
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_refresh_at: datetime | None = None

    def close(self) -> None:
        self.http.close()

    def access_token(self) -> str:
        """Return the cached bearer token, fetching a new one when none is cached or it is near expiry."""
        with self._token_lock:
            now = clock.now()
            if self._token and self._token_refresh_at and now < self._token_refresh_at:
                return self._token

            response = self.http.request(
                "POST", TOKEN_PATH, auth=self._credentials, data={"grant_type": "client_credentials"}
            )
            if response.status_code != 200:
                raise UnexpectedResponseError(
                    "PayPal",
                    "POST",
                    TOKEN_PATH,
                    response.status_code,
                    "check CAREPLACE_PAYPAL_CLIENT_ID and CAREPLACE_PAYPAL_SECRET",
                )

            body = self.http.json(response, "POST", TOKEN_PATH)
            self._token = str(body["access_token"])
            self._token_refresh_at = now + timedelta(seconds=int(body.get("expires_in", 0))) - TOKEN_REFRESH_MARGIN
            log.info("fetched a PayPal access token that is reused until %s", self._token_refresh_at.isoformat())
            return self._token

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    def _authorised_request(self, method: str, path_template: str, **kwargs: Any) -> requests.Response:
        """Send a request with the bearer token, and on a 401 fetch a new token and send it once more.

        Raises UnexpectedResponseError when PayPal rejects the new token too.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        token = self.access_token()
        headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, path_template, headers=headers, **kwargs)
        if response.status_code != 401:
            return response

        log.warning("PayPal %s %s rejected the cached access token; fetching a new one", method, path_template)
        self._forget_token(token)
        headers["Authorization"] = f"Bearer {self.access_token()}"
        response = self.http.request(method, path_template, headers=headers, **kwargs)
        if response.status_code == 401:
            raise self.http.unexpected(response, method, path_template)

        return response

    def _api_error(self, response: requests.Response, method: str, path_template: str) -> PayPalApiError:
        body = self.http.json(response, method, path_template)
        if not isinstance(body, Mapping):
            raise self.http.unexpected(response, method, path_template)

        return PayPalApiError(response.status_code, body, path_template)

    def create_payout(
        self,
        sender_batch_id: str,
        items: Sequence[PayoutItem],
        *,
        request_id: str,
        email_subject: str,
        email_message: str,
    ) -> PayoutBatch:
        """Create a payout batch, or return the batch an earlier request with the same ``sender_batch_id`` created.

        A retry after a time-out or crash therefore pays nothing more, as long
        as PayPal keeps its 30-day idempotency. PayPal replays the first
        response for a repeated ``PayPal-Request-Id``. It rejects a repeated
        ``sender_batch_id`` with an error that links the original batch, and
        this method fetches and returns that batch.

        Raises ValueError for invalid arguments, PayPalApiError when PayPal
        rejects the batch (including a duplicate whose error has no link), and
        TransientError when PayPal cannot be reached.
        """
        if not 0 < len(sender_batch_id) <= MAX_SENDER_BATCH_ID_LENGTH:
            raise ValueError(f"sender_batch_id {sender_batch_id!r} must be 1 to {MAX_SENDER_BATCH_ID_LENGTH} characters")
        if not 0 < len(items) <= MAX_ITEMS_PER_BATCH:
            raise ValueError(
                f"a payout batch takes 1 to {MAX_ITEMS_PER_BATCH} items, not {len(items)}; split the payment run"
            )

        seen: set[str] = set()
        body_items = []
        for item in items:
            if item.sender_item_id in seen:
                raise ValueError(f"sender_item_id {item.sender_item_id!r} appears twice in batch {sender_batch_id!r}")

            seen.add(item.sender_item_id)
            body_items.append(
                {
                    "recipient_type": "EMAIL",
                    "amount": {"value": format_amount(item.amount), "currency": CURRENCY},
                    "receiver": item.receiver,
                    "note": item.note,
                    "sender_item_id": item.sender_item_id,
                }
            )

        body = {
            "sender_batch_header": {
                "sender_batch_id": sender_batch_id,
                "email_subject": email_subject,
                "email_message": email_message,
            },
            "items": body_items,
        }
        response = self._authorised_request("POST", PAYOUTS_PATH, json=body, headers={"PayPal-Request-Id": request_id})
        if response.status_code in (200, 201):
            header = self.http.json(response, "POST", PAYOUTS_PATH)["batch_header"]
            log.info("created PayPal payout batch %s for sender_batch_id %s", header["payout_batch_id"], sender_batch_id)
            return PayoutBatch(header["payout_batch_id"], header["batch_status"], sender_batch_id)

        error = self._api_error(response, "POST", PAYOUTS_PATH)
        batch_id = error.linked_batch_id() if error.is_duplicate_batch() else None
        if batch_id is None:
            raise error

        existing, _ = self._get_payout_page(batch_id, page=1, page_size=1)
        if existing.sender_batch_id != sender_batch_id:
            raise PayPalApiError(
                response.status_code,
                {"name": error.name, "message": f"linked batch {batch_id} belongs to {existing.sender_batch_id!r}"},
                PAYOUTS_PATH,
            )

        log.warning(
            "PayPal payout batch %s already existed for sender_batch_id %s; returning it instead of paying again",
            batch_id,
            sender_batch_id,
        )
        return PayoutBatch(batch_id, existing.batch_status, sender_batch_id, already_existed=True)

    def get_payout(self, payout_batch_id: str) -> PayoutStatus:
        """Fetch a batch and all its items, reading PayPal's pages of up to 1,000 items.

        Raises PayPalApiError (status 404 when PayPal has no such batch).
        """
        first, total_pages = self._get_payout_page(payout_batch_id, page=1, page_size=PAGE_SIZE)
        items = list(first.items)
        for page in range(2, total_pages + 1):
            batch, _ = self._get_payout_page(payout_batch_id, page=page, page_size=PAGE_SIZE)
            if not batch.items:
                break

            items.extend(batch.items)

        return PayoutStatus(first.payout_batch_id, first.batch_status, first.sender_batch_id, tuple(items))

    def _get_payout_page(self, payout_batch_id: str, *, page: int, page_size: int) -> tuple[PayoutStatus, int]:
        """Fetch one page of a batch and return it with the number of pages PayPal reports."""
        response = self._authorised_request(
            "GET",
            PAYOUT_PATH,
            path_params={"payout_batch_id": payout_batch_id},
            params={"page": page, "page_size": page_size, "total_required": "true"},
        )
        if response.status_code != 200:
            raise self._api_error(response, "GET", PAYOUT_PATH)

        body = self.http.json(response, "GET", PAYOUT_PATH)
        header = body["batch_header"]
        items = tuple(_item_status(raw) for raw in body.get("items") or [])
        sender_batch_id = (header.get("sender_batch_header") or {}).get("sender_batch_id", "")
        batch = PayoutStatus(header["payout_batch_id"], header["batch_status"], sender_batch_id, items)
        return batch, int(body.get("total_page", 1))

    def verify_webhook_signature(self, headers: Mapping[str, str], body: bytes | str) -> bool:
        """Ask PayPal whether a webhook delivery is genuine, returning True only for ``verification_status`` SUCCESS.

        Missing ``PAYPAL-*`` headers, a body that is not a JSON object and a
        400 from PayPal all return False. Raises TransientError when PayPal
        cannot be reached, so the web endpoint can respond with 503 and PayPal
        delivers the event again later.
        """
        if not self._webhook_id:
            raise ConfigurationError("CAREPLACE_PAYPAL_WEBHOOK_ID must be set to verify PayPal webhooks")

        received = CaseInsensitiveDict(headers)
        missing = [name for name in WEBHOOK_HEADERS.values() if not received.get(name)]
        if missing:
            log.warning("PayPal webhook rejected: headers %s are missing", ", ".join(missing))
            return False

        try:
            event = json.loads(body)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            log.warning("PayPal webhook %s rejected: the body is not a JSON object", received["PAYPAL-TRANSMISSION-ID"])
            return False

        request = {field: received[header] for field, header in WEBHOOK_HEADERS.items()}
        request["webhook_id"] = self._webhook_id
        request["webhook_event"] = event
        response = self._authorised_request("POST", VERIFY_WEBHOOK_PATH, json=request)
        if response.status_code == 400:
            error = self._api_error(response, "POST", VERIFY_WEBHOOK_PATH)
            log.warning("PayPal rejected verification of webhook %s: %s", request["transmission_id"], error.name)
            return False
        if response.status_code != 200:
            raise self.http.unexpected(response, "POST", VERIFY_WEBHOOK_PATH)

        status = self.http.json(response, "POST", VERIFY_WEBHOOK_PATH).get("verification_status")
        if status != "SUCCESS":
            log.warning("PayPal webhook %s failed verification: %s", request["transmission_id"], status)

        return status == "SUCCESS"


def _item_status(raw: Mapping[str, Any]) -> PayoutItemStatus:
    item = raw.get("payout_item") or {}
    errors = raw.get("errors") or {}
    return PayoutItemStatus(
        payout_item_id=str(raw.get("payout_item_id", "")),
        sender_item_id=str(item.get("sender_item_id", "")),
        transaction_status=str(raw.get("transaction_status", "")),
        amount=str((item.get("amount") or {}).get("value", "")),
        error=errors.get("name") if isinstance(errors, Mapping) else None,
    )

"""HTTP sessions for the outside APIs: retries with backoff, time-outs, rate limits and logging without secrets."""

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from engine.errors import TransientError
from handlers.config import HandlerSettings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
READ_METHODS = frozenset({"GET", "HEAD"})


class ConfigurationError(RuntimeError):
    """A handler needs a setting that is empty. The message names the environment variable to set."""


class UnexpectedResponseError(RuntimeError):
    """An outside API returned a status or body that the client does not handle, such as 401 for a bad key."""

    def __init__(self, service: str, method: str, path_template: str, status: int, hint: str = ""):
        message = f"{service} {method} {path_template} returned unexpected HTTP {status}"
        if hint:
            message = f"{message}; {hint}"

        super().__init__(message)
        self.service = service
        self.method = method
        self.path_template = path_template
        self.status = status


@dataclass(frozen=True)
class HttpPolicy:
    """Time-outs in seconds and the retry budget shared by every call to one service."""

    connect_timeout: float
    read_timeout: float
    retries: int
    backoff_factor: float
    retry_after_max: int

    @classmethod
    def from_settings(cls, settings: HandlerSettings) -> "HttpPolicy":
        return cls(
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            retries=settings.http_retries,
            backoff_factor=settings.http_backoff_factor,
            retry_after_max=settings.http_retry_after_max,
        )

    def worst_case_seconds(self, calls: int = 1) -> float:
        """Estimate the longest time ``calls`` sequential requests can take when every attempt times out or waits."""
        attempts = self.retries + 1
        per_attempt = self.connect_timeout + self.read_timeout
        longest_wait = max(self.retry_after_max, self.backoff_factor * 2 ** max(self.retries - 1, 0))
        return calls * (attempts * per_attempt + self.retries * longest_wait)


class LoggingRetry(Retry):
    """A urllib3 ``Retry`` that logs each retry with the service name, method and cause, but never the URL."""

    service = "outside API"

    def new(self, **kw: Any) -> "LoggingRetry":
        retry = super().new(**kw)
        retry.service = self.service
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.warning("%s %s: retrying after %s, %s retries left", self.service, method, cause, retry.total)
        return retry


def _is_timeout(error: requests.RequestException) -> bool:
    """Tell a time-out from a refused connection, including read time-outs that requests wraps after retries."""
    if isinstance(error, requests.Timeout):
        return True

    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", None) if isinstance(cause, MaxRetryError) else None
    return isinstance(reason, ReadTimeoutError)


class RateLimiter:
    """Spaces requests at least ``1 / per_second`` seconds apart across threads, or not at all when ``per_second`` is 0.

    NOTE: the limit is per process, so several worker processes together can exceed it.
    """

    def __init__(self, per_second: float):
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        if not self._interval:
            return

        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval

        if slot > now:
            time.sleep(slot - now)


def build_session(service: str, policy: HttpPolicy, retry_methods: Collection[str] = READ_METHODS) -> requests.Session:
    """Create a session that retries 429 and 5xx responses, time-outs and dropped connections for ``retry_methods``.

    Only list POST in ``retry_methods`` for an API where repeating the request
    cannot repeat its effect (PayPal payouts, keyed by ``sender_batch_id`` and
    ``PayPal-Request-Id``). The final 429 or 5xx is returned, not raised, so
    the caller can name the status.
    """
    retry = LoggingRetry(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset(method.upper() for method in retry_methods),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=policy.backoff_factor,
        respect_retry_after_header=True,
        retry_after_max=policy.retry_after_max,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.service = service

    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ServiceClient:
    """Calls one outside API: builds URLs from path templates, applies time-outs and maps failures to TransientError.

    ``required`` maps the environment variable of the base URL and of each
    credential to its value, so a request with one unset fails with a message
    naming what to set.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        policy: HttpPolicy,
        *,
        required: Mapping[str, str],
        retry_methods: Collection[str] = READ_METHODS,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        max_requests_per_second: float = 0.0,
    ):
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._unset = [variable for variable, value in required.items() if not value]
        self.session = build_session(service, policy, retry_methods)
        self.session.headers.update({"Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)
        if auth:
            self.session.auth = auth

        self._limiter = RateLimiter(max_requests_per_second)
        parts = urlsplit(self.base_url)
        self._host = parts.hostname or "unset-host"
        if parts.port:
            self._host = f"{self._host}:{parts.port}"

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path_template: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        timeout: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request and return the response unless it is a 429 or 5xx after every retry.

        ``path_template`` such as ``/providers/{providerId}`` is filled from
        ``path_params`` with each value percent-encoded. Only the template,
        never the values, query or body, is logged.

        Raises TransientError on a time-out, a refused or dropped connection,
        and a 429 or 5xx that outlasted the retries; ConfigurationError when
        the base URL or a credential is unset.
        """
        if self._unset:
            raise ConfigurationError(f"{', '.join(self._unset)} must be set to call the {self.service} API")

        encoded = {name: quote(str(value), safe="") for name, value in (path_params or {}).items()}
        url = self.base_url + path_template.format(**encoded)
        timeout = timeout or (self.policy.connect_timeout, self.policy.read_timeout)

        self._limiter.wait()
        started = time.monotonic()
        try:
            response = self.session.request(method, url, timeout=timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as error:
            failure = "timed out" if _is_timeout(error) else "failed to connect"
            log.warning("%s %s %s%s %s: %s", self.service, method, self._host, path_template, failure, type(error).__name__)
            raise TransientError(
                f"{self.service} {method} {path_template} on {self._host} {failure} after "
                f"{self.policy.retries} retries; the worker will try again later"
            ) from error

        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s %s%s -> %s in %.0f ms", self.service, method, self._host, path_template, response.status_code, elapsed_ms)
        if response.status_code in RETRY_STATUSES:
            raise TransientError(
                f"{self.service} {method} {path_template} returned HTTP {response.status_code} "
                f"after {self.policy.retries} retries; the worker will try again later"
            )

        return response

    def json(self, response: requests.Response, method: str, path_template: str) -> Any:
        """Decode a response body, raising UnexpectedResponseError when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponseError(
                self.service, method, path_template, response.status_code, "the body is not JSON"
            ) from None

    def unexpected(self, response: requests.Response, method: str, path_template: str) -> UnexpectedResponseError:
        """Build the error for a status the caller does not handle, pointing at the credentials for 401 and 403."""
        hint = ""
        if response.status_code in (401, 403):
            hint = f"check the {self.service} credentials in the CAREPLACE_* environment variables"

        return UnexpectedResponseError(self.service, method, path_template, response.status_code, hint)

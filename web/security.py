"""Session cookie settings, the security headers added to every response, and the failed-login throttle."""

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


log = logging.getLogger(__name__)

THROTTLE_KEY = "careplace.login_throttle"
STORAGE_KEY = "careplace.rate_limit_storage"
# Flask config keys: limits in the notation of the limits library, such as "5 per 15 minutes".
ACCOUNT_LIMIT_CONFIG = "CAREPLACE_LOGIN_ACCOUNT_LIMIT"
ACCOUNT_TOTAL_LIMIT_CONFIG = "CAREPLACE_LOGIN_ACCOUNT_TOTAL_LIMIT"
ADDRESS_LIMIT_CONFIG = "CAREPLACE_LOGIN_ADDRESS_LIMIT"
# Flask config key: the storage URI of the limits library, set from the CAREPLACE_RATE_LIMIT_STORAGE setting.
STORAGE_CONFIG = "CAREPLACE_RATE_LIMIT_STORAGE"
DEFAULT_ACCOUNT_LIMIT = "5 per 15 minutes"
DEFAULT_ACCOUNT_TOTAL_LIMIT = "50 per hour"
DEFAULT_ADDRESS_LIMIT = "20 per 15 minutes"
# Scopes of the failed-login counters: one account from one client address, one account from every address,
# and one client address whatever the account.
ACCOUNT = "account"
ACCOUNT_TOTAL = "account_total"
ADDRESS = "address"
LIMIT_CONFIGS = {
    ACCOUNT: (ACCOUNT_LIMIT_CONFIG, DEFAULT_ACCOUNT_LIMIT),
    ACCOUNT_TOTAL: (ACCOUNT_TOTAL_LIMIT_CONFIG, DEFAULT_ACCOUNT_TOTAL_LIMIT),
    ADDRESS: (ADDRESS_LIMIT_CONFIG, DEFAULT_ADDRESS_LIMIT),
}

# Scripts, styles and images come only from this app, never from inline code or a CDN.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


def configure_cookies(app: Flask, *, secure: bool) -> None:
    """Make the session and remember-me cookies HttpOnly and SameSite=Lax, and Secure when ``secure`` is true."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages show personal data and prices, so shared caches and the browser history must not keep them.
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@dataclass(frozen=True)
class Lockout:
    """A refused login: which counter is over its limit (``ACCOUNT`` or ``ADDRESS``) and the seconds until it is not."""

    scope: str
    retry_after: int


class LoginThrottle:
    """Failed logins counted in a moving window per account and address, per account, and per client address.

    A stranger who has an email address locks it only for their own address
    (the ``ACCOUNT`` limit). Guessing one password from many addresses meets the
    higher ``ACCOUNT_TOTAL`` limit. With the default ``memory://`` storage every
    process counts on its own, so N gunicorn workers allow up to N times each
    limit and a restart clears the counts. A ``redis://`` storage shares them.

    NOTE: the address is ``request.remote_addr``. Behind a reverse proxy every client has
    the proxy's address unless the app is wrapped in werkzeug's ProxyFix.
    """

    def __init__(self, limits: dict[str, RateLimitItem], storage: Storage):
        self.limits = limits
        self.strategy = MovingWindowRateLimiter(storage)

    @classmethod
    def from_config(cls, app: Flask) -> "LoginThrottle":
        return cls({scope: parse_limit(app, option, default) for scope, (option, default) in LIMIT_CONFIGS.items()}, rate_limit_storage(app))

    def lockout(self, email: str, address: str | None) -> Lockout | None:
        """Return the lock-out in force for this email address or client address, or None when a login may be tried.

        When the counter storage is unreachable, logins go unthrottled (and an
        error is logged) rather than every login failing.
        """
        try:
            for scope, key in self._keys(email, address):
                item = self.limits[scope]
                if not self.strategy.test(item, scope, key):
                    stats = self.strategy.get_window_stats(item, scope, key)
                    return Lockout(scope, max(1, math.ceil(stats.reset_time - time.time())))
        except StorageError as error:
            log.error("login throttle storage failed (%s); this login is not throttled", type(error.storage_error).__name__)
        return None

    def record_failure(self, email: str, address: str | None) -> list[str]:
        """Count one failed login; return the scopes that this failure took to their limit, so the lock-out starts now."""
        locked = []
        try:
            for scope, key in self._keys(email, address):
                item = self.limits[scope]
                self.strategy.hit(item, scope, key)
                if not self.strategy.test(item, scope, key):
                    locked.append(scope)
        except StorageError as error:
            log.error("login throttle storage failed (%s); this failed login is not counted", type(error.storage_error).__name__)
        return locked

    @staticmethod
    def _keys(email: str, address: str | None) -> list[tuple[str, str]]:
        # A digest of the normalised email address, so the counters hold no email address.
        # Unknown addresses are counted the same way, so the throttle does not reveal which have accounts.
        account_key = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
        client = client_key(address)
        return [(ACCOUNT, f"{account_key}/{client}"), (ACCOUNT_TOTAL, account_key), (ADDRESS, client)]


def client_key(address: str | None) -> str:
    """Return the key a client address is counted under: an IPv6 address by its /64 network, usually all one client's."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def parse_limit(app: Flask, option: str, default: str) -> RateLimitItem:
    """Read a rate limit such as "5 per 15 minutes" from the app config, naming the option when it is invalid."""
    text = app.config.get(option, default)
    try:
        return parse(text)
    except ValueError as error:
        raise ValueError(f"{option}={text!r} is not a rate limit; write it as '5 per 15 minutes' or '120/minute'") from error


def rate_limit_storage(app: Flask) -> Storage:
    """Return the app's counter storage for failed logins and API calls, created once from its storage URI."""
    storage = app.extensions.get(STORAGE_KEY)
    if storage is None:
        uri = app.config.get(STORAGE_CONFIG, "memory://")
        try:
            # Wrapped errors are all StorageError, so an unreachable Redis is caught in one place.
            storage = storage_from_string(uri, wrap_exceptions=True)
        except (ConfigurationError, ValueError) as error:
            redacted_uri = _without_password(uri)
            # The limits library quotes the whole URI in its own messages, so replace it there too.
            detail = str(error).replace(uri, redacted_uri)
            raise ValueError(f"{STORAGE_CONFIG}={redacted_uri!r} is not a usable rate-limit storage ({detail}); use memory:// or redis://host:6379/0") from None
        app.extensions[STORAGE_KEY] = storage
    return storage


def _without_password(uri: str) -> str:
    """Return the storage URI with its password, if any, replaced by ***, for error messages."""
    parts = urlsplit(uri)
    if not parts.password:
        return uri
    user_info, _, host = parts.netloc.rpartition("@")
    user = user_info.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def login_throttle() -> LoginThrottle:
    """Return the current app's failed-login throttle."""
    return current_app.extensions[THROTTLE_KEY]


def init_app(app: Flask) -> None:
    app.extensions[THROTTLE_KEY] = LoginThrottle.from_config(app)
    app.after_request(add_security_headers)

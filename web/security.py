"""Session cookie settings, the security headers added to every response, and the failed-login throttle."""

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


THROTTLE_KEY = "careplace.login_throttle"
# Flask config keys: limits in the notation of the limits library, such as "5 per 15 minutes".
ACCOUNT_LIMIT_CONFIG = "CAREPLACE_LOGIN_ACCOUNT_LIMIT"
ADDRESS_LIMIT_CONFIG = "CAREPLACE_LOGIN_ADDRESS_LIMIT"
DEFAULT_ACCOUNT_LIMIT = "5 per 15 minutes"
DEFAULT_ADDRESS_LIMIT = "20 per 15 minutes"
ACCOUNT = "account"
ADDRESS = "address"

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
    """Failed logins counted per account and per client address in a moving window, in this process's memory.

    NOTE: every process counts on its own, so N gunicorn workers allow up to N times each
    limit, and a restart clears the counts. A shared store such as Redis
    (limits.storage.RedisStorage) would make the limits hold across processes.
    NOTE: the address is ``request.remote_addr``. Behind a reverse proxy every client has
    the proxy's address unless the app is wrapped in werkzeug's ProxyFix.
    """

    def __init__(self, account_limit: RateLimitItem, address_limit: RateLimitItem):
        self.limits = {ACCOUNT: account_limit, ADDRESS: address_limit}
        self.strategy = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_config(cls, app: Flask) -> "LoginThrottle":
        items = []
        for option, default in ((ACCOUNT_LIMIT_CONFIG, DEFAULT_ACCOUNT_LIMIT), (ADDRESS_LIMIT_CONFIG, DEFAULT_ADDRESS_LIMIT)):
            text = app.config.get(option, default)
            try:
                items.append(parse(text))
            except ValueError as error:
                raise ValueError(f"{option}={text!r} is not a rate limit; write it as '5 per 15 minutes'") from error
        return cls(*items)

    def lockout(self, email: str, address: str | None) -> Lockout | None:
        """Return the lock-out in force for this email address or client address, or None when a login may be tried."""
        for scope, key in self._keys(email, address):
            item = self.limits[scope]
            if not self.strategy.test(item, scope, key):
                stats = self.strategy.get_window_stats(item, scope, key)
                return Lockout(scope, max(1, math.ceil(stats.reset_time - time.time())))
        return None

    def record_failure(self, email: str, address: str | None) -> list[str]:
        """Count one failed login; return the scopes that this failure took to their limit, so the lock-out starts now."""
        locked = []
        for scope, key in self._keys(email, address):
            item = self.limits[scope]
            self.strategy.hit(item, scope, key)
            if not self.strategy.test(item, scope, key):
                locked.append(scope)
        return locked

    @staticmethod
    def _keys(email: str, address: str | None) -> list[tuple[str, str]]:
        # A digest of the normalised email address, so the counters hold no email address.
        # Unknown addresses are counted the same way, so the throttle does not reveal which have accounts.
        account_key = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
        return [(ACCOUNT, account_key), (ADDRESS, address or "unknown")]


def login_throttle() -> LoginThrottle:
    """Return the current app's failed-login throttle."""
    return current_app.extensions[THROTTLE_KEY]


def init_app(app: Flask) -> None:
    app.extensions[THROTTLE_KEY] = LoginThrottle.from_config(app)
    app.after_request(add_security_headers)

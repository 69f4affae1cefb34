"""Bearer-token authentication, role checks, per-token rate limits and the audit record of every API call."""

import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from limits import RateLimitItem
from limits.errors import StorageError
from limits.strategies import MovingWindowRateLimiter

from care.models.people import Role
from care.models.service_accounts import ServiceAccount
from care.roles import engine_groups
from engine import audit, clock
from engine.runtime import Actor
from web.access import services
from web.api.problems import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, ApiError
from web.api.tokens import find_active_account
from web.security import parse_limit, rate_limit_storage

log = logging.getLogger(__name__)

LIMITER_KEY = "careplace.api.limiter"
# Flask config key: a limit in the notation of the limits library, such as "120/minute" or "10/second".
RATE_LIMIT_CONFIG = "CAREPLACE_API_RATE_LIMIT"
DEFAULT_RATE_LIMIT = "120/minute"


@dataclass(frozen=True)
class Principal:
    """The service account behind the current call, detached from the database session."""

    account_id: int
    role: str
    provider_id: int | None

    @property
    def actor_name(self) -> str:
        """The name written as the actor in the audit log and as the assignee of claimed tasks."""
        return f"service_account:{self.account_id}"

    @property
    def is_provider(self) -> bool:
        return self.role == Role.PROVIDER_USER

    def actor(self) -> Actor:
        """Return the engine actor, with the groups ``web.access.actor_for`` gives a person of the same role."""
        return Actor(self.actor_name, engine_groups(self.role, self.provider_id), is_admin=self.role == Role.ADMIN)


@dataclass
class RateLimiter:
    """A moving-window limit per service account, counted in the app's rate-limit storage.

    With the default ``memory://`` storage every process counts on its own, so N gunicorn
    workers allow up to N times the limit. A ``redis://`` storage shares the counts.
    """

    item: RateLimitItem
    strategy: MovingWindowRateLimiter

    @classmethod
    def from_config(cls, app: Flask) -> "RateLimiter":
        return cls(parse_limit(app, RATE_LIMIT_CONFIG, DEFAULT_RATE_LIMIT), MovingWindowRateLimiter(rate_limit_storage(app)))

    def check(self, account_id: int) -> None:
        """Count one call for the account, or raise a 429 ApiError with Retry-After in whole seconds.

        When the counter storage is unreachable, the call goes uncounted (and an
        error is logged) rather than failing.
        """
        key = str(account_id)
        try:
            if self.strategy.hit(self.item, key):
                return
            stats = self.strategy.get_window_stats(self.item, key)
        except StorageError as error:
            log.error("rate-limit storage failed (%s); call of service account %s not counted", type(error.storage_error).__name__, account_id)
            return

        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        log.warning("service account %s went over its rate limit of %s", account_id, self.item)
        raise ApiError(
            RATE_LIMITED,
            f"this token made more than {self.item} calls; wait {retry_after} seconds before the next call",
            headers={"Retry-After": str(retry_after)},
        )


def init_app(app: Flask) -> None:
    app.extensions[LIMITER_KEY] = RateLimiter.from_config(app)


def bearer_token() -> str:
    """Return the token from ``Authorization: Bearer``; tokens in the query string or cookies are ignored."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(UNAUTHENTICATED, "the Authorization header is missing; send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(UNAUTHENTICATED, "the Authorization header is not a bearer token; send 'Authorization: Bearer <token>'")

    return token.strip()


def authenticate() -> Principal:
    """Identify the caller by token, count the call against its rate limit and remember it for the audit record."""
    principal = g.get("api_principal")
    if principal is not None:
        return principal

    token = bearer_token()
    with services().session_factory() as db:
        account: ServiceAccount | None = find_active_account(db, token)
        if account is None:
            log.warning("rejected an API call to %s: unknown or revoked token", request.path)
            raise ApiError(UNAUTHENTICATED, "the token is unknown or revoked; ask a Care Place administrator for a new one")
        principal = Principal(account.id, account.role, account.provider_id)

    g.api_principal = principal
    current_app.extensions[LIMITER_KEY].check(principal.account_id)
    return principal


def require_roles(principal: Principal, roles: frozenset[str]) -> None:
    if principal.role not in roles:
        raise ApiError(FORBIDDEN, f"a {principal.role} token may not call {request.method} {request.path}; this needs one of: {', '.join(sorted(roles))}")


def record_call(response):
    """Write the audit event of an authenticated call and its ``last_used_at``, in one transaction.

    The event contains the method, endpoint, status and the ids in the path, never the body or query values.
    """
    principal: Principal | None = g.get("api_principal")
    if principal is None:
        return response

    with services().session_factory.begin() as db:
        account = db.get(ServiceAccount, principal.account_id)
        account.last_used_at = clock.now()
        audit.record(
            db,
            "api.call",
            principal.actor_name,
            method=request.method,
            endpoint=request.endpoint,
            status=response.status_code,
            ids={key: str(value) for key, value in (request.view_args or {}).items()},
        )
    return response

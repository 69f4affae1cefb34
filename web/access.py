"""Who is logged in, what they may open, and how they act in the engine: the login user, role checks and provider scoping."""

import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import abort, current_app
from flask_login import current_user, login_required

from care.models.people import Role, User
from care.roles import engine_groups
from engine.runtime import Actor

SERVICES_KEY = "careplace.services"

PROVIDER_USER = Role.PROVIDER_USER.value
CARE_MANAGER = Role.CARE_MANAGER.value
PROVIDER_SERVICES = Role.PROVIDER_SERVICES.value
ANALYST = Role.ANALYST.value
ADMIN = Role.ADMIN.value
ALL_ROLES = frozenset(role.value for role in Role)


def services():
    """Return the services (settings, session factory, engine) the app was created with."""
    return current_app.extensions[SERVICES_KEY]


@dataclass(frozen=True)
class LoginUser:
    """The logged-in user as Flask-Login holds it: a detached copy of the fields the pages need."""

    id: int
    display_name: str
    role: str
    provider_id: int | None
    active: bool
    session_version: int

    @classmethod
    def from_model(cls, user: User) -> "LoginUser":
        return cls(user.id, user.display_name, user.role, user.provider_id, bool(user.is_active), user.session_version)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Return ``"<user id>:<session version>"``, the value Flask-Login keeps in the session and remember-me cookies.

        Raising ``users.session_version`` (at logout, or on a password or role change)
        makes every cookie issued before it load no user.
        """
        return f"{self.id}:{self.session_version}"

    @property
    def is_provider_user(self) -> bool:
        return self.role == PROVIDER_USER


def actor_for(user: LoginUser) -> Actor:
    """Return the engine actor for a user: the user id as a string, and groups from the role.

    A provider user's only group is ``provider-<provider id>``, so a task offered
    to the provider-user role as a whole never reaches every provider; diagrams
    offer provider tasks to ``${'provider-' + str(provider_id)}`` or assign them to a user id.
    """
    return Actor(str(user.id), engine_groups(user.role, user.provider_id), is_admin=user.role == ADMIN)


def roles_required(*roles: str) -> Callable:
    """Let only logged-in users with one of ``roles`` reach the view; others get 403, anonymous users the login page."""
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}: use some of {sorted(ALL_ROLES)}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return login_required(checked)

    return decorate


def own_provider_id() -> int:
    """Return the logged-in provider user's provider id; 403 for anyone else."""
    if not current_user.is_authenticated or current_user.role != PROVIDER_USER or current_user.provider_id is None:
        abort(403)

    return current_user.provider_id


def safe_local_path(target: str | None) -> str | None:
    """Return ``target`` when it is a path on this site, else None, so redirects never leave the site.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    ``/%09/evil.example`` (a tab) would become ``//evil.example``, another host. Any control,
    format or whitespace character, any backslash, and any scheme or host reject the target.
    """
    if not target:
        return None
    if any(character.isspace() or unicodedata.category(character)[0] in "CZ" for character in target):
        return None
    if "\\" in target or not target.startswith("/") or target.startswith("//"):
        return None

    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None

    return target

"""Login and logout against the care users table, each attempt written to the audit log."""

import logging
import math
import re

import sqlalchemy as sa
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash

from care.models.people import User
from care.people import end_sessions
from engine import audit, clock
from handlers.notifications import unread_count
from web.access import ADMIN, ANALYST, CARE_MANAGER, PROVIDER_SERVICES, PROVIDER_USER, LoginUser, safe_local_path, services
from web.extensions import login_manager
from web.forms import ActionForm, LoginForm
from web.security import ACCOUNT, ACCOUNT_TOTAL, Lockout, login_throttle

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Log in to see this page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

# A hash that check_password_hash can compare against when the email is unknown, so the
# response time does not reveal which email addresses have accounts.
_UNKNOWN_USER_HASH = "scrypt:32768:8:1$careplace$" + "0" * 128
# The user id Flask-Login keeps in the session: "<users.id>:<users.session_version>" (LoginUser.get_id).
_SESSION_USER_ID = re.compile(r"(\d+):(\d+)", re.ASCII)


@login_manager.user_loader
def load_user(user_id: str) -> LoginUser | None:
    """Load the session's user, unless the account is inactive or its session version has moved on since the login.

    For a provider user's GET or HEAD request, which renders a page with the navigation, the
    same database session also counts the unread notifications, so the page checks out one
    connection for both. Other requests mostly redirect, so they skip the count.
    """
    match = _SESSION_USER_ID.fullmatch(user_id)
    if match is None:
        return None

    account_id, session_version = int(match.group(1)), int(match.group(2))
    try:
        return _load_user(account_id, session_version)
    except sa.exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        # This is a request's first statement, so it meets a connection lost in a database restart first. SQLAlchemy
        # has replaced the pool's connections, so one retry on a new connection spares the user a 500.
        log.warning("loading the session's user lost its database connection (%s); retrying once", type(error.orig).__name__)
        return _load_user(account_id, session_version)


def _load_user(user_id: int, session_version: int) -> LoginUser | None:
    with services().session_factory() as db:
        user = db.get(User, user_id)
        if user is None or not user.is_active or user.session_version != session_version:
            return None
        if user.role == PROVIDER_USER and request.method in ("GET", "HEAD"):
            g.unread_notifications = unread_count(db, user_id=user.id, provider_id=user.provider_id)
        return LoginUser.from_model(user)


def _find_user(email: str) -> User | None:
    with services().session_factory() as db:
        return db.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))


def _audit(kind: str, actor: str, **detail) -> None:
    with services().session_factory.begin() as db:
        audit.record(db, kind, actor, **detail)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))

    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        throttle = login_throttle()
        # Checked before the user lookup and the password hash, so a locked-out attempt costs no scrypt work.
        lockout = throttle.lockout(form.email.data, request.remote_addr)
        if lockout is not None:
            return _locked_out_page(lockout)

        user = _find_user(form.email.data)
        password_hash = user.password_hash if user is not None and user.password_hash else _UNKNOWN_USER_HASH
        password_ok = check_password_hash(password_hash, form.password.data)
        if user is not None and user.password_hash and user.is_active and password_ok:
            next_page = safe_local_path(request.args.get("next"))
            session.clear()
            login_user(LoginUser.from_model(user))
            with services().session_factory.begin() as db:
                db.get(User, user.id).last_login_at = clock.now()
                audit.record(db, "user.login", str(user.id), role=user.role)
            log.info("user %s logged in", user.id)
            return redirect(next_page or url_for("auth.home"))

        failed = True
        actor = str(user.id) if user is not None else "anonymous"
        user_label = f"user {user.id}" if user is not None else "an unknown email address"
        _audit("user.login_failed", actor, known_user=user is not None)
        log.warning("failed login for %s", user_label)
        for scope in throttle.record_failure(form.email.data, request.remote_addr):
            _audit("user.login_locked", actor, scope=scope, known_user=user is not None)
            log.warning("logins locked for %s: too many failed logins per %s", user_label, scope)

    status = 401 if failed else 200
    return render_template("auth/login.html", form=form, failed=failed), status


def _locked_out_page(lockout: Lockout):
    minutes = math.ceil(lockout.retry_after / 60)
    wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
    if lockout.scope in (ACCOUNT, ACCOUNT_TOTAL):
        message = f"Logging in to this account is paused after too many failed attempts. Try again in {wait}, or ask your Care Place administrator to reset your password."
    else:
        message = f"Logging in from your network is paused after too many failed attempts. Try again in {wait}."

    page = render_template("errors/error.html", status=429, title="Too many failed logins", message=message)
    return page, 429, {"Retry-After": str(lockout.retry_after)}


@blueprint.post("/logout")
@login_required
def logout():
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.home"))

    user_id = current_user.id
    # A copy of the old session cookie stays signed and valid, so raising the version is what makes it load no user.
    with services().session_factory.begin() as db:
        end_sessions(db.get(User, user_id))
        audit.record(db, "user.logout", str(user_id))
    logout_user()
    session.clear()
    log.info("user %s logged out", user_id)
    flash("You have logged out.", "info")
    return redirect(url_for("auth.login"))


HOME_BY_ROLE = {
    PROVIDER_USER: "provider.enquiries",
    CARE_MANAGER: "staff.enquiries",
    PROVIDER_SERVICES: "staff.providers",
    ANALYST: "admin.versions",
    ADMIN: "admin.instances",
}


@blueprint.get("/")
@login_required
def home():
    return redirect(url_for(HOME_BY_ROLE.get(current_user.role, "tasks.task_list")))


def navigation_context() -> dict:
    """Template values for the navigation: for provider users, the unread notification count.

    The count is the one ``load_user`` made for this request, if any. The logout form renders
    its CSRF field with ``csrf_field``, which never reads the request body, because the 413
    page renders this navigation and reading an oversized body there raises 413 again.
    """
    if not current_user.is_authenticated:
        return {}

    unread = None
    if current_user.role == PROVIDER_USER:
        unread = g.get("unread_notifications")
        if unread is None:
            with services().session_factory() as db:
                unread = unread_count(db, user_id=current_user.id, provider_id=current_user.provider_id)
    return {"unread_notifications": unread}

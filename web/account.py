"""Account pages: setting a first password from an emailed link, and changing the password of a logged-in user."""

import logging

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from care.models.account_tokens import AccountToken
from care.models.people import User
from care.people import set_password
from engine import audit, clock
from handlers.account_topics import hash_token
from web.access import LoginUser, services
from web.security import login_throttle

log = logging.getLogger(__name__)

blueprint = Blueprint("account", __name__, url_prefix="/account")

MIN_PASSWORD_LENGTH = 12
# scrypt work grows with the input, so a cap keeps one request cheap.
MAX_PASSWORD_LENGTH = 200


def _not_all_digits(_form, field) -> None:
    if field.data and field.data.isdigit():
        raise ValidationError("Use letters or other characters as well as digits.")


def _new_password_fields():
    password = PasswordField(
        "New password",
        validators=[
            DataRequired(message="Enter a new password."),
            Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH, message=f"Use between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters."),
            _not_all_digits,
        ],
    )
    confirmation = PasswordField("Confirm the new password", validators=[DataRequired(message="Enter the new password again."), EqualTo("password", message="The two passwords differ.")])
    return password, confirmation


class SetPasswordForm(FlaskForm):
    password, confirmation = _new_password_fields()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(message="Enter your current password.")])
    password, confirmation = _new_password_fields()


def _usable_token(db, raw_token: str) -> AccountToken | None:
    """Return the token row for ``raw_token`` when it is unused, not replaced, unexpired and its user is active."""
    token = db.scalar(sa.select(AccountToken).where(AccountToken.token_hash == hash_token(raw_token)))
    if token is None or token.used_at is not None or token.revoked_at is not None or token.expires_at <= clock.now():
        return None

    user = db.get(User, token.user_id)
    if user is None or not user.is_active:
        return None

    return token


def _invalid_link_page():
    page = render_template("account/invalid_link.html")
    return page, 404


@blueprint.route("/set-password/<token>", methods=["GET", "POST"])
def set_password_from_link(token: str):
    """Let the holder of a set-password link choose a password, then log them in. The link works once."""
    with services().session_factory() as db:
        found = _usable_token(db, token)
        token_id = found.id if found is not None else None
    if token_id is None:
        log.info("rejected an unknown, used, replaced or expired set-password link")
        return _invalid_link_page()

    form = SetPasswordForm()
    if not form.validate_on_submit():
        return render_template("account/set_password.html", form=form), 400 if form.is_submitted() else 200

    with services().session_factory.begin() as db:
        # Locked and checked again, so two submissions of one link cannot both set a password.
        row = db.scalar(sa.select(AccountToken).where(AccountToken.id == token_id).with_for_update())
        if row.used_at is not None or row.revoked_at is not None or row.expires_at <= clock.now():
            return _invalid_link_page()

        user = db.get(User, row.user_id)
        set_password(user, form.password.data)
        row.used_at = clock.now()
        user.last_login_at = row.used_at
        audit.record(db, "user.password_set", str(user.id), token_id=row.id)
        audit.record(db, "user.login", str(user.id), role=user.role, via="set_password_link")
        login_user_model = LoginUser.from_model(user)

    session.clear()
    login_user(login_user_model)
    log.info("user %s set a password from link %s and logged in", login_user_model.id, token_id)
    flash("Your password is set and you are logged in.", "info")
    return redirect(url_for("auth.home"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the logged-in user's password. The user's other sessions end and this one continues."""
    form = ChangePasswordForm()
    failed = False
    if form.validate_on_submit():
        # Wrong current passwords count against the login throttle, so this form cannot be used to guess one.
        throttle = login_throttle()
        with services().session_factory() as db:
            email = db.get(User, current_user.id).email
        lockout = throttle.lockout(email, request.remote_addr)
        if lockout is not None:
            page = render_template("errors/error.html", status=429, title="Too many failed attempts", message="Changing the password is paused after too many wrong passwords. Try again later.")
            return page, 429, {"Retry-After": str(lockout.retry_after)}

        with services().session_factory.begin() as db:
            user = db.get(User, current_user.id)
            if user.password_hash and check_password_hash(user.password_hash, form.current_password.data):
                set_password(user, form.password.data)
                audit.record(db, "user.password_changed", str(user.id))
                refreshed = LoginUser.from_model(user)
            else:
                refreshed = None
                audit.record(db, "user.password_change_failed", str(user.id))

        if refreshed is not None:
            # set_password raised the session version, so this session logs in again with the new one.
            login_user(refreshed)
            log.info("user %s changed their password", refreshed.id)
            flash("Your password is changed. Any other sessions have been logged out.", "info")
            return redirect(url_for("auth.home"))

        failed = True
        throttle.record_failure(email, request.remote_addr)
        log.warning("user %s: password change rejected, the current password did not match", current_user.id)

    status = 400 if form.is_submitted() else 200
    return render_template("account/change_password.html", form=form, failed=failed), status

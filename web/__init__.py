"""The Flask app factory: extensions, security settings, error pages and the blueprint of each audience."""

import logging
from datetime import timedelta

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from care import errors as care_errors
from careplace.config import Settings
from careplace.wiring import build_services
from engine import errors as engine_errors
from web import account, admin, auth, diagrams, documents, provider, provider_account, provider_package, security, staff, staff_providers, tasks, templating
from web import api
from web.access import SERVICES_KEY
from web.extensions import csrf, login_manager

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def create_app(settings: Settings, services=None, test_config: dict | None = None) -> Flask:
    """Build the web app over ``services`` (built from ``settings`` when not given); ``test_config`` overrides Flask config."""
    if not settings.secret_key:
        raise ValueError("settings.secret_key is empty: set CAREPLACE_SECRET_KEY (the embedded demo mode generates one)")

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,
        CAREPLACE_EMBEDDED=settings.embedded,
        CAREPLACE_RATE_LIMIT_STORAGE=settings.rate_limit_storage,
        **settings.rate_limits,
    )
    # The embedded demo runs on plain HTTP on loopback, where a Secure cookie would never come back.
    security.configure_cookies(app, secure=not settings.embedded)
    if test_config:
        app.config.update(test_config)

    app.extensions[SERVICES_KEY] = services if services is not None else build_services(settings)

    csrf.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    _register_error_pages(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    for module in (auth, account, tasks, provider, provider_account, provider_package, documents, staff, staff_providers, admin, diagrams):
        app.register_blueprint(module.blueprint)
    app.register_blueprint(api.blueprint)

    app.context_processor(auth.navigation_context)


def _error_page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(403)
    def forbidden(_error):
        return _error_page(403, "You do not have access to this page", "Your account's role does not allow this page. If you need it, ask a Care Place administrator.")

    @app.errorhandler(404)
    def not_found(_error):
        return _error_page(404, "Page not found", "Check the address, or go back to the start page.")

    @app.errorhandler(413)
    def too_large(_error):
        return _error_page(413, "File too large", f"Upload files of at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB in total.")

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        log.warning("rejected a form without a valid CSRF token: %s", error.description)
        return _error_page(400, "The form has expired", "Go back, reload the page and send the form again.")

    @app.errorhandler(engine_errors.AccessDeniedError)
    @app.errorhandler(care_errors.NotAllowedError)
    def access_denied(error):
        log.info("access denied: %s", error)
        return _error_page(403, "You do not have access to this", str(error))

    @app.errorhandler(engine_errors.ConflictError)
    def conflict(error):
        return _error_page(409, "Someone else changed this first", f"{error}. Reload the page to see the current state.")

    @app.errorhandler(engine_errors.NotFoundError)
    @app.errorhandler(care_errors.NotFoundError)
    def record_not_found(error):
        return _error_page(404, "Not found", str(error))

"""The versioned JSON API under /api/v1 for the council's other systems: bearer tokens, problem details, OpenAPI.

Importing the package registers every resource module's routes on ``blueprint``.
"""

import logging

from flask import request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from care import errors as care_errors
from engine import errors as engine_errors
from web.api import auth, enquiries, incidents, instances, openapi, packages, providers, tasks  # noqa: F401  (each registers its routes)
from web.api.operations import blueprint
from web.api.problems import (
    CONFLICT,
    FORBIDDEN,
    MESSAGE_NOT_DELIVERED,
    NOT_FOUND,
    VALIDATION_FAILED,
    ApiError,
    from_api_error,
    from_http_exception,
    internal_error,
    problem_response,
)
from web.extensions import csrf

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


@blueprint.record_once
def _setup(state) -> None:
    # Bearer tokens are not sent by browsers on their own, so the API needs no CSRF token.
    csrf.exempt(blueprint)
    auth.init_app(state.app)


@blueprint.before_app_request
def _routing_error_as_problem():
    """Return problem details for an unknown path or method under /api instead of the portal's HTML error page.

    Flask raises routing errors only after the before-request functions, so this runs first and returns the problem.
    """
    error = request.routing_exception
    if error is not None and request.path.startswith(API_PREFIX) and isinstance(error, HTTPException):
        return from_http_exception(error)
    return None


blueprint.after_request(auth.record_call)


@blueprint.errorhandler(ApiError)
def _api_error(error: ApiError):
    return from_api_error(error)


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return from_http_exception(error)


@blueprint.errorhandler(413)
def _payload_too_large(error: HTTPException):
    # Flask looks up error handlers by status code before exception class, so the app's HTML page for 413
    # would win over the HTTPException handler above. A blueprint handler for the code comes before both.
    return from_http_exception(error)


@blueprint.errorhandler(engine_errors.NotFoundError)
@blueprint.errorhandler(care_errors.NotFoundError)
def _not_found(error):
    return problem_response(NOT_FOUND, f"{error.kind} {error.key!r} not found; check the id")


@blueprint.errorhandler(engine_errors.AccessDeniedError)
@blueprint.errorhandler(care_errors.NotAllowedError)
def _forbidden(error):
    return problem_response(FORBIDDEN, str(error))


@blueprint.errorhandler(engine_errors.ConflictError)
@blueprint.errorhandler(care_errors.InvalidTransitionError)
@blueprint.errorhandler(care_errors.EnquiryClosedError)
@blueprint.errorhandler(care_errors.AlreadyRespondedError)
def _conflict(error):
    return problem_response(CONFLICT, str(error))


@blueprint.errorhandler(engine_errors.MessageNotDeliveredError)
def _not_delivered(error):
    return problem_response(MESSAGE_NOT_DELIVERED, f"{error}; check the message name, business key and correlation values")


@blueprint.errorhandler(engine_errors.FormValidationError)
def _form_invalid(error: engine_errors.FormValidationError):
    return problem_response(
        VALIDATION_FAILED,
        f"task {error.task_id}: {len(error.errors)} form values are invalid; correct them and send the task again",
        errors=[field_error.as_dict() for field_error in error.errors],
    )


@blueprint.errorhandler(care_errors.InvalidValueError)
def _invalid_value(error: care_errors.InvalidValueError):
    return problem_response(VALIDATION_FAILED, str(error), errors=[{"field": error.field, "message": str(error)}])


@blueprint.errorhandler(ValidationError)
def _unexpected_validation(error: ValidationError):
    # A response model that rejects data from the database is a server fault, not the caller's.
    return internal_error(error)


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception):
    return internal_error(error)


__all__ = ["blueprint"]

"""RFC 9457 problem details: the error types of the API and the handlers that turn every error under /api into one."""

import logging
from dataclasses import dataclass, field

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem type URIs are identifiers, not links; docs/api.md describes each type.
TYPE_BASE = "urn:careplace:api:problem:"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        return TYPE_BASE + self.slug


INVALID_REQUEST = ProblemType("invalid-request", "The request is malformed", 400)
UNAUTHENTICATED = ProblemType("unauthenticated", "A valid API token is required", 401)
FORBIDDEN = ProblemType("forbidden", "The token's role does not allow this", 403)
NOT_FOUND = ProblemType("not-found", "Not found", 404)
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", "Method not allowed", 405)
CONFLICT = ProblemType("conflict", "The request conflicts with the current state", 409)
MESSAGE_NOT_DELIVERED = ProblemType("message-not-delivered", "No instance is waiting for this message", 409)
PRECONDITION_FAILED = ProblemType("precondition-failed", "The instance has changed since you read it", 412)
PAYLOAD_TOO_LARGE = ProblemType("payload-too-large", "The request body is too large", 413)
UNSUPPORTED_MEDIA_TYPE = ProblemType("unsupported-media-type", "The request body must be JSON", 415)
VALIDATION_FAILED = ProblemType("validation-failed", "The request has invalid values", 422)
PRECONDITION_REQUIRED = ProblemType("precondition-required", "An If-Match header is required", 428)
RATE_LIMITED = ProblemType("rate-limited", "Too many requests", 429)
INTERNAL_ERROR = ProblemType("internal-error", "Internal server error", 500)

ALL_TYPES = (
    INVALID_REQUEST,
    UNAUTHENTICATED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    CONFLICT,
    MESSAGE_NOT_DELIVERED,
    PRECONDITION_FAILED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    PRECONDITION_REQUIRED,
    RATE_LIMITED,
    INTERNAL_ERROR,
)
BY_STATUS = {problem.status: problem for problem in ALL_TYPES if problem is not MESSAGE_NOT_DELIVERED}


@dataclass
class ApiError(Exception):
    """An error to send as problem details; ``errors`` lists invalid fields as ``{field, message}``."""

    problem: ProblemType
    detail: str
    errors: list[dict] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.problem.slug}: {self.detail}"


def problem_response(problem: ProblemType, detail: str, *, errors: list[dict] | None = None, headers: dict[str, str] | None = None) -> Response:
    body = {"type": problem.uri, "title": problem.title, "status": problem.status, "detail": detail, "instance": request.path}
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(headers or {})
    if problem is UNAUTHENTICATED:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="careplace-api"')
    return response


def from_api_error(error: ApiError) -> Response:
    return problem_response(error.problem, error.detail, errors=error.errors, headers=error.headers)


def from_http_exception(error: HTTPException) -> Response:
    """Convert a Werkzeug HTTP error (a routing 404 or 405, a 413, an abort) without its HTML body."""
    problem = BY_STATUS.get(error.code or 500, INTERNAL_ERROR)
    headers = {}
    if problem is METHOD_NOT_ALLOWED:
        allowed = getattr(error, "valid_methods", None) or []
        headers["Allow"] = ", ".join(sorted(allowed))
        detail = f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(allowed)) or 'another path'}"
    elif problem is NOT_FOUND:
        detail = f"no API resource at {request.path}; check the path against /api/v1/openapi.json"
    elif problem is PAYLOAD_TOO_LARGE:
        limit = request.max_content_length
        if limit:
            detail = f"the request body is over the limit of {limit} bytes; send a smaller body"
        else:
            detail = "the request body is too large; send a smaller body"
    else:
        detail = error.description or problem.title
    return problem_response(problem, detail, headers=headers)


def internal_error(error: Exception) -> Response:
    """Log an unexpected error with its stack trace and send a problem without one."""
    log.exception("API call %s %s failed with %s", request.method, request.path, type(error).__name__)
    return problem_response(INTERNAL_ERROR, "the server failed to handle the request; try again later, and report it if it keeps happening")

"""The API blueprint and the ``operation`` decorator, which registers a route and records how the OpenAPI document describes it."""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, json, request
from pydantic import BaseModel, ValidationError

from web.api.auth import authenticate, require_roles
from web.api.problems import INVALID_REQUEST, NOT_FOUND, UNSUPPORTED_MEDIA_TYPE, VALIDATION_FAILED, ApiError

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ID = 2**31 - 1
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PROCESS_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$"

# The schema of each path parameter, and how the wrapper checks it before the view runs.
PATH_PARAMETERS: dict[str, dict] = {
    "process_id": {"type": "string", "pattern": PROCESS_ID_PATTERN},
    "instance_id": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
    "task_id": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
}
INTEGER_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


@dataclass(frozen=True)
class Operation:
    """The OpenAPI description of one route."""

    method: str
    rule: str
    endpoint: str
    summary: str
    description: str
    tag: str
    roles: frozenset[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    problems: tuple[int, ...]
    if_match: str | None  # None, "optional" or "required"
    etag: bool


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    roles: frozenset[str],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    problems: tuple[int, ...] = (),
    if_match: str | None = None,
    etag: bool = False,
) -> Callable:
    """Register ``view`` on the blueprint behind authentication, the role check and input parsing.

    The view is called as ``view(principal, **path, body=..., query=...)`` and returns a Response.
    """

    def decorate(view: Callable) -> Callable:
        spec = Operation(
            method, rule, view.__name__, summary, (view.__doc__ or "").strip(), tag, roles, body, query, response, status, problems, if_match, etag
        )
        OPERATIONS.append(spec)

        @functools.wraps(view)
        def wrapped(**path: Any) -> Response:
            principal = authenticate()
            require_roles(principal, spec.roles)
            _check_path(path)
            arguments = {}
            if spec.query is not None:
                arguments["query"] = parse_query(spec.query)
            if spec.body is not None:
                arguments["body"] = parse_body(spec.body)
            return view(principal, **path, **arguments)

        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
        return wrapped

    return decorate


def _check_path(path: dict[str, Any]) -> None:
    # Ids that cannot exist are 404 before any query, so an oversized integer or a NUL byte never reaches the database.
    for name, value in path.items():
        schema = PATH_PARAMETERS.get(name)
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise ApiError(NOT_FOUND, f"{name} {value} not found; ids are whole numbers from 1 to {MAX_ID}")
        if schema is not None and not re.fullmatch(schema["pattern"], value):
            raise ApiError(NOT_FOUND, f"{name} {value!r} not found; check the id")


def validation_errors(error: ValidationError) -> list[dict]:
    return [{"field": ".".join(str(part) for part in item["loc"]) or "(body)", "message": item["msg"]} for item in error.errors()]


def parse_query(model: type[BaseModel]) -> BaseModel:
    values = request.args.to_dict()
    if any("\x00" in key or "\x00" in value for key, value in values.items()):
        raise ApiError(VALIDATION_FAILED, "a query parameter contains a NUL character; remove it", errors=[])
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ApiError(VALIDATION_FAILED, "the query parameters are invalid; see errors", errors=validation_errors(error)) from error


def parse_body(model: type[BaseModel]) -> BaseModel:
    """Parse the JSON body into ``model``: 415 when it is not JSON, 400 when it does not parse, 422 when a value is invalid."""
    if request.mimetype != "application/json":
        raise ApiError(UNSUPPORTED_MEDIA_TYPE, f"the body is {request.mimetype or 'missing'}; send JSON with 'Content-Type: application/json'")
    try:
        data = json.loads(request.get_data(cache=True))
    except ValueError as error:
        raise ApiError(INVALID_REQUEST, f"the body is not valid JSON ({error}); send a JSON object") from error

    path = _nul_path(data, "")
    if path is not None:
        raise ApiError(VALIDATION_FAILED, "a string contains a NUL character; remove it", errors=[{"field": path or "(body)", "message": "contains a NUL character"}])
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(VALIDATION_FAILED, "the body has invalid values; see errors", errors=validation_errors(error)) from error


def _nul_path(value: Any, path: str) -> str | None:
    # PostgreSQL cannot store NUL in text, so a NUL anywhere in the body is rejected before it reaches the database.
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return child
            found = _nul_path(item, child)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def json_response(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(model.model_dump_json(), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response

"""The OpenAPI 3.1 document, built from the recorded operations and the JSON Schema (2020-12) that pydantic emits for their models."""

import re
from functools import cache

from flask import Response, json
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.api.operations import INTEGER_ID, OPERATIONS, PATH_PARAMETERS, Operation, blueprint
from web.api.problems import ALL_TYPES, PROBLEM_MEDIA_TYPE
from web.api.schemas import Problem

API_VERSION = "1.0.0"
REF_TEMPLATE = "#/components/schemas/{model}"
# Statuses that any authenticated operation can return.
COMMON_PROBLEMS = (401, 403, 404, 429, 500)
BODY_PROBLEMS = (400, 413, 415, 422)
DESCRIPTIONS = {problem.status: problem.title for problem in ALL_TYPES}
RULE_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str) -> str:
    return blueprint.url_prefix + RULE_PARAMETER.sub(r"{\2}", rule)


def _path_parameters(rule: str) -> list[dict]:
    parameters = []
    for converter, name in RULE_PARAMETER.findall(rule):
        schema = INTEGER_ID if converter == "int" else PATH_PARAMETERS[name]
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel], definitions: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    definitions.update(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    parameters = []
    for name, property_schema in schema["properties"].items():
        parameter = {"name": name, "in": "query", "required": name in required, "schema": property_schema}
        if "description" in property_schema:
            parameter["description"] = property_schema["description"]
        parameters.append(parameter)
    return parameters


def _problem_statuses(spec: Operation) -> list[int]:
    statuses = set(COMMON_PROBLEMS) | set(spec.problems)
    if spec.query is not None:
        statuses.add(422)
    if spec.body is not None:
        statuses.update(BODY_PROBLEMS)
    if spec.if_match is not None:
        statuses.add(412)
    if spec.if_match == "required":
        statuses.add(428)
    return sorted(statuses)


def _operation(spec: Operation, refs: dict, definitions: dict) -> dict:
    parameters = _path_parameters(spec.rule)
    if spec.query is not None:
        parameters += _query_parameters(spec.query, definitions)
    if spec.if_match is not None:
        parameters.append({
            "name": "If-Match",
            "in": "header",
            "required": spec.if_match == "required",
            "description": "The instance's current ETag; 412 when it is stale" + (", 428 when missing." if spec.if_match == "required" else "."),
            "schema": {"type": "string"},
        })

    success: dict = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {"application/json": {"schema": refs[(spec.response, "serialization")]}}
    if spec.etag:
        success["headers"] = {"ETag": {"description": "The instance's current ETag.", "schema": {"type": "string"}}}
    responses = {str(spec.status): success}
    for status in _problem_statuses(spec):
        responses[str(status)] = {
            "description": DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": refs[(Problem, "serialization")]}},
        }

    document = {
        "operationId": spec.endpoint,
        "summary": spec.summary,
        "tags": [spec.tag],
        "x-roles": sorted(spec.roles),
        "parameters": parameters,
        "responses": responses,
    }
    if spec.description:
        document["description"] = spec.description + "\n\nRoles: " + ", ".join(sorted(spec.roles)) + "."
    else:
        document["description"] = "Roles: " + ", ".join(sorted(spec.roles)) + "."
    if spec.body is not None:
        document["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[(spec.body, "validation")]}}}
    return document


@cache
def build_document() -> dict:
    """Build the document once per process from every operation registered on the blueprint."""
    models = {(Problem, "serialization")}
    for spec in OPERATIONS:
        if spec.body is not None:
            models.add((spec.body, "validation"))
        if spec.response is not None:
            models.add((spec.response, "serialization"))
    refs, schemas = models_json_schema(sorted(models, key=lambda item: (item[0].__name__, item[1])), ref_template=REF_TEMPLATE)
    definitions = dict(schemas.get("$defs", {}))

    paths: dict[str, dict] = {}
    for spec in OPERATIONS:
        paths.setdefault(_openapi_path(spec.rule), {})[spec.method.lower()] = _operation(spec, refs, definitions)

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Care Place API",
            "version": API_VERSION,
            "description": "The JSON API for the council's other systems. Errors are RFC 9457 problem details; see docs/api.md.",
        },
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "A service account token from 'careplace token create'."}},
        },
    }


@blueprint.get("/openapi.json")
def openapi_document():
    """Serve the document without authentication: it describes the API and contains no data."""
    return Response(json.dumps(build_document()), mimetype="application/json")

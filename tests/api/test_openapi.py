"""The OpenAPI document: it covers every API route, and schemathesis finds no server error or response that breaks it."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance

from web.api.operations import blueprint


def test_openapi_document_is_3_1(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_openapi_document_covers_every_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}

    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{blueprint.name}.") and rule.endpoint != "api.openapi_document":
            path = rule.rule
            for name in rule.arguments:
                path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>", f"{{{name}}}")
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert routes == documented


def test_openapi_marks_if_match_required_on_complete(client):
    document = client.get("/api/v1/openapi.json").get_json()
    parameters = document["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["parameters"]

    assert {"name": "If-Match", "required": True} .items() <= next(p for p in parameters if p["name"] == "If-Match").items()


@pytest.mark.slow
def test_api_conforms_to_openapi(app, tokens, deployed, instance, enquiry_id, billing):
    """Call each operation with generated data as an admin and check status codes, media types and bodies against the document."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=checks)

        check()

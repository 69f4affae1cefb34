"""Incidents through the API: list and read them, and retry one with corrected variables."""

import sqlalchemy as sa

from engine.jobs import retry_incident
from engine.models import Incident, Instance
from web.access import services
from web.api import paging
from web.api.auth import Principal
from web.api.etags import check_if_match, instance_etag
from web.api.operations import json_response, operation
from web.api.problems import NOT_FOUND, ApiError
from web.api.roles import ADMIN_ONLY, OPERATORS
from web.api.schemas import IncidentOut, IncidentPage, IncidentQuery, RetryIncident

TAG = "Incidents"


def _read_incident(incident_id: int) -> Incident:
    with services().session_factory() as db:
        incident = db.get(Incident, incident_id)
    if incident is None:
        raise ApiError(NOT_FOUND, f"incident {incident_id} not found; check the id")
    return incident


@operation("GET", "/incidents", summary="List incidents, newest first", tag=TAG, roles=OPERATORS, query=IncidentQuery, response=IncidentPage)
def list_incidents(principal: Principal, query: IncidentQuery):
    statement = sa.select(Incident).order_by(Incident.id.desc()).limit(query.limit + 1)
    if query.status != "all":
        statement = statement.where(Incident.status == query.status)
    if query.cursor:
        (last_id,) = paging.decode_cursor(query.cursor, (int,))
        statement = statement.where(Incident.id < last_id)

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
    items, next_url = paging.page(rows, query.limit, lambda incident: (incident.id,))
    page = IncidentPage(items=[IncidentOut.model_validate(row) for row in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation("GET", "/incidents/<int:incident_id>", summary="Read an incident", tag=TAG, roles=OPERATORS, response=IncidentOut)
def get_incident(principal: Principal, incident_id: int):
    return json_response(IncidentOut.model_validate(_read_incident(incident_id)))


@operation(
    "POST", "/incidents/<int:incident_id>/retry", summary="Retry an open incident", tag=TAG, roles=ADMIN_ONLY,
    body=RetryIncident, response=IncidentOut, problems=(409,), if_match="optional", etag=True,
)
def retry(principal: Principal, incident_id: int, body: RetryIncident):
    """Apply the corrected variables and run the failed job or script again.

    If-Match is optional here; when sent, it must be the current ETag of the incident's instance.
    """
    incident = _read_incident(incident_id)
    with services().session_factory() as db:
        row_version = db.scalar(sa.select(Instance.row_version).where(Instance.id == incident.instance_id))
    check_if_match(incident.instance_id, row_version, required=False)

    retry_incident(services().session_factory, incident_id, principal.actor_name, body.variables)
    with services().session_factory() as db:
        row_version = db.scalar(sa.select(Instance.row_version).where(Instance.id == incident.instance_id))
    return json_response(IncidentOut.model_validate(_read_incident(incident_id)), headers={"ETag": instance_etag(row_version)})

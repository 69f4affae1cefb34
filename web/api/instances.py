"""Process instances through the API: start one, list and read them with their history, and send messages."""

from datetime import datetime

import sqlalchemy as sa
from flask import url_for
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy.orm.exc import StaleDataError

from care.models.people import Role
from engine.errors import ConflictError
from engine.models import AuditEvent, Instance, MessageWait, ProcessVersion
from engine.serializer import spec_from_json
from web.access import services
from web.api import paging
from web.api.auth import Principal
from web.api.etags import check_if_match, instance_etag
from web.api.operations import json_response, operation
from web.api.problems import CONFLICT, MESSAGE_NOT_DELIVERED, NOT_FOUND, VALIDATION_FAILED, ApiError
from web.api.roles import CASEWORK, STAFF
from web.api.schemas import (
    AuditEventOut,
    Delivery,
    HistoryPage,
    HistoryQuery,
    InstanceMessage,
    InstanceOut,
    InstancePage,
    InstanceQuery,
    SendMessage,
    StartInstance,
)

TAG = "Instances"


def instance_out(row: Instance) -> InstanceOut:
    return InstanceOut.model_validate({**{key: getattr(row, key) for key in InstanceOut.model_fields if key != "etag"}, "etag": instance_etag(row.row_version)})


def _instance_response(row: Instance, status: int = 200, headers: dict | None = None):
    return json_response(instance_out(row), status, {"ETag": instance_etag(row.row_version), **(headers or {})})


def _read_instance(instance_id: str) -> Instance:
    with services().session_factory() as db:
        row = db.get(Instance, instance_id)
    if row is None:
        raise ApiError(NOT_FOUND, f"instance {instance_id!r} not found; check the id")
    return row


def _start_message_names(process_id: str) -> list[str]:
    """Return the message names of the message start events of the newest version of ``process_id``.

    Returns an empty list when the process does not exist, so that the engine reports it as not found.
    """
    with services().session_factory() as db:
        spec_json = db.scalars(
            sa.select(ProcessVersion.spec_json).where(ProcessVersion.process_id == process_id).order_by(ProcessVersion.version.desc()).limit(1)
        ).first()
    if spec_json is None:
        return []

    spec, _subprocesses = spec_from_json(spec_json)
    return sorted(
        task_spec.event_definition.name
        for task_spec in spec.task_specs.values()
        if isinstance(task_spec, StartEvent) and isinstance(task_spec.event_definition, MessageEventDefinition)
    )


@operation(
    "POST", "/processes/<process_id>/instances", summary="Start an instance of the newest version of a process", tag=TAG,
    roles=CASEWORK, body=StartInstance, response=InstanceOut, status=201, etag=True,
)
def start_instance(principal: Principal, process_id: str, body: StartInstance):
    """Start the instance and run it until it waits; the response has its ETag and a Location header.

    A process that starts on a message is rejected with 422, because its instance would wait at the
    start event for a message that only POST /messages delivers. The caller sends that message instead.
    """
    message_names = _start_message_names(process_id)
    if message_names:
        names = ", ".join(repr(name) for name in message_names)
        raise ApiError(
            VALIDATION_FAILED,
            f"process {process_id!r} starts on message {names}, so it cannot be started here; "
            "an admin token starts it by sending that message with POST /api/v1/messages",
            errors=[{"field": "process_id", "message": f"starts on message {names}"}],
        )

    instance_id = services().engine.start(process_id, business_key=body.business_key, data=body.variables, actor=principal.actor_name)
    row = _read_instance(instance_id)
    return _instance_response(row, 201, {"Location": url_for("api.get_instance", instance_id=instance_id)})


@operation("GET", "/instances", summary="List instances, newest first", tag=TAG, roles=STAFF, query=InstanceQuery, response=InstancePage)
def list_instances(principal: Principal, query: InstanceQuery):
    statement = sa.select(Instance).order_by(Instance.created_at.desc(), Instance.id.desc()).limit(query.limit + 1)
    if query.process_id:
        statement = statement.where(Instance.process_id == query.process_id)
    if query.status:
        statement = statement.where(Instance.status == query.status)
    if query.business_key:
        statement = statement.where(Instance.business_key == query.business_key)
    if query.cursor:
        key = paging.decode_cursor(query.cursor, (datetime, str))
        statement = statement.where(paging.after((Instance.created_at, Instance.id), key, descending=True))

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
    items, next_url = paging.page(rows, query.limit, lambda row: (row.created_at, row.id))
    return json_response(InstancePage(items=[instance_out(row) for row in items], next=next_url), headers=paging.link_header(next_url))


@operation("GET", "/instances/<instance_id>", summary="Read an instance, with its ETag", tag=TAG, roles=STAFF, response=InstanceOut, etag=True)
def get_instance(principal: Principal, instance_id: str):
    return _instance_response(_read_instance(instance_id))


@operation(
    "GET", "/instances/<instance_id>/history", summary="Read an instance's audit history, oldest first", tag=TAG,
    roles=STAFF, query=HistoryQuery, response=HistoryPage,
)
def instance_history(principal: Principal, instance_id: str, query: HistoryQuery):
    """Return the instance's audit events: who did what and when, with ids and field names but no values."""
    _read_instance(instance_id)
    statement = sa.select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id).limit(query.limit + 1)
    if query.cursor:
        (last_id,) = paging.decode_cursor(query.cursor, (int,))
        statement = statement.where(AuditEvent.id > last_id)

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
    items, next_url = paging.page(rows, query.limit, lambda row: (row.id,))
    page = HistoryPage(items=[AuditEventOut.model_validate(row) for row in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation(
    "POST", "/messages", summary="Send a message to the instances waiting for it", tag=TAG,
    roles=CASEWORK, body=SendMessage, response=Delivery, problems=(409,),
)
def send_message(principal: Principal, body: SendMessage):
    """Deliver the message to every running instance waiting for it, narrowed by business key and correlation.

    When none waits and the token is an admin's, the process that starts on this message is started instead.
    Otherwise the call returns 409, so a care manager cannot start a payment run or a year-end review.
    """
    delivered = services().engine.send_message(
        body.name,
        body.payload,
        business_key=body.business_key,
        correlation=body.correlation,
        actor=principal.actor_name,
        allow_start=principal.role == Role.ADMIN,
    )
    return json_response(Delivery(delivered_to=delivered))


@operation(
    "POST", "/instances/<instance_id>/messages", summary="Send a message to one instance", tag=TAG,
    roles=CASEWORK, body=InstanceMessage, response=Delivery, problems=(409,), if_match="required", etag=True,
)
def send_instance_message(principal: Principal, instance_id: str, body: InstanceMessage):
    """Deliver the message to this instance only, when If-Match has its current ETag.

    The message goes with the instance's business key and correlation values. When those would
    also reach another instance, nothing is delivered and the call returns 409.
    """
    engine = services().engine
    try:
        with services().session_factory.begin() as db:
            row = db.get(Instance, instance_id, with_for_update=True)
            if row is None:
                raise ApiError(NOT_FOUND, f"instance {instance_id!r} not found; check the id")
            check_if_match(instance_id, row.row_version, required=True)

            wait = db.scalars(sa.select(MessageWait).where(MessageWait.instance_id == instance_id, MessageWait.message_name == body.name).limit(1)).first()
            if wait is None or row.status != "running":
                raise ApiError(MESSAGE_NOT_DELIVERED, f"instance {instance_id} ({row.status}) is not waiting for message {body.name!r}; check the message name")

            delivered = engine.send_message(
                body.name, body.payload, business_key=row.business_key, correlation=dict(wait.correlation or {}), actor=principal.actor_name, session=db
            )
            if delivered != [instance_id]:
                others = len([other for other in delivered if other != instance_id])
                raise ApiError(
                    CONFLICT,
                    f"message {body.name!r} would also reach {others} other instances with the same business key and correlation, "
                    "so nothing was sent; use POST /api/v1/messages to send it to all of them",
                )
    except StaleDataError as error:
        raise ConflictError(f"instance {instance_id} was changed by someone else at the same time; read it again and retry") from error

    # NOTE: the engine runs its after-commit hooks (the worker wake-up) only for transactions it opens itself.
    engine.notify_committed()
    current = _read_instance(instance_id)
    return json_response(Delivery(delivered_to=delivered), headers={"ETag": instance_etag(current.row_version)})

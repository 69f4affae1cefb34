"""Human tasks through the API: list, read with the form, claim, release and complete with the portal's form validation."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from care.roles import provider_group
from engine.models import HumanTask, Instance
from engine.runtime import Engine
from web.access import services
from web.api import paging
from web.api.auth import Principal
from web.api.etags import check_if_match, instance_etag
from web.api.operations import json_response, operation
from web.api.problems import NOT_FOUND, ApiError
from web.api.roles import ALL_ROLES
from web.api.schemas import CompleteTask, FormFieldOut, FormOption, TaskDetail, TaskOut, TaskPage, TaskQuery

TAG = "Tasks"


def task_out(task: HumanTask) -> TaskOut:
    return TaskOut.model_validate(_task_fields(task))


def _task_fields(task: HumanTask) -> dict:
    fields = {key: getattr(task, key) for key in TaskOut.model_fields if key != "candidate_groups"}
    fields["candidate_groups"] = sorted(candidate.group_name for candidate in task.candidates)
    return fields


def _row_version(instance_id: str) -> int:
    with services().session_factory() as db:
        row_version = db.scalar(sa.select(Instance.row_version).where(Instance.id == instance_id))
    if row_version is None:
        raise ApiError(NOT_FOUND, f"instance {instance_id!r} not found; check the id")
    return row_version


def _check_provider_may_see(principal: Principal, task_id: str) -> None:
    """Raise 404 when a provider token names a task neither offered to its provider nor assigned to it.

    Another provider's task then looks the same as a task that does not exist, as other provider records do.
    """
    if not principal.is_provider:
        return

    group = provider_group(principal.provider_id)
    with services().session_factory() as db:
        task = db.get(HumanTask, task_id, options=[selectinload(HumanTask.candidates)])
        visible = task is not None and (task.assignee == principal.actor_name or any(candidate.group_name == group for candidate in task.candidates))

    if not visible:
        raise ApiError(NOT_FOUND, f"task {task_id!r} not found; check the id")


@operation("GET", "/tasks", summary="List the open tasks this token may work on, oldest first", tag=TAG, roles=ALL_ROLES, query=TaskQuery, response=TaskPage)
def list_tasks(principal: Principal, query: TaskQuery):
    """Return open tasks assigned to this service account or offered to its role's group (its provider's, for a provider token)."""
    # NOTE: this reuses the engine's visibility query so the API and the portal share one rule; the engine does not make it public yet.
    statement = Engine.task_query(principal.actor(), "open", query.mine).order_by(HumanTask.created_at, HumanTask.id).limit(query.limit + 1)
    if query.process_id:
        statement = statement.where(HumanTask.process_id == query.process_id)
    if query.business_key:
        statement = statement.where(HumanTask.business_key == query.business_key)
    if query.cursor:
        key = paging.decode_cursor(query.cursor, (datetime, str))
        statement = statement.where(paging.after((HumanTask.created_at, HumanTask.id), key))

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
        items, next_url = paging.page(rows, query.limit, lambda task: (task.created_at, task.id))
        page = TaskPage(items=[task_out(task) for task in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation("GET", "/tasks/<task_id>", summary="Read a task with its form fields and current values", tag=TAG, roles=ALL_ROLES, response=TaskDetail, etag=True)
def get_task(principal: Principal, task_id: str):
    """Return the task and its form. The ETag header is the instance's, because completing the task changes the instance."""
    _check_provider_may_see(principal, task_id)
    form = services().engine.task_form(task_id, principal.actor())
    row_version = _row_version(form.task.instance_id)
    fields = [
        FormFieldOut(
            id=field.id, type=field.type, label=field.label, default=field.default, required=field.required, readonly=field.readonly,
            minimum=field.minimum, maximum=field.maximum, min_length=field.min_length, max_length=field.max_length, pattern=field.pattern,
            options=[FormOption(id=option_id, name=name) for option_id, name in field.options],
        )
        for field in form.fields
    ]
    detail = TaskDetail(
        **_task_fields(form.task), fields=fields, values=form.values, documentation=form.documentation, instance_etag=instance_etag(row_version)
    )
    return json_response(detail, headers={"ETag": instance_etag(row_version)})


@operation("POST", "/tasks/<task_id>/claim", summary="Claim a task for this service account", tag=TAG, roles=ALL_ROLES, response=TaskOut, problems=(409,))
def claim_task(principal: Principal, task_id: str):
    _check_provider_may_see(principal, task_id)
    engine = services().engine
    engine.claim(task_id, principal.actor())
    return json_response(task_out(engine.get_task(task_id, principal.actor())))


@operation("POST", "/tasks/<task_id>/release", summary="Release a claimed task back to its groups", tag=TAG, roles=ALL_ROLES, response=TaskOut, problems=(409,))
def release_task(principal: Principal, task_id: str):
    _check_provider_may_see(principal, task_id)
    engine = services().engine
    engine.release(task_id, principal.actor())
    return json_response(task_out(engine.get_task(task_id, principal.actor())))


@operation(
    "POST", "/tasks/<task_id>/complete", summary="Complete a task with form values", tag=TAG, roles=ALL_ROLES,
    body=CompleteTask, response=TaskOut, problems=(409,), if_match="required", etag=True,
)
def complete_task(principal: Principal, task_id: str, body: CompleteTask):
    """Check the values as the portal form does (422 lists every invalid field), complete the task and run the instance until it waits.

    If-Match must carry the instance's current ETag, from GET /tasks/{task_id} or the instance.
    """
    _check_provider_may_see(principal, task_id)
    engine = services().engine
    actor = principal.actor()
    task = engine.get_task(task_id, actor)
    # NOTE: this check and the completion are two transactions, so a change between them is not reported as 412;
    # the engine's own version check still turns it into a 409 rather than a lost update.
    check_if_match(task.instance_id, _row_version(task.instance_id), required=True)
    engine.complete(task_id, body.variables, actor)

    with services().session_factory() as db:
        completed = db.get(HumanTask, task_id)
        reply = task_out(completed)
    return json_response(reply, headers={"ETag": instance_etag(_row_version(task.instance_id))})

"""Human tasks: my tasks and my groups' tasks, claim and release, and the task form built from the diagram's fields."""

import logging
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from care.models.people import User
from engine import clock
from engine.errors import FormValidationError
from engine.models import HumanTask
from engine.runtime import Actor
from web.access import ALL_ROLES, actor_for, roles_required, services
from web.forms import ActionForm
from web.paging import fetch_page, page_number
from web.taskforms import field_views, submitted_values

log = logging.getLogger(__name__)

blueprint = Blueprint("tasks", __name__, url_prefix="/tasks")

VIEWS = ("all", "mine")
DUE_SOON = timedelta(hours=24)


@blueprint.get("")
@roles_required(*ALL_ROLES)
def task_list():
    view = request.args.get("view", "all")
    if view not in VIEWS:
        abort(404)
    process_id = request.args.get("process") or None
    overdue_only = request.args.get("due") == "overdue"
    page = page_number()

    engine = services().engine
    actor = actor_for(current_user)
    now = clock.now()
    tasks = fetch_page(
        lambda limit, offset: engine.list_tasks(
            actor,
            mine_only=view == "mine",
            process_id=process_id,
            overdue_at=now if overdue_only else None,
            limit=limit,
            offset=offset,
            with_candidates=False,
        ),
        page,
    )
    if view == "all" and process_id is None and not overdue_only and page == 1 and not tasks.has_next:
        # This page contains every open task the actor may see, so it already has the filter's choices.
        process_ids = sorted({task.process_id for task in tasks.items})
    else:
        process_ids = _visible_process_ids(actor, process_id)
    filters = {"view": view, "process": process_id or "", "due": "overdue" if overdue_only else ""}
    return render_template("tasks/list.html", tasks=tasks, now=now, due_soon=now + DUE_SOON, process_ids=process_ids, filters=filters)


def _visible_process_ids(actor: Actor, selected: str | None) -> list[str]:
    """Return the process ids of the open tasks the actor may see, for the filter's choices, with the selected one kept.

    Listing every deployed process instead would show a provider the council's processes.
    """
    query = services().engine.task_query(actor).with_only_columns(HumanTask.process_id).distinct()
    with services().session_factory() as db:
        process_ids = set(db.scalars(query))

    if selected:
        process_ids.add(selected)
    return sorted(process_ids)


@blueprint.post("/<task_id>/claim")
@roles_required(*ALL_ROLES)
def claim(task_id: str):
    if not ActionForm().validate_on_submit():
        abort(400)

    services().engine.claim(task_id, actor_for(current_user))
    flash("You have claimed the task. It is now in your tasks.", "info")
    return redirect(url_for("tasks.task_page", task_id=task_id))


@blueprint.post("/<task_id>/release")
@roles_required(*ALL_ROLES)
def release(task_id: str):
    if not ActionForm().validate_on_submit():
        abort(400)

    services().engine.release(task_id, actor_for(current_user))
    flash("You have released the task. Others in its groups can claim it now.", "info")
    return redirect(url_for("tasks.task_list"))


@blueprint.route("/<task_id>", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def task_page(task_id: str):
    engine = services().engine
    actor = actor_for(current_user)
    form = engine.task_form(task_id, actor)
    values = dict(form.values)
    errors: dict[str, str] = {}
    action_form = ActionForm()

    if request.method == "POST":
        if not action_form.validate_on_submit():
            abort(400)
        submitted = submitted_values(form.fields, request.form)
        try:
            engine.complete(task_id, submitted, actor)
        except FormValidationError as error:
            values.update(submitted)
            for field_error in error.errors:
                errors[field_error.field] = f"{errors[field_error.field]} and {field_error.message}" if field_error.field in errors else field_error.message
            log.info("task %s: form returned with %d field errors", task_id, len(error.errors))
        else:
            flash(f"Task “{form.task.name or form.task.element_id}” is complete.", "info")
            return redirect(url_for("tasks.task_list"))

    labels = {field.id: field.label for field in form.fields}
    summary = [(field_id, f"{labels.get(field_id, field_id)} {message}") for field_id, message in errors.items()]
    status = 422 if errors else 200
    completed_by = _completed_by_name(form.task.completed_by)
    return (
        render_template(
            "tasks/form.html", form=form, task=form.task, fields=field_views(form.fields, values, errors), summary=summary, action_form=action_form, now=clock.now(), completed_by=completed_by
        ),
        status,
    )


def _completed_by_name(actor: str | None) -> str | None:
    """Return the display name of the user who completed a task; other actors (a system job, the CLI) by their id."""
    # Web actors are user ids; "²".isdigit() is also true, so check for ASCII digits.
    if actor is None or not (actor.isascii() and actor.isdigit()):
        return actor
    with services().session_factory() as db:
        user = db.get(User, int(actor))
    return user.display_name if user is not None else actor

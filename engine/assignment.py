"""Evaluating a user task's assignee, candidate groups and due date when it becomes ready."""

from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.expressions import is_iso_timer_literal
from engine.specs import camunda_attributes, parse_timer_value

# Key of the internal data in which a ready user task keeps its evaluated assignee, groups and due date.
ASSIGNMENT_KEY = "careplace_assignment"


def _evaluate_attribute(workflow, task, text: str | None):
    if not text:
        return None
    if "${" in text or "#{" in text:
        return workflow.script_engine.evaluate(task, text)
    return text


def resolve_groups(workflow, task, entries: list[str]) -> list[str]:
    """Resolve candidate groups; an ``${...}`` entry may give one group name or a list of them."""
    groups: list[str] = []
    for entry in entries:
        value = _evaluate_attribute(workflow, task, entry)
        values = value if isinstance(value, (list, tuple, set)) else [value]
        groups.extend(str(item) for item in values if item)
    for group in groups:
        # Task rows keep their groups comma-separated, which access checks read.
        if "," in group:
            raise ValueError(f"candidate group {group!r} contains a comma; give each group as its own list item")
    return list(dict.fromkeys(groups))


def resolve_due_date(workflow, task, text: str | None, created: datetime) -> datetime | None:
    """Turn ``camunda:dueDate`` (an ISO duration from creation, a date-time, or an expression) into UTC."""
    value = text if (text and is_iso_timer_literal(text)) else _evaluate_attribute(workflow, task, text)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(created.tzinfo)
    parsed = parse_timer_value(str(value))
    if isinstance(parsed, dict):
        return created + TimerEventDefinition.get_timedelta_from_start(parsed, created)
    return parsed


def resolve_assignment(workflow, task, now: datetime) -> dict:
    """Evaluate a user task's assignee, candidate groups and due date, and keep them on the task.

    Raises the script engine's error when an expression fails, so the caller
    can open an incident for the task instead of saving a half-made task row.
    """
    attributes = camunda_attributes(task.task_spec)
    assignee = _evaluate_attribute(workflow, task, attributes.get("assignee"))
    groups = resolve_groups(workflow, task, attributes.get("candidateGroups", []))
    due_at = resolve_due_date(workflow, task, attributes.get("dueDate"), now)
    assignment = {"assignee": str(assignee) if assignee else None, "groups": groups, "due_at": due_at.isoformat() if due_at else None}
    task.internal_data[ASSIGNMENT_KEY] = assignment
    return assignment

"""Task specs and event definitions the engine adds to SpiffWorkflow's Camunda support.

- ``ExternalServiceTask``: a ``camunda:type="external"`` service task that waits
  in READY until the worker runs the handler for its topic.
- Timer definitions that read ``engine.clock.now()``, fire at the due instant
  (not only after it), accept unquoted ISO 8601 literals as Camunda Modeler
  writes them, and read a ``timeDate`` without a zone as Europe/London time.
- A message definition whose payload (a dict) merges into the process data
  unless the catch event names a ``camunda:resultVariable``.
"""

from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.expressions import is_iso_timer_literal

# The key under ``task_spec.extensions`` where the parser keeps the Camunda attributes it reads.
CAMUNDA_KEY = "camunda"


def camunda_attributes(task_spec) -> dict:
    """Return the Camunda attributes (assignee, topic, input mappings...) the parser stored on a spec."""
    extensions = getattr(task_spec, "extensions", None) or {}
    return extensions.get(CAMUNDA_KEY, {})


class ExternalServiceTask(BpmnSpecMixin):
    """A service task run by a handler in the worker; ``manual`` keeps engine steps from running it."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True

    @property
    def topic(self) -> str:
        return camunda_attributes(self)["topic"]


def parse_timer_value(text: str) -> datetime | dict:
    """Parse a timer date or duration text; naive date-times are Europe/London time, results are UTC."""
    value = text.strip()
    if value.upper().startswith("P"):
        return TimerEventDefinition.parse_iso_duration(value)

    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.LONDON)
    return parsed.astimezone(timezone.utc)


def parse_cycle(text: str, start: datetime) -> tuple[int, datetime, timedelta]:
    """Parse ``R[n]/[start/]duration`` into (repetitions, first due time, interval); -1 means unbounded."""
    parts = text.strip().upper().split("/")
    if len(parts) not in (2, 3) or not parts[0].startswith("R"):
        raise ValueError(f"timer cycle {text!r} is not of the form R[n]/[start/]duration, e.g. R3/PT1H")

    repetitions = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 3:
        first = parse_timer_value(parts[1])
        duration = parts[2]
    else:
        first = None
        duration = parts[1]
    interval = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(duration), start)
    if interval <= timedelta(0):
        raise ValueError(f"timer cycle {text!r} has a zero interval; give a positive duration")

    return repetitions, first or start + interval, interval


def _timer_expression(my_task, expression: str) -> str:
    if is_iso_timer_literal(expression):
        return expression.strip()

    value = my_task.workflow.script_engine.evaluate(my_task, expression)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _due_reached(due: datetime) -> bool:
    return due <= clock.now()


class ClockTimeDateEventDefinition(TimeDateEventDefinition):
    """A ``timeDate`` timer read against the engine clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = parse_timer_value(_timer_expression(my_task, self.expression)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if _due_reached(datetime.fromisoformat(event_value)):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockDurationTimerEventDefinition(DurationTimerEventDefinition):
    """A ``timeDuration`` timer measured from when the event is reached, on the engine clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            parsed = TimerEventDefinition.parse_iso_duration(_timer_expression(my_task, self.expression))
            start = clock.now()
            event_value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if _due_reached(datetime.fromisoformat(event_value)):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockCycleTimerEventDefinition(CycleTimerEventDefinition):
    """A ``timeCycle`` timer on the engine clock.

    Missed repetitions are not replayed one by one: when the worker was down
    across several due times, the cycle fires once and the next due time
    moves to the first one after now (the repetitions skipped still count).

    Only a non-interrupting boundary event or a start event repeats. On an
    intermediate catch event, an event-based gateway or an interrupting
    boundary event one token passes, so the cycle fires once, at its first
    due time. SpiffWorkflow 3.2.0 alone would add a token at every
    repetition there and never interrupt the activity.
    """

    def has_fired(self, my_task):
        if _repeats(my_task.task_spec):
            return super().has_fired(my_task)

        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            repetitions, first, interval = parse_cycle(_timer_expression(my_task, self.expression), clock.now())
            event_value = {"cycles": repetitions, "next": first.isoformat(), "duration": interval.total_seconds()}
            my_task._set_internal_data(event_value=event_value)
        if not my_task._get_internal_data("event_fired", False) and _due_reached(datetime.fromisoformat(event_value["next"])):
            my_task._set_internal_data(event_fired=True)
            # A cycle event's outputs are never predicted, so add them as the base class does when a cycle fires.
            for output in my_task.task_spec.outputs:
                child = my_task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
        return my_task._get_internal_data("event_fired", False)

    def update_task(self, my_task):
        if _repeats(my_task.task_spec):
            super().update_task(my_task)

    def cycle_complete(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            repetitions, first, interval = parse_cycle(_timer_expression(my_task, self.expression), clock.now())
            event_value = {"cycles": repetitions, "next": first.isoformat(), "duration": interval.total_seconds()}

        ready = False
        if event_value["cycles"] != 0:
            due = datetime.fromisoformat(event_value["next"])
            now = clock.now()
            if _due_reached(due):
                interval = timedelta(seconds=event_value["duration"])
                missed = int((now - due) / interval)
                skipped = missed if event_value["cycles"] < 0 else min(missed, event_value["cycles"] - 1)
                event_value["next"] = (due + interval * (skipped + 1)).isoformat()
                if event_value["cycles"] > 0:
                    event_value["cycles"] -= 1 + skipped
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True

        my_task._set_internal_data(event_value=event_value)
        return ready


def _repeats(task_spec) -> bool:
    return isinstance(task_spec, StartEvent) or (isinstance(task_spec, BoundaryEvent) and not task_spec.cancel_activity)


class PayloadMessageEventDefinition(MessageEventDefinition):
    """A Camunda message whose dict payload becomes process variables."""

    def update_internal_data(self, my_task, event):
        payload = event.payload if isinstance(event.payload, dict) else {"payload": event.payload}
        if "result_var" not in payload:
            payload = {"payload": payload, "result_var": None}
        my_task.internal_data[self.name] = payload

    def update_task_data(self, my_task):
        event_data = my_task.internal_data.get(self.name) or {}
        payload = event_data.get("payload")
        result_var = self.result_var or event_data.get("result_var")
        if result_var:
            my_task.data[result_var] = payload
        elif isinstance(payload, dict):
            my_task.data.update(payload)
        elif payload is not None:
            my_task.data[f"{my_task.task_spec.bpmn_id}_payload"] = payload


__all__ = [
    "CAMUNDA_KEY",
    "ClockCycleTimerEventDefinition",
    "ClockDurationTimerEventDefinition",
    "ClockTimeDateEventDefinition",
    "ExternalServiceTask",
    "PayloadMessageEventDefinition",
    "camunda_attributes",
    "parse_cycle",
    "parse_timer_value",
]

"""Write the old-release SpiffWorkflow fixtures that tests/engine/test_state_migration.py loads.

Run it once per serializer version, with an old SpiffWorkflow release in a
throwaway virtualenv (the service's own 3.2.0 writes version 1.5, which needs
no migration):

    python3.11 -m venv /tmp/spiff-3.1.2 && /tmp/spiff-3.1.2/bin/pip install spiffworkflow==3.1.2
    /tmp/spiff-3.1.2/bin/python tests/engine/states/make_old_states.py    # serializer version 1.4

    python3.11 -m venv /tmp/spiff-3.0.0 && /tmp/spiff-3.0.0/bin/pip install spiffworkflow==3.0.0
    /tmp/spiff-3.0.0/bin/python tests/engine/states/make_old_states.py    # serializer version 1.3

The fixtures committed beside this script were written by SpiffWorkflow 3.1.2
and 3.0.0 with lxml 6.2.0 on Python 3.11. Each run writes two files named after
the serializer version that the release writes:

- ``placement_follow_up_<version>_state.json``: the instance state, with
  ``spec`` and ``subprocess_specs`` removed, as the engine stores it.
- ``placement_follow_up_<version>_spec.json``: the spec dicts that were
  removed, in the ``{"spec": ..., "subprocess_specs": ...}`` layout of the
  engine's ``spec_to_json``.

The workflow runs ``tests/engine/diagrams/state_migration.bpmn`` with the stock
Camunda parser: it completes the user task ``agree_plan`` with made-up data and
stops inside the embedded subprocess, waiting at the event-based gateway.
Task ids and state-change times differ on each run.
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

HERE = Path(__file__).parent
DIAGRAM = HERE.parent / "diagrams" / "state_migration.bpmn"
PROCESS_ID = "placement_follow_up"

# The tests stop the engine clock here too, so the 48-hour timer is due at 2030-01-09 09:00 UTC.
START_TIME = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)

# The stock script engine evaluates a timer expression as Python, so the bare ISO 8601
# duration that Camunda Modeler writes is quoted here. The state stores only the due time.
TIMER_EXPRESSION = ("<bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">PT48H<", "<bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">\"PT48H\"<")


class FrozenDatetime(datetime):
    """A datetime class whose ``now`` returns START_TIME, for the timer module of the old release."""

    @classmethod
    def now(cls, tz=None):
        return START_TIME if tz is None else START_TIME.astimezone(tz)


def run_to_gateway() -> BpmnWorkflow:
    """Parse the diagram, complete ``agree_plan`` and stop at the gateway inside the subprocess."""
    source = DIAGRAM.read_text(encoding="utf-8")
    if TIMER_EXPRESSION[0] not in source:
        sys.exit(f"{DIAGRAM}: timer expression PT48H not found; update TIMER_EXPRESSION")
    parser = CamundaParser()
    parser.add_bpmn_str(source.replace(*TIMER_EXPRESSION).encode("utf-8"), filename=DIAGRAM.name)
    workflow = BpmnWorkflow(parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID))

    with mock.patch("SpiffWorkflow.bpmn.specs.event_definitions.timer.datetime", FrozenDatetime):
        workflow.do_engine_steps()
        ready = [task for task in workflow.get_tasks(state=TaskState.READY) if task.task_spec.name == "agree_plan"]
        if len(ready) != 1:
            sys.exit(f"expected one READY agree_plan task, found {len(ready)}")
        ready[0].data.update({"care_plan_ref": "PLAN-0042", "weekly_hours": 12})
        ready[0].run()
        workflow.do_engine_steps()

    waiting = sorted(task.task_spec.name for task in workflow.get_tasks(state=TaskState.WAITING))
    print("waiting:", ", ".join(waiting))
    return workflow


def main() -> None:
    workflow = run_to_gateway()
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    state = json.loads(serializer.serialize_json(workflow))
    version = state[serializer.VERSION_KEY]
    spec = {"spec": state.pop("spec"), "subprocess_specs": state.pop("subprocess_specs")}

    for kind, content in (("state", state), ("spec", spec)):
        path = HERE / f"{PROCESS_ID}_{version}_{kind}.json"
        path.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
        print("wrote", path)


if __name__ == "__main__":
    main()

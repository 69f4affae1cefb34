"""Serialization of specs (once per version) and instance state (without the spec), Decimal and date safe."""

import json
from copy import deepcopy
from datetime import date, time
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter as BpmnMessageEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessageEventDefinition
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter

from engine.scripting import make_script_engine
from engine.specs import (
    ClockCycleTimerEventDefinition,
    ClockDurationTimerEventDefinition,
    ClockTimeDateEventDefinition,
    ExternalServiceTask,
    PayloadMessageEventDefinition,
)


class _SharedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Restores a workflow around spec objects already built, instead of rebuilding them from JSON."""

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _build_registry() -> DefaultRegistry:
    config = deepcopy(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = _SharedSpecWorkflowConverter
    config[ExternalServiceTask] = BpmnTaskSpecConverter
    config[ClockTimeDateEventDefinition] = TimerConditionalEventDefinitionConverter
    config[ClockDurationTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config[ClockCycleTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config[PayloadMessageEventDefinition] = MessageEventDefinitionConverter
    # Receive tasks are built by the BPMN parser with the plain message definition, which Camunda's config drops.
    config[BpmnMessageEventDefinition] = BpmnMessageEventDefinitionConverter
    registry = BpmnWorkflowSerializer.configure(config)

    registry.register(Decimal, lambda value: {"value": str(value)}, lambda dct: Decimal(dct["value"]))
    registry.register(date, lambda value: {"value": value.isoformat()}, lambda dct: date.fromisoformat(dct["value"]))
    registry.register(time, lambda value: {"value": value.isoformat()}, lambda dct: time.fromisoformat(dct["value"]))
    return registry


SERIALIZER = BpmnWorkflowSerializer(_build_registry())


def spec_to_json(spec, subprocess_specs: dict) -> str:
    """Serialize a process spec and the specs of its subprocesses and call activities."""
    return json.dumps(
        {
            "spec": SERIALIZER.to_dict(spec),
            "subprocess_specs": {name: SERIALIZER.to_dict(sub) for name, sub in subprocess_specs.items()},
        }
    )


@lru_cache(maxsize=256)
def spec_from_json(spec_json: str):
    """Rebuild (spec, subprocess_specs) from JSON; cached, because versions never change once stored."""
    dct = json.loads(spec_json)
    spec = SERIALIZER.from_dict(dct["spec"])
    subprocess_specs = {name: SERIALIZER.from_dict(sub) for name, sub in dct["subprocess_specs"].items()}
    return spec, subprocess_specs


def workflow_to_json(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's state without its spec (the version row stores that)."""
    registry = SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = {
            "data": registry.convert(registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": {str(key): registry.convert(task) for key, task in workflow.tasks.items()},
            "root": str(workflow.task_tree.id),
            "subprocesses": {str(key): registry.convert(sub) for key, sub in workflow.subprocesses.items()},
            "bpmn_events": registry.convert(workflow.bpmn_events),
            SERIALIZER.VERSION_KEY: SERIALIZER.VERSION,
        }
        return json.dumps(dct, cls=SERIALIZER._encoder_cls)
    finally:
        registry._encoder_mode = False


def workflow_from_json(state: str, spec_json: str) -> BpmnWorkflow:
    """Restore a workflow from its state and its version's spec JSON, with the restricted script engine set."""
    spec, subprocess_specs = spec_from_json(spec_json)
    return workflow_from_specs(state, spec, subprocess_specs)


def workflow_from_specs(state: str, spec, subprocess_specs: dict) -> BpmnWorkflow:
    """Restore a workflow from its state around spec objects already built (shared, never changed)."""
    dct = json.loads(state)
    SERIALIZER.migrate(dct)
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    dct["typename"] = SERIALIZER.registry.typenames[BpmnWorkflow]
    workflow = SERIALIZER.from_dict(dct)
    workflow.script_engine = make_script_engine()
    return workflow


def new_workflow(spec_json: str) -> BpmnWorkflow:
    spec, subprocess_specs = spec_from_json(spec_json)
    return BpmnWorkflow(spec, subprocess_specs, script_engine=make_script_engine())

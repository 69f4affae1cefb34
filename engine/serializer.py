"""Serialization of specs (once per version) and instance state (without the spec), Decimal and date safe; migration of older states."""

import json
import logging
from copy import deepcopy
from datetime import date, time
from decimal import Decimal
from functools import lru_cache
from typing import Callable
from importlib.metadata import version as package_version
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter as BpmnMessageEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessageEventDefinition
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.util.task import TaskState

from engine.errors import StateVersionError
from engine.scripting import make_script_engine
from engine.specs import (
    ClockCycleTimerEventDefinition,
    ClockDurationTimerEventDefinition,
    ClockTimeDateEventDefinition,
    ExternalServiceTask,
    PayloadMessageEventDefinition,
)

log = logging.getLogger(__name__)


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


def _from_version_1_3(dct: dict) -> None:
    """Migrate a state with its spec dicts from serializer version 1.3 to 1.4.

    From 1.4 a reached loop or multi-instance task is STARTED, not WAITING.
    This replaces the stock step of SpiffWorkflow 3.2.0, which raises
    NameError on any state with a subprocess.
    """
    for tasks, task_specs in _workflow_dicts(dct):
        for task in tasks.values():
            if task["state"] == TaskState.WAITING and task_specs[task["task_spec"]]["typename"] in _LOOP_TYPENAMES:
                task["state"] = TaskState.STARTED


def _from_version_1_4(dct: dict) -> None:
    """Migrate a state with its spec dicts from serializer version 1.4 to 1.5.

    From 1.5 an event-based gateway alone contains the event definitions of its
    branches, each catch event after it has a none event definition, and a
    waiting gateway keeps the timer due time while its branches stay MAYBE.
    This replaces the stock step of SpiffWorkflow 3.2.0, which raises
    NameError on any state with a subprocess and changes only the specs, so
    a migrated gateway would lose its pending timer.
    """
    for tasks, task_specs in _workflow_dicts(dct):
        for gateway_spec in task_specs.values():
            if gateway_spec["typename"] == "EventBasedGateway":
                for name in gateway_spec["outputs"]:
                    if task_specs[name]["event_definition"]["typename"] != "NoneEventDefinition":
                        task_specs[name]["event_definition"] = {"typename": "NoneEventDefinition", "name": None, "description": None}

        for task in tasks.values():
            if task["state"] == TaskState.WAITING and task_specs[task["task_spec"]]["typename"] == "EventBasedGateway":
                _move_branch_timer_to_gateway(task, tasks)


def _move_branch_timer_to_gateway(gateway: dict, tasks: dict) -> None:
    """Give a waiting gateway task the due time of its first timer branch, and set its waiting branches back to MAYBE.

    SpiffWorkflow 3.2.0 keeps one due time per gateway task, which its
    first timer branch sets, so a later branch's due time is dropped.
    """
    # NOTE: an event that a branch caught while the gateway still waited is dropped. A saved
    # state should contain none, because a workflow runs its ready tasks straight after an event.
    for child_id in gateway["children"]:
        child = tasks[child_id]
        due = child["internal_data"].pop("event_value", None)
        if due is not None:
            gateway["internal_data"].setdefault("event_value", due)
        if child["state"] == TaskState.WAITING:
            child["state"] = TaskState.MAYBE


def _workflow_dicts(dct: dict):
    """Yield (tasks, task_specs) of the top workflow and of each subprocess, which stores only its spec's name."""
    yield dct["tasks"], dct["spec"]["task_specs"]
    for subprocess in dct["subprocesses"].values():
        yield subprocess["tasks"], dct["subprocess_specs"][subprocess["spec"]]["task_specs"]


_LOOP_TYPENAMES = {"StandardLoopTask", "SequentialMultiInstanceTask", "ParallelMultiInstanceTask"}

# Each migration step by the serializer version it reads, with the version it leaves.
# The stock 1.0, 1.1 and 1.2 steps call the later stock steps up to 1.3 themselves.
_MIGRATION_STEPS = {
    "1.0": (MIGRATIONS["1.0"], "1.3"),
    "1.1": (MIGRATIONS["1.1"], "1.3"),
    "1.2": (MIGRATIONS["1.2"], "1.3"),
    "1.3": (_from_version_1_3, "1.4"),
    "1.4": (_from_version_1_4, "1.5"),
}


def check_state_version(version, instance_id: str | None = None) -> None:
    """Raise StateVersionError unless ``version`` is the current serializer version or one that ``migrate_state`` reads."""
    # A version read from stored JSON may be any JSON value, and a list or object cannot be a dict key.
    if isinstance(version, str) and (version == SERIALIZER.VERSION or version in _MIGRATION_STEPS):
        return

    owner = f"instance {instance_id}" if instance_id is not None else "workflow state"
    key = SERIALIZER.VERSION_KEY
    if version is None:
        message = f"{owner}: the stored state has no {key}, so its format is unknown. Restore it from a backup written by this service"
    elif _is_newer(version):
        message = (
            f"{owner}: the stored state has {key} {version!r}, newer than {SERIALIZER.VERSION!r}, the newest that the installed "
            f"SpiffWorkflow {package_version('SpiffWorkflow')} reads. Load it with the release of this service that wrote it"
        )
    else:
        known = ", ".join([*_MIGRATION_STEPS, SERIALIZER.VERSION])
        message = f"{owner}: the stored state has unknown {key} {version!r} (expected one of {known}). Restore it from a backup written by this service"
    raise StateVersionError(instance_id, version, message)


def migrate_state(dct: dict, version: str) -> None:
    """Migrate a state dict, with its ``spec`` and ``subprocess_specs`` dicts, in place from ``version`` to the current one."""
    while version != SERIALIZER.VERSION:
        step, version = _MIGRATION_STEPS[version]
        step(dct)

    # From 1.5 a task stores its data as changes to its parent's data, and a task restored
    # before its parent silently gets empty data, so the next save would lose the data.
    dct["tasks"] = _parent_first(dct["tasks"], dct["root"])
    for subprocess in dct["subprocesses"].values():
        subprocess["tasks"] = _parent_first(subprocess["tasks"], subprocess["root"])


def _parent_first(tasks: dict, root: str) -> dict:
    """Return the task dicts reordered so that each comes after its parent, walking down from ``root``."""
    ordered = {}
    pending = [root]
    while pending:
        task_id = pending.pop()
        ordered[task_id] = tasks[task_id]
        pending.extend(child for child in reversed(tasks[task_id]["children"]) if child in tasks)

    # A task that the walk cannot reach has no parent to read data from, so its place does not matter.
    for task_id, task in tasks.items():
        ordered.setdefault(task_id, task)
    return ordered


def _is_newer(version) -> bool:
    if not isinstance(version, str) or not all(part.isdigit() for part in version.split(".")):
        return False

    return tuple(map(int, version.split("."))) > tuple(map(int, SERIALIZER.VERSION.split(".")))


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
    return workflow_from_specs(state, spec, subprocess_specs, lambda: spec_json)


def workflow_from_specs(state: str, spec, subprocess_specs: dict, read_spec_json: Callable[[], str], *, instance_id: str | None = None) -> BpmnWorkflow:
    """Restore a workflow from its state around spec objects already built (shared, never changed).

    A state written by an older serializer version is migrated first, around
    spec dicts read with ``read_spec_json``, which is called only then.
    Raises StateVersionError, naming ``instance_id``, for a state whose
    version is missing, unknown or newer than the installed SpiffWorkflow.
    """
    dct = json.loads(state)
    version = dct.pop(SERIALIZER.VERSION_KEY, None)
    if version != SERIALIZER.VERSION:
        return _migrated_workflow(dct, version, read_spec_json, instance_id)

    return _restore(dct, spec, subprocess_specs)


def new_workflow(spec_json: str) -> BpmnWorkflow:
    spec, subprocess_specs = spec_from_json(spec_json)
    return BpmnWorkflow(spec, subprocess_specs, script_engine=make_script_engine())


def _restore(dct: dict, spec, subprocess_specs: dict) -> BpmnWorkflow:
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    dct["typename"] = SERIALIZER.registry.typenames[BpmnWorkflow]
    workflow = SERIALIZER.from_dict(dct)
    workflow.script_engine = make_script_engine()
    return workflow


def _migrated_workflow(dct: dict, version, read_spec_json: Callable[[], str], instance_id: str | None) -> BpmnWorkflow:
    """Migrate an older state together with its version's spec dicts, and restore it around specs built from them.

    The migrated specs are built for this load only and never enter the spec
    caches, because the cache key is the hash of the stored spec JSON.
    """
    # NOTE: spec_json records no serializer version, so it is taken to be in the current format, as
    # SpiffWorkflow 3.2.0 writes it. The 1.3 and 1.4 steps leave such specs unchanged, but the stock
    # 1.0 to 1.2 steps expect specs of their own release and have no test here.
    check_state_version(version, instance_id)
    log.info("migrating state of instance %s from serializer version %s to %s", instance_id, version, SERIALIZER.VERSION)

    stored = json.loads(read_spec_json())
    dct["spec"] = stored["spec"]
    dct["subprocess_specs"] = stored["subprocess_specs"]
    migrate_state(dct, version)

    spec = SERIALIZER.from_dict(dct.pop("spec"))
    subprocess_specs = {name: SERIALIZER.from_dict(sub) for name, sub in dct.pop("subprocess_specs").items()}
    return _restore(dct, spec, subprocess_specs)

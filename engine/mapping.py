"""Input and output mappings of service tasks (``camunda:inputOutput``)."""

from typing import Any

from engine.specs import camunda_attributes


def _evaluate(workflow, task, kind: str, value: Any, scope: dict | None = None) -> Any:
    if kind == "constant":
        return value
    if kind == "expression":
        if scope is None:
            return workflow.script_engine.evaluate(task, value)
        return workflow.script_engine.environment.evaluate(value, scope)
    if kind == "list":
        return [_evaluate(workflow, task, "expression" if item.startswith("${") else "constant", item, scope) for item in value]
    if kind == "map":
        return {key: _evaluate(workflow, task, "expression" if item.startswith("${") else "constant", item, scope) for key, item in value.items()}
    raise ValueError(f"input kind {kind!r} is not supported; use an expression, a constant, a list or a map")


def evaluate_inputs(workflow, task) -> dict[str, Any]:
    """Evaluate a service task's input parameters; with none declared, the handler gets a copy of the task data."""
    parameters = camunda_attributes(task.task_spec).get("inputs", [])
    if not parameters:
        return dict(task.data)
    return {name: _evaluate(workflow, task, kind, value) for name, kind, value in parameters}


def map_outputs(workflow, task, outputs: dict[str, Any]) -> None:
    """Write handler outputs into the task data.

    With output parameters, only those are written, each evaluated with the
    outputs (and the task data) in scope. Without any, every output is
    written. ``camunda:resultVariable`` also stores the whole outputs dict.
    """
    attributes = camunda_attributes(task.task_spec)
    parameters = attributes.get("outputs", [])
    if parameters:
        scope = {**task.data, **outputs}
        for name, kind, value in parameters:
            task.data[name] = _evaluate(workflow, task, kind, value, scope)
    else:
        task.data.update(outputs)
    if attributes.get("resultVariable"):
        task.data[attributes["resultVariable"]] = outputs

"""The diagram linter run by deploys and the CLI: element checks, user-task forms, loops and a trial build with CareParser."""

import keyword
import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.errors import DiagramError
from engine.expressions import is_iso_timer_literal
from engine.forms import CONSTRAINTS, FIELD_TYPES, coerce
from engine.handler_api import HandlerRegistry
from engine.lint_checks import (
    BPMN_NS,
    CAMUNDA,
    ELEMENT_CHECKS,
    NSMAP,
    FileLint,
    LintContext,
    close_matches,
    describe,
    expression_problem,
    is_expression,
    local_name,
    timer_literal_problem,
)
from engine.lint_types import LintProblem
from engine.parser import CareParser
from engine.xmlsafe import parse_xml

CONTAINER_TAGS = ("process", "subProcess", "transaction", "adHocSubProcess")
WAIT_EVENT_DEFINITIONS = ("timerEventDefinition", "messageEventDefinition")
WAITS_INSIDE = (
    ".//bpmn:userTask | .//bpmn:receiveTask"
    " | .//bpmn:intermediateCatchEvent/bpmn:timerEventDefinition | .//bpmn:intermediateCatchEvent/bpmn:messageEventDefinition"
    " | .//bpmn:boundaryEvent/bpmn:timerEventDefinition | .//bpmn:boundaryEvent/bpmn:messageEventDefinition"
)
# The parser's split of candidate lists: commas separate entries, except inside an ${...} expression.
_LIST_ENTRY = re.compile(r"[$#]\{[^}]*\}|[^,]+")


def lint_documents(
    documents: dict[str, bytes],
    registry: HandlerRegistry | None = None,
    *,
    known_groups: set[str] | None = None,
    known_templates: set[str] | None = None,
) -> list[LintProblem]:
    """Lint BPMN documents together, so call activities may call a process in another file.

    Returns every error and warning, sorted by file and line. A malformed or
    hostile file becomes problems; this function does not raise for one.
    ``registry``, ``known_groups`` and ``known_templates`` switch on the
    topic, candidate group and email template checks when given.
    """
    problems: list[LintProblem] = []
    roots: dict[str, etree._Element] = {}
    for filename, data in documents.items():
        try:
            root = parse_xml(data, filename)
        except DiagramError as error:
            problems.extend(error.problems)
            continue
        if etree.QName(root).namespace != BPMN_NS or local_name(root) != "definitions":
            namespace = etree.QName(root).namespace
            root_name = f"<{local_name(root)}> in namespace {namespace}" if namespace else f"<{local_name(root)}>"
            problems.append(LintProblem(filename, None, f"the root element is {root_name}, not a BPMN 2.0 <definitions>; save the diagram from Camunda Modeler as BPMN 2.0 XML", root.sourceline))
            continue
        roots[filename] = root

    context = LintContext(registry, known_groups, known_templates, _processes_by_id(roots))
    for filename, root in roots.items():
        lint = FileLint(filename, root, context)
        for check in ELEMENT_CHECKS:
            check(lint)
        check_user_tasks(lint)
        check_loops(lint)
        problems.extend(lint.problems)

    problems.extend(_build_problems(roots, problems))
    return sorted(problems, key=lambda problem: (problem.file, problem.line or 0, problem.element_id or ""))


def _processes_by_id(roots: dict[str, etree._Element]) -> dict[str, etree._Element]:
    processes = {}
    for root in roots.values():
        for process in root.xpath("//bpmn:process[@id]", namespaces=NSMAP):
            processes.setdefault(process.get("id"), process)
    return processes


def check_user_tasks(lint: FileLint) -> None:
    """Check each user task's due date, assignee, candidates and form."""
    known_groups = lint.context.known_groups
    for task in lint.xpath("//bpmn:userTask"):
        due = (task.get(CAMUNDA + "dueDate") or "").strip()
        if due:
            _check_due_date(lint, task, due)

        if (task.get(CAMUNDA + "candidateUsers") or "").strip():
            lint.warning(task, f"{describe(task)} has camunda:candidateUsers, which the engine ignores; offer the task to a candidate group or set an assignee")
        for attribute in ("assignee", "candidateUsers", "candidateGroups"):
            value = task.get(CAMUNDA + attribute) or ""
            entries = [value] if attribute == "assignee" else _LIST_ENTRY.findall(value)
            for entry in (entry.strip() for entry in entries):
                if is_expression(entry):
                    reason = expression_problem(entry)
                    if reason:
                        lint.error(task, f"{describe(task)} has a camunda:{attribute} expression the engine rejects: {reason}")
                elif entry and attribute == "candidateGroups" and known_groups is not None and entry not in known_groups:
                    lint.error(task, f"{describe(task)} names candidate group {entry!r}, which does not exist{close_matches(entry, known_groups)}; use one of the groups set up in the service")

        for form in lint.xpath("./bpmn:extensionElements/camunda:formData", task):
            _check_form(lint, task, form)


def _check_due_date(lint: FileLint, task, due: str) -> None:
    # The engine evaluates a due date only when it is wrapped in ${...}. Other text must be an ISO 8601 value.
    if is_iso_timer_literal(due):
        if due.upper().startswith("R"):
            reason = "a due date is a date-time or a duration, not a repeating cycle"
        else:
            reason = timer_literal_problem("dueDate", due)
    elif is_expression(due):
        reason = expression_problem(due)
    else:
        reason = "it is neither an ISO 8601 date-time or duration nor an ${...} expression; write P2D, 2025-04-01T17:00:00Z or ${...}"
    if reason:
        lint.error(task, f"{describe(task)} has camunda:dueDate {due!r}: {reason}")


def _check_form(lint: FileLint, task, form) -> None:
    seen: set[str] = set()
    for form_field in lint.xpath("./camunda:formField", form):
        field_id = form_field.get("id") or ""
        where = f"form field '{field_id}' of {describe(task)}"
        if not field_id:
            lint.error(task, f"a form field of {describe(task)} has no id; give it an id that is a Python name, such as start_date", form_field)
        elif not field_id.isidentifier() or keyword.iskeyword(field_id) or field_id.startswith("_"):
            lint.error(task, f"{where} has an id that cannot be a process variable; use letters, digits and underscores, not starting with a digit or an underscore, and not a Python keyword", form_field)
        elif field_id in seen:
            lint.error(task, f"{where} appears twice in the form; give each field its own id", form_field)
        seen.add(field_id)

        field_type = form_field.get("type") or ""
        if field_type not in FIELD_TYPES:
            type_text = f"type {field_type!r}" if field_type else "no type"
            lint.error(task, f"{where} has {type_text}{close_matches(field_type, FIELD_TYPES)}; use one of {', '.join(FIELD_TYPES)}", form_field)
            continue

        options = tuple((value.get("id"), value.get("name")) for value in lint.xpath("./camunda:value", form_field))
        if field_type == "enum" and not options:
            lint.error(task, f"{where} is an enum with no values; add at least one value with an id and a name", form_field)
        if any(not option_id for option_id, _name in options):
            lint.error(task, f"{where} has an enum value with no id; give every value an id", form_field)
        _check_constraints(lint, task, form_field, where, field_type)
        _check_default(lint, task, form_field, where, field_type, options)


def _check_constraints(lint: FileLint, task, form_field, where: str, field_type: str) -> None:
    limits: dict[str, Decimal] = {}
    for constraint in lint.xpath("./camunda:validation/camunda:constraint", form_field):
        name = constraint.get("name") or ""
        config = (constraint.get("config") or "").strip()
        if name not in CONSTRAINTS:
            lint.error(task, f"{where} has constraint {name!r}, which is not supported{close_matches(name, CONSTRAINTS)}; use one of {', '.join(CONSTRAINTS)}", constraint)
            continue

        applies_to = {"min": ("long", "decimal"), "max": ("long", "decimal"), "minlength": ("string",), "maxlength": ("string",), "pattern": ("string",)}.get(name)
        if name in ("minlength", "maxlength") and not config.isdigit():
            lint.error(task, f"{where} has {name} {config!r}; give a whole number of characters, such as 100", constraint)
        elif name in ("min", "max") and _number(config) is None:
            lint.error(task, f"{where} has {name} {config!r}, which is not a number; give a number such as 10 or 12.50", constraint)
        elif name == "pattern" and (pattern_problem := _regex_problem(config)):
            lint.error(task, f"{where} has pattern {config!r}, which is not a valid regular expression ({pattern_problem}); correct it", constraint)
        elif applies_to and field_type not in applies_to:
            lint.warning(task, f"{where} has constraint {name!r}, which has no effect on a {field_type} field; it applies to {' and '.join(applies_to)} fields", constraint)
        elif name in ("min", "max", "minlength", "maxlength"):
            limits[name] = Decimal(config)

    for low, high in (("min", "max"), ("minlength", "maxlength")):
        if low in limits and high in limits and limits[low] > limits[high]:
            lint.error(task, f"{where} has {low} {limits[low]} above {high} {limits[high]}, so no value can pass; correct one of them", form_field)


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _regex_problem(pattern: str) -> str | None:
    if not pattern:
        return "it is empty"
    try:
        re.compile(pattern)
    except re.error as error:
        return str(error)
    return None


def _check_default(lint: FileLint, task, form_field, where: str, field_type: str, options: tuple) -> None:
    default = form_field.get("defaultValue")
    if default is None or default == "":
        return

    if is_expression(default):
        lint.error(task, f"{where} has default value {default!r}, but defaults are constants and the engine does not evaluate ${{...}} there; give a fixed value", form_field)
        return
    _value, error = coerce(field_type, default, options)
    if error:
        lint.error(task, f"{where} has default value {default!r}, which does not fit type {field_type}: it {error}", form_field)


def check_loops(lint: FileLint) -> None:
    """Warn about cycles in each process or subprocess's sequence-flow graph.

    A cycle with nothing to wait on (timer, message or user task) runs as a
    tight loop. SpiffWorkflow 3.2.0 keeps every past task and walks the task
    tree only 1,000 deep, so a loop stops advancing once it has run about
    1,000 tasks. In a trial, loops of two and three tasks stopped after 500
    and 333 passes; the engine then marks the instance as failed.
    A cycle through a user task waits for people, but still keeps every pass.
    """
    for container in lint.xpath(" | ".join(f"//bpmn:{tag}" for tag in CONTAINER_TAGS)):
        nodes = {child.get("id"): child for child in container if isinstance(child.tag, str) and child.get("id") and local_name(child) not in ("sequenceFlow",)}
        edges = _flow_edges(container, nodes)
        waiting = {node_id for node_id, node in nodes.items() if _waits(node, lint.context.processes)}
        order = {node_id: index for index, node_id in enumerate(nodes)}

        busy_edges = {source: [target for target in targets if target not in waiting] for source, targets in edges.items() if source not in waiting}
        for component in _cycles(busy_edges):
            first = nodes[min(component, key=order.get)]
            names = ", ".join(f"'{node_id}'" for node_id in sorted(component, key=order.get)[:6])
            lint.warning(first, f"the flows through {names} form a loop with no timer, message or user task to wait on. Each pass keeps its tasks, so the instance grows and fails once the loop has run about 1,000 tasks. Add a wait or model the repetition as separate instances")

        for component in _cycles(edges):
            user_tasks = sorted((node_id for node_id in component if local_name(nodes[node_id]) == "userTask"), key=order.get)
            if user_tasks:
                lint.warning(nodes[user_tasks[0]], f"user task '{user_tasks[0]}' is on a loop; each pass keeps its tasks, so model repeated exchanges as separate instances or events")

        for node_id, node in nodes.items():
            loop = node.find(f"{{{BPMN_NS}}}standardLoopCharacteristics")
            if loop is not None and not loop.get("loopMaximum") and node_id not in waiting:
                lint.warning(node, f"{describe(node)} is a standard loop with no loopMaximum and nothing to wait on; set a loop maximum or use a multi-instance over a collection")


def _flow_edges(container, nodes: dict) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = defaultdict(list)
    for flow in container.iterchildren(f"{{{BPMN_NS}}}sequenceFlow"):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source in nodes and target in nodes:
            edges[source].append(target)
    for node_id, node in nodes.items():
        attached = node.get("attachedToRef") if local_name(node) == "boundaryEvent" else None
        if attached in nodes:
            edges[attached].append(node_id)
    return edges


def _waits(node, processes: dict) -> bool:
    """Tell whether reaching ``node`` waits for a person, a timer or a message, directly or inside it."""
    kind = local_name(node)
    if kind in ("userTask", "receiveTask"):
        return True
    if kind in ("intermediateCatchEvent", "boundaryEvent"):
        return any(local_name(child) in WAIT_EVENT_DEFINITIONS for child in node if isinstance(child.tag, str))
    if kind in CONTAINER_TAGS:
        inner = node
    elif kind == "callActivity" and node.get("calledElement") in processes:
        inner = processes[node.get("calledElement")]
    else:
        return False

    return bool(inner.xpath(WAITS_INSIDE, namespaces=NSMAP))


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Return the strongly connected components that contain a cycle (Kosaraju, iterative to bear large files)."""
    finished, seen = [], set()
    for start in list(edges):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(edges.get(start, ())))]
        while stack:
            node, successors = stack[-1]
            for successor in successors:
                if successor not in seen:
                    seen.add(successor)
                    stack.append((successor, iter(edges.get(successor, ()))))
                    break
            else:
                stack.pop()
                finished.append(node)

    reverse: dict[str, list[str]] = defaultdict(list)
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)

    components, assigned = [], set()
    for node in reversed(finished):
        if node in assigned:
            continue
        assigned.add(node)
        component, pending = [], [node]
        while pending:
            current = pending.pop()
            component.append(current)
            for predecessor in reverse[current]:
                if predecessor not in assigned:
                    assigned.add(predecessor)
                    pending.append(predecessor)
        if len(component) > 1 or node in edges.get(node, ()):
            components.append(component)
    return components


def _build_problems(roots: dict[str, etree._Element], found: list[LintProblem]) -> list[LintProblem]:
    """Build every executable process with CareParser and report what the lint checks above did not already catch."""
    reported = {(problem.file, problem.element_id) for problem in found if problem.severity == "error"}
    files_with_errors = {problem.file for problem in found if problem.severity == "error"}
    problems = []

    def keep(problem: LintProblem) -> None:
        if (problem.file, problem.element_id) in reported:
            return
        if problem.element_id is None and problem.file in files_with_errors:
            return
        reported.add((problem.file, problem.element_id))
        problems.append(problem)

    parser = CareParser()
    added = []
    for filename, root in roots.items():
        try:
            parser.add_bpmn_xml(root, filename)
        except ValidationException as error:
            keep(_validation_problem(error, filename, roots))
            continue
        # SpiffWorkflow's parser raises KeyError, AssertionError and others on malformed input.
        # The linter reports a bad diagram as a problem and does not raise for one.
        except Exception as error:  # noqa: BLE001
            keep(LintProblem(filename, None, f"the engine's parser failed on this file ({type(error).__name__}: {error}); open and save it in Camunda Modeler, then lint again"))
            continue
        added.append(filename)

    for filename in added:
        for process in roots[filename].xpath("//bpmn:process[@id]", namespaces=NSMAP):
            if process.get("isExecutable", "true") != "true":
                continue
            try:
                parser.get_spec(process.get("id"))
                parser.get_subprocess_specs(process.get("id"), require_call_activity_specs=False)
            except ValidationException as error:
                keep(_validation_problem(error, filename, roots))
            except Exception as error:  # noqa: BLE001 - as for add_bpmn_xml above
                keep(LintProblem(filename, process.get("id"), f"the engine's parser failed on this process ({type(error).__name__}: {error}); open and save it in Camunda Modeler, then lint again", process.sourceline))
    return problems


def _validation_problem(error: ValidationException, filename: str, roots: dict[str, etree._Element]) -> LintProblem:
    file_name = error.file_name if error.file_name in roots else filename
    element_id = error.id or None
    line = error.line_number if isinstance(error.line_number, int) and error.line_number > 0 else None
    if line is None and element_id:
        matches = roots[file_name].xpath("//*[@id=$element_id]", element_id=element_id)
        line = matches[0].sourceline if matches else None
    reason = str(error).strip().rstrip(".")
    return LintProblem(file_name, element_id, f"the engine's parser rejects this element: {reason}", line)

"""Element-level lint checks on one parsed BPMN document: ids, tasks, gateways, timers, expressions, scripts, messages, flows."""

import ast
import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from engine import clock
from engine.errors import ScriptError
from engine.expressions import is_iso_timer_literal, to_python
from engine.handler_api import HandlerRegistry
from engine.lint_types import LintProblem
from engine.scripting import compile_expression, compile_script
from engine.specs import parse_cycle, parse_timer_value

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
NSMAP = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
CAMUNDA = "{" + CAMUNDA_NS + "}"

FLOW_ELEMENT_TAGS = {
    "task", "userTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask", "manualTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
    "sequenceFlow",
}
DELEGATE_ATTRIBUTES = ("class", "delegateExpression", "expression")
# Builtins that the restricted environment does not provide; calling one fails at run time, so lint names it early.
UNAVAILABLE_BUILTINS = {"open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "input", "breakpoint", "exit", "quit", "help"}

TOO_DEEP = "it is nested too deeply to compile; split it into simpler steps"
# Compiler messages quote the whole expression, so a problem cuts a long one to this many characters.
MAX_REASON = 300
# Messages quote values from the diagram, so a hostile file with huge values could make huge messages.
MAX_MESSAGE = 1000

_ZONE_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
# Text that an analyst most likely meant as an ISO 8601 duration (P5, PT5X) but that does not parse as one.
_ISO_ATTEMPT = re.compile(r"^P[0-9T][0-9A-Z.,]*$")
_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass
class LintContext:
    """The inputs that checks share across files: handler registry, known groups and templates, and every document's processes."""

    registry: HandlerRegistry | None = None
    known_groups: set[str] | None = None
    known_templates: set[str] | None = None
    processes: dict[str, etree._Element] = field(default_factory=dict)


@dataclass
class FileLint:
    """The problems found in one document so far, with helpers that record them at an element."""

    filename: str
    root: etree._Element
    context: LintContext
    problems: list[LintProblem] = field(default_factory=list)

    def xpath(self, path: str, node=None) -> list:
        return (self.root if node is None else node).xpath(path, namespaces=NSMAP)

    def error(self, element, message: str, line_of=None) -> None:
        self._add(element, message, line_of, "error")

    def warning(self, element, message: str, line_of=None) -> None:
        self._add(element, message, line_of, "warning")

    def _add(self, element, message: str, line_of, severity: str) -> None:
        located = element if line_of is None else line_of
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + "..."
        self.problems.append(LintProblem(self.filename, element.get("id"), message, located.sourceline, severity))


def local_name(element) -> str:
    return etree.QName(element).localname


def kind_of(element) -> str:
    """Return the element's tag in words: ``serviceTask`` becomes ``service task``."""
    return _CAMEL_HUMP.sub(" ", local_name(element)).lower()


def describe(element) -> str:
    """Name an element the way an analyst reads it: ``service task 'check'``."""
    return f"{kind_of(element)} '{element.get('id')}'" if element.get("id") else f"{kind_of(element)} with no id"


def close_matches(value: str, candidates) -> str:
    """Return a ' (did you mean ...?)' suffix listing the nearest candidates, or an empty string."""
    matches = difflib.get_close_matches(value, sorted(candidates), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(m) for m in matches)}?)" if matches else ""


def first_of(elements: list):
    return elements[0] if elements else None


def is_expression(text: str | None) -> bool:
    stripped = (text or "").strip()
    return stripped.startswith("${") or stripped.startswith("#{")


def expression_problem(text: str) -> str | None:
    """Return why the restricted engine rejects an expression, or None when it compiles and calls nothing unavailable."""
    try:
        compile_expression(text)
    except ScriptError as error:
        return _shorten(str(error))
    # CPython's parser raises these, not SyntaxError, for very deep nesting such as 100,000 unary minuses.
    except (RecursionError, MemoryError):
        return TOO_DEEP

    return _unavailable_names(ast.parse(to_python(text), mode="eval"))


def script_problem(text: str) -> str | None:
    """Return why the restricted engine rejects a script body, or None when it is acceptable."""
    try:
        compile_script(text)
    except ScriptError as error:
        return _shorten(str(error))

    return _unavailable_names(ast.parse(text))


def _shorten(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "..."


def _unavailable_names(tree) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in UNAVAILABLE_BUILTINS:
            return f"{node.id!r} is not available to diagram expressions and scripts"
    return None


def check_ids(lint: FileLint) -> None:
    seen: dict[str, etree._Element] = {}
    for element in lint.root.iter(etree.Element):
        namespace = etree.QName(element).namespace
        if namespace not in (BPMN_NS, BPMNDI_NS):
            continue
        element_id = element.get("id")
        if not element_id:
            if namespace == BPMN_NS and local_name(element) in FLOW_ELEMENT_TAGS | {"process"}:
                name = f" named {element.get('name')!r}" if element.get("name") else ""
                lint.error(element, f"a {kind_of(element)}{name} has no id; give it a unique id in the properties panel")
            continue
        if element_id in seen:
            lint.error(element, f"id '{element_id}' is used twice in this file (first on line {seen[element_id].sourceline}); give each element its own id")
        else:
            seen[element_id] = element


def check_executable(lint: FileLint) -> None:
    processes = lint.xpath("//bpmn:process")
    if not any(process.get("isExecutable", "true") == "true" for process in processes):
        lint.error(lint.root, "the file has no executable process; tick 'Executable' on the process in Camunda Modeler")


def check_delegates(lint: FileLint) -> None:
    for task in lint.xpath("//bpmn:serviceTask | //bpmn:sendTask | //bpmn:businessRuleTask"):
        delegates = [attribute for attribute in DELEGATE_ATTRIBUTES if task.get(CAMUNDA + attribute) is not None]
        for attribute in delegates:
            lint.error(task, f"{describe(task)} uses camunda:{attribute}, which this engine cannot run (it has no Java); set Implementation to External and give a topic")
        if not delegates and local_name(task) == "businessRuleTask" and not task.get(CAMUNDA + "decisionRef"):
            lint.error(task, f"{describe(task)} has no camunda:decisionRef; set Implementation to DMN and give the decision id")

    for listener in lint.xpath("//camunda:executionListener | //camunda:taskListener"):
        owner = listener.getparent().getparent()
        kind = "execution listener" if local_name(listener) == "executionListener" else "task listener"
        used = [attribute for attribute in DELEGATE_ATTRIBUTES if listener.get(attribute) is not None]
        detail = f"camunda:{used[0]} {listener.get(used[0])!r}" if used else "a script"
        lint.error(owner, f"{describe(owner)} has a {kind} with {detail}, which this engine never runs; remove it and model the work as a service or script task", listener)


def check_service_tasks(lint: FileLint) -> None:
    registry = lint.context.registry
    for task in lint.xpath("//bpmn:serviceTask"):
        if any(task.get(CAMUNDA + attribute) is not None for attribute in DELEGATE_ATTRIBUTES):
            continue
        topic = (task.get(CAMUNDA + "topic") or "").strip()
        if task.get(CAMUNDA + "type") != "external":
            lint.error(task, f"{describe(task)} is not external; set Implementation to External and give a topic")
        elif not topic:
            lint.error(task, f"{describe(task)} has no topic; set the topic of a registered handler (docs/topics.md lists them)")
        elif registry is not None and topic not in registry:
            known = [spec.topic for spec in registry.topics()]
            lint.error(task, f"{describe(task)} uses topic {topic!r}, which has no handler{close_matches(topic, known)}; use a topic listed in docs/topics.md")

        _check_retry_cycle(lint, task)
        if topic == "email.send" and lint.context.known_templates is not None:
            _check_email_template(lint, task)


def _check_retry_cycle(lint: FileLint, task) -> None:
    element = first_of(lint.xpath("./bpmn:extensionElements/camunda:failedJobRetryTimeCycle", task))
    cycle = (element.text if element is not None else task.get(CAMUNDA + "failedJobRetryTimeCycle")) or ""
    if not cycle.strip():
        return

    try:
        repetitions, _first, _interval = parse_cycle(cycle, clock.now())
    # As in timer_literal_problem, SpiffWorkflow raises a bare Exception for a bad duration.
    except Exception as error:  # noqa: BLE001
        reason = f"it does not parse ({error})"
    else:
        reason = "it repeats without end; give a count" if repetitions < 0 else None
    if reason:
        lint.error(task, f"{describe(task)} has retry cycle {cycle.strip()!r}: {reason}; write it like R3/PT5M (three retries, five minutes apart)", element)


def _check_email_template(lint: FileLint, task) -> None:
    for parameter in lint.xpath("./bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter[@name='template']", task):
        template = (parameter.text or "").strip()
        if len(parameter) or is_expression(template):
            continue
        if template not in lint.context.known_templates:
            suggestion = close_matches(template, lint.context.known_templates)
            lint.error(task, f"{describe(task)} sends email template {template!r}, which does not exist{suggestion}; use the name of an existing template", parameter)


def check_gateways(lint: FileLint) -> None:
    for gateway in lint.xpath("//bpmn:exclusiveGateway | //bpmn:inclusiveGateway"):
        gateway_id = gateway.get("id")
        outgoing = [flow for flow in gateway.getparent().xpath("bpmn:sequenceFlow", namespaces=NSMAP) if gateway_id and flow.get("sourceRef") == gateway_id]
        default = gateway.get("default")
        if default and default not in {flow.get("id") for flow in outgoing}:
            lint.error(gateway, f"{describe(gateway)} names default flow '{default}', which does not leave this gateway; pick one of its outgoing flows")
        if len(outgoing) < 2:
            continue

        unconditioned = [flow.get("id") for flow in outgoing if not _has_condition(flow) and flow.get("id") != default]
        if len(unconditioned) == len(outgoing):
            lint.error(gateway, f"{describe(gateway)} has {len(outgoing)} outgoing flows but no conditions and no default flow; add a condition to each flow or mark one as the default")
        elif unconditioned:
            names = ", ".join(f"'{flow_id}'" for flow_id in unconditioned)
            lint.error(gateway, f"{describe(gateway)} has outgoing flows with no condition that are not the default: {names}; add a condition or make one of them the default flow")


def _has_condition(flow) -> bool:
    condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
    return condition is not None and bool((condition.text or "").strip())


def check_timers(lint: FileLint) -> None:
    for definition in lint.xpath("//bpmn:timerEventDefinition"):
        event = definition.getparent()
        values = [child for child in definition if isinstance(child.tag, str) and local_name(child) in ("timeDate", "timeDuration", "timeCycle")]
        if not values:
            lint.error(event, f"{describe(event)} has no timer value; choose a timer type (date, duration or cycle) and enter a value", definition)
        for value in values:
            _check_timer_value(lint, event, value)


def _check_timer_value(lint: FileLint, event, value) -> None:
    kind = local_name(value)
    text = (value.text or "").strip()
    if not text:
        lint.error(event, f"{describe(event)} has an empty {kind}; enter an ISO 8601 value such as PT1H", value)
        return

    if not is_iso_timer_literal(text):
        if _ISO_ATTEMPT.match(text):
            lint.error(event, f"{describe(event)} has {kind} {text!r}, which is not a valid ISO 8601 duration; write it like PT5M, P2D or P1DT12H", value)
            return
        reason = expression_problem(text)
        if reason:
            lint.error(event, f"{describe(event)} has {kind} {text!r}, which is neither an ISO 8601 value nor a valid expression: {reason}", value)
        return

    reason = timer_literal_problem(kind, text)
    if reason:
        lint.error(event, f"{describe(event)} has {kind} {text!r}: {reason}", value)
        return

    if kind == "timeCycle":
        start = text.split("/")[1] if text.count("/") == 2 else None
    else:
        start = text if kind == "timeDate" else None
    if start and not _ZONE_SUFFIX.search(start):
        lint.warning(event, f"{describe(event)} has {kind} {text!r} with no zone offset, which is read as Europe/London time; add Z or an offset such as +01:00 to be explicit", value)


def timer_literal_problem(kind: str, text: str) -> str | None:
    """Return why an ISO 8601 timer literal is wrong for its kind, or None when it parses."""
    try:
        if kind == "timeCycle":
            parse_cycle(text, clock.now())
            return None
        if text.upper().startswith("R"):
            return f"a repeating cycle belongs in a timeCycle, not a {kind}"
        parsed = parse_timer_value(text)
    # SpiffWorkflow 3.2.0's parse_iso_duration raises a bare Exception('Invalid duration').
    except Exception as error:  # noqa: BLE001
        return f"it does not parse ({error}); write a date-time such as 2025-04-01T09:00:00Z or a duration such as PT1H"

    if kind == "timeDate" and not isinstance(parsed, datetime):
        return "a duration belongs in a timeDuration; a timeDate needs a date-time such as 2025-04-01T09:00:00Z"
    if kind == "timeDuration" and isinstance(parsed, datetime):
        return "a date-time belongs in a timeDate; a timeDuration needs a duration such as PT1H"
    return None


def check_expressions(lint: FileLint) -> None:
    for condition in lint.xpath("//bpmn:conditionExpression | //bpmn:completionCondition | //bpmn:loopCardinality"):
        owner = condition.getparent()
        if local_name(owner) == "multiInstanceLoopCharacteristics":
            owner = owner.getparent()
        _check_expression_element(lint, owner, condition, local_name(condition))

    for mapping in lint.xpath("//camunda:inputOutput"):
        owner = mapping.getparent().getparent()
        if local_name(owner) != "serviceTask":
            lint.warning(owner, f"{describe(owner)} has input/output parameters, which the engine ignores except on service tasks; remove them or move the work to a service task", mapping)
        for parameter in mapping.iterchildren(f"{CAMUNDA}inputParameter", f"{CAMUNDA}outputParameter"):
            _check_parameter(lint, owner, parameter)

    for definition in lint.xpath("//bpmn:messageEventDefinition[@camunda:expression]"):
        event = definition.getparent()
        reason = expression_problem(definition.get(CAMUNDA + "expression"))
        if reason:
            lint.error(event, f"{describe(event)} has a message payload expression the engine rejects: {reason}", definition)


def _check_expression_element(lint: FileLint, owner, element, kind: str) -> None:
    language = (element.get("language") or "python").strip().lower()
    text = (element.text or "").strip()
    if element.get(CAMUNDA + "resource"):
        lint.error(owner, f"{describe(owner)} loads its {kind} from an external resource, which is not supported; write the expression in the diagram", element)
    elif language != "python":
        lint.error(owner, f"{describe(owner)} has a {kind} in {language!r}; only Python expressions (or ${{...}}) are supported, so choose the Expression type", element)
    elif text:
        reason = expression_problem(text)
        if reason:
            lint.error(owner, f"{describe(owner)} has a {kind} the engine rejects: {reason}", element)


def _check_parameter(lint: FileLint, owner, parameter) -> None:
    name = parameter.get("name")
    script = parameter.find(f"{CAMUNDA}script")
    if script is not None:
        lint.error(owner, f"{describe(owner)} maps parameter {name!r} with a script, which is not supported; use an ${{...}} expression", parameter)
        return

    texts = [item.text or "" for item in parameter.iter(f"{CAMUNDA}value", f"{CAMUNDA}entry")] if len(parameter) else [parameter.text or ""]
    for text in texts:
        if is_expression(text):
            reason = expression_problem(text.strip())
            if reason:
                lint.error(owner, f"{describe(owner)} maps parameter {name!r} with an expression the engine rejects: {reason}", parameter)
        elif "${" in text:
            lint.warning(owner, f"{describe(owner)} passes parameter {name!r} as plain text although it contains ${{...}}; the engine evaluates an expression only when it is the whole value", parameter)


def check_script_tasks(lint: FileLint) -> None:
    for task in lint.xpath("//bpmn:scriptTask"):
        script_format = (task.get("scriptFormat") or "python").strip().lower()
        script = task.find(f"{{{BPMN_NS}}}script")
        if script_format != "python":
            lint.error(task, f"{describe(task)} has script format {script_format!r}; only Python scripts run, so set the format to python")
        elif task.get(CAMUNDA + "resource"):
            lint.error(task, f"{describe(task)} loads its script from an external resource, which is not supported; write the script in the diagram")
        elif script is None or not (script.text or "").strip():
            lint.error(task, f"{describe(task)} has no script; write the Python body or make it a plain task")
        else:
            reason = script_problem(script.text)
            if reason:
                lint.error(task, f"{describe(task)} has a script the engine rejects: {reason}", script)


def check_messages(lint: FileLint) -> None:
    messages = {message.get("id"): message for message in lint.xpath("//bpmn:message")}
    for message in messages.values():
        if not (message.get("name") or "").strip():
            lint.error(message, f"{describe(message)} has no name; messages are delivered by name, so give it one")

    for element in lint.xpath("//bpmn:messageEventDefinition | //bpmn:receiveTask | //bpmn:sendTask"):
        owner = element.getparent() if local_name(element) == "messageEventDefinition" else element
        reference = element.get("messageRef")
        if not reference:
            lint.error(owner, f"{describe(owner)} has no message; pick or create a global message in the properties panel", element)
        elif reference not in messages:
            lint.error(owner, f"{describe(owner)} refers to message '{reference}', which is not defined in this file{close_matches(reference, messages)}; pick an existing message", element)


def check_call_activities(lint: FileLint) -> None:
    processes = lint.context.processes
    for activity in lint.xpath("//bpmn:callActivity"):
        called = (activity.get("calledElement") or "").strip()
        if not called:
            lint.error(activity, f"{describe(activity)} has no called element; enter the id of the process to call")
        elif called not in processes:
            lint.error(activity, f"{describe(activity)} calls process '{called}', which is in none of the files given{close_matches(called, processes)}; lint and deploy the called diagram together with this one")

        # variables="all" describes what the engine does anyway. Any narrower mapping would be silently ignored.
        mappings = lint.xpath("./bpmn:extensionElements/camunda:in | ./bpmn:extensionElements/camunda:out", activity)
        narrow = first_of([mapping for mapping in mappings if dict(mapping.attrib) != {"variables": "all"}])
        if narrow is not None:
            lint.warning(activity, f"{describe(activity)} has camunda:in/out variable mappings, which the engine ignores: the called process gets a copy of every variable and returns all of its own; remove the mappings or use variables=\"all\"", narrow)


def check_sequence_flows(lint: FileLint) -> None:
    for flow in lint.xpath("//bpmn:sequenceFlow"):
        container = flow.getparent()
        siblings = {child.get("id") for child in container if isinstance(child.tag, str) and child.get("id")}
        for end in ("sourceRef", "targetRef"):
            reference = flow.get(end)
            if not reference:
                lint.error(flow, f"{describe(flow)} has no {end}; connect both ends of the flow")
            elif reference not in siblings:
                lint.error(flow, f"{describe(flow)} has {end} '{reference}', which is not an element of {describe(container)}; reconnect the flow")


ELEMENT_CHECKS = (
    check_ids,
    check_executable,
    check_delegates,
    check_service_tasks,
    check_gateways,
    check_timers,
    check_expressions,
    check_script_tasks,
    check_messages,
    check_call_activities,
    check_sequence_flows,
)

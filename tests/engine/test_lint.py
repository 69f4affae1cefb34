"""Tests for engine.lint: one diagram per case, built from a template, checked for element id, line and message."""

from pathlib import Path

import pytest

from engine import lint as lint_module
from engine.handler_api import HandlerRegistry
from engine.lint import lint_documents

DIAGRAMS = Path(__file__).parent / "diagrams"
FILE = "case.bpmn"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">\n'
)
START = '<bpmn:startEvent id="start" />\n'
END = '<bpmn:endEvent id="end" />\n'


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />\n'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
    )


def chain(element: str, element_id: str) -> str:
    """Return a start event, ``element`` and an end event joined by sequence flows."""
    return START + flow("f_in", "start", element_id) + element + "\n" + flow("f_out", element_id, "end") + END


def diagram(body: str, *, definitions: str = "", process_id: str = "p", executable: str = "true") -> str:
    return f'{HEAD}{definitions}<bpmn:process id="{process_id}" isExecutable="{executable}">\n{body}</bpmn:process>\n</bpmn:definitions>\n'


def registry_with(*topics: str) -> HandlerRegistry:
    registry = HandlerRegistry()
    for topic in topics:
        registry.topic(topic, description=f"test topic {topic}")(lambda inputs, context: inputs)
    return registry


def lint_text(text: str, **options) -> list:
    return lint_documents({FILE: text.encode()}, options.pop("registry", None), **options)


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in the diagram")


def find(problems: list, element_id: str | None, fragment: str, severity: str = "error"):
    """Return the one problem at ``element_id`` whose message contains ``fragment``."""
    matches = [p for p in problems if p.element_id == element_id and fragment in p.message and p.severity == severity]
    assert len(matches) == 1, "problems found:\n" + "\n".join(str(p) for p in problems)
    return matches[0]


def errors(problems: list) -> list:
    return [p for p in problems if p.severity == "error"]



def test_lint_example_diagram_clean():
    data = (DIAGRAMS / "user_service.bpmn").read_bytes()

    problems = lint_documents({"user_service.bpmn": data}, registry_with("test.echo"), known_groups={"care_manager", "provider_services"})

    assert problems == []


def test_lint_output_line_format():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="test.echp" />', "svc"))

    problems = lint_text(text, registry=registry_with("test.echo"))

    line = line_of(text, 'id="svc"')
    assert len(problems) == 1
    assert str(problems[0]) == (
        f"{FILE}:svc (line {line}): service task 'svc' uses topic 'test.echp', "
        "which has no handler (did you mean 'test.echo'?); use a topic listed in docs/topics.md"
    )


def test_lint_output_line_format_warning():
    timer = '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDate>2030-04-01T09:00:00</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    text = diagram(chain(timer, "wait"))

    problems = lint_text(text)

    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{FILE}:wait (line {line_of(text, 'timeDate')}): warning: ")


@pytest.mark.parametrize("attribute", ["class", "delegateExpression", "expression"])
@pytest.mark.parametrize("tag", ["serviceTask", "sendTask", "businessRuleTask"])
def test_lint_delegate_attribute(tag, attribute):
    text = diagram(chain(f'<bpmn:{tag} id="job" camunda:{attribute}="org.example.Job" />', "job"))

    problem = find(lint_text(text), "job", f"uses camunda:{attribute}")

    assert problem.line == line_of(text, 'id="job"')
    assert "set Implementation to External" in problem.message


@pytest.mark.parametrize(
    ("listener", "detail"),
    [
        ('<camunda:executionListener class="org.example.Audit" event="start" />', "execution listener with camunda:class 'org.example.Audit'"),
        ('<camunda:executionListener delegateExpression="${audit}" event="end" />', "execution listener with camunda:delegateExpression"),
        ('<camunda:taskListener expression="${notify}" event="create" />', "task listener with camunda:expression"),
        ('<camunda:taskListener event="create"><camunda:script scriptFormat="groovy">x</camunda:script></camunda:taskListener>', "task listener with a script"),
    ],
)
def test_lint_listener(listener, detail):
    task = f'<bpmn:userTask id="review"><bpmn:extensionElements>\n{listener}\n</bpmn:extensionElements></bpmn:userTask>'
    text = diagram(chain(task, "review"))

    problem = find(lint_text(text), "review", detail)

    assert problem.line == line_of(text, "Listener")
    assert "never runs" in problem.message


def test_lint_service_task_not_external():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:topic="test.echo" />', "svc"))

    problem = find(lint_text(text), "svc", "is not external")

    assert problem.line == line_of(text, 'id="svc"')


def test_lint_service_task_without_topic():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:type="external" />', "svc"))

    problem = find(lint_text(text), "svc", "has no topic")

    assert problem.line == line_of(text, 'id="svc"')


def test_lint_unknown_topic_lists_close_matches():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="email.sned" />', "svc"))

    problem = find(lint_text(text, registry=registry_with("email.send", "cqc.lookup")), "svc", "topic 'email.sned', which has no handler")

    assert "(did you mean 'email.send'?)" in problem.message
    assert problem.line == line_of(text, 'id="svc"')


def test_lint_topic_unchecked_without_registry():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="anything.at.all" />', "svc"))

    assert lint_text(text) == []


def gateway_diagram(kind: str, gateway_attributes: str, flows: str) -> str:
    body = START + flow("f0", "start", "gw") + f'<bpmn:{kind} id="gw" {gateway_attributes} />\n' + flows
    body += '<bpmn:endEvent id="end_a" />\n<bpmn:endEvent id="end_b" />\n<bpmn:endEvent id="end_c" />\n'
    return diagram(body)


@pytest.mark.parametrize("kind", ["exclusiveGateway", "inclusiveGateway"])
def test_lint_gateway_flow_without_condition(kind):
    flows = flow("f_a", "gw", "end_a", "amount &gt; 10") + flow("f_b", "gw", "end_b") + flow("f_c", "gw", "end_c")
    text = gateway_diagram(kind, 'default="f_c"', flows)

    problem = find(lint_text(text), "gw", "no condition that are not the default: 'f_b'")

    assert problem.line == line_of(text, 'id="gw"')


def test_lint_gateway_without_conditions_or_default():
    text = gateway_diagram("exclusiveGateway", "", flow("f_a", "gw", "end_a") + flow("f_b", "gw", "end_b"))

    problem = find(lint_text(text), "gw", "has 2 outgoing flows but no conditions and no default flow")

    assert problem.line == line_of(text, 'id="gw"')


def test_lint_gateway_blank_condition_counts_as_none():
    flows = flow("f_a", "gw", "end_a", "  ") + flow("f_b", "gw", "end_b", "ok")
    text = gateway_diagram("exclusiveGateway", "", flows)

    find(lint_text(text), "gw", "not the default: 'f_a'")


def test_lint_gateway_default_not_outgoing():
    flows = flow("f_a", "gw", "end_a", "ok") + flow("f_b", "gw", "end_b", "not ok")
    text = gateway_diagram("exclusiveGateway", 'default="f0"', flows)

    problem = find(lint_text(text), "gw", "names default flow 'f0', which does not leave this gateway")

    assert problem.line == line_of(text, 'id="gw"')


def test_lint_gateway_with_conditions_and_default_clean():
    flows = flow("f_a", "gw", "end_a", "${amount &gt; 10 &amp;&amp; !urgent}") + flow("f_b", "gw", "end_b", "amount &lt; 0") + flow("f_c", "gw", "end_c")
    text = gateway_diagram("exclusiveGateway", 'default="f_c"', flows)

    assert lint_text(text) == []


def timer_diagram(kind: str, value: str) -> str:
    timer = f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>\n<bpmn:{kind}>{value}</bpmn:{kind}>\n</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    return diagram(chain(timer, "wait"))


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("timeDuration", "PT5X", "is not a valid ISO 8601 duration"),
        ("timeDuration", "P5", "is not a valid ISO 8601 duration"),
        ("timeDuration", "2030-04-01T09:00:00Z", "a date-time belongs in a timeDate"),
        ("timeDate", "2030-13-01T09:00:00Z", "it does not parse"),
        ("timeDate", "P2D", "a duration belongs in a timeDuration"),
        ("timeDate", "R3/PT1H", "a repeating cycle belongs in a timeCycle"),
        ("timeCycle", "R3/PT0S", "zero interval"),
        ("timeCycle", "R3/PX", "it does not parse"),
        ("timeDuration", "${reminder_after +}", "neither an ISO 8601 value nor a valid expression"),
        ("timeDuration", "", "has an empty timeDuration"),
    ],
)
def test_lint_timer_invalid(kind, value, fragment):
    text = timer_diagram(kind, value)

    problem = find(lint_text(text), "wait", fragment)

    assert problem.line == line_of(text, f"<bpmn:{kind}>")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("timeDuration", "PT5M"),
        ("timeDuration", "P1DT12H"),
        ("timeDate", "2030-04-01T09:00:00Z"),
        ("timeDate", "2030-04-01T09:00:00+01:00"),
        ("timeCycle", "R3/PT1H"),
        ("timeCycle", "R/P1D"),
        ("timeCycle", "R2/2030-04-01T09:00:00Z/P1W"),
        ("timeDuration", "${reminder_after}"),
        ("timeDate", "deadline - timedelta(days=2)"),
    ],
)
def test_lint_timer_valid(kind, value):
    assert lint_text(timer_diagram(kind, value)) == []


def test_lint_timer_without_value():
    timer = '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition /></bpmn:intermediateCatchEvent>'
    text = diagram(chain(timer, "wait"))

    problem = find(lint_text(text), "wait", "has no timer value")

    assert problem.line == line_of(text, 'id="wait"')


@pytest.mark.parametrize(
    ("kind", "value"),
    [("timeDate", "2030-04-01T09:00:00"), ("timeDate", "2030-04-01"), ("timeCycle", "R3/2030-04-01T09:00/P1D")],
)
def test_lint_timer_without_zone_warns(kind, value):
    text = timer_diagram(kind, value)

    problems = lint_text(text)

    problem = find(problems, "wait", "no zone offset, which is read as Europe/London time", severity="warning")
    assert "add Z or an offset" in problem.message
    assert problem.line == line_of(text, f"<bpmn:{kind}>")
    assert errors(problems) == []


def user_task_diagram(attributes: str = "", form: str = "") -> str:
    extension = f"<bpmn:extensionElements><camunda:formData>\n{form}</camunda:formData></bpmn:extensionElements>" if form else ""
    return diagram(chain(f'<bpmn:userTask id="review" {attributes}>{extension}</bpmn:userTask>', "review"))


@pytest.mark.parametrize(
    ("due", "fragment"),
    [
        ("tomorrow", "neither an ISO 8601 date-time or duration nor an ${...} expression"),
        ("${deadline +}", "is not allowed"),
        ("R3/PT1H", "not a repeating cycle"),
        ("2030-02-30T09:00:00Z", "it does not parse"),
    ],
)
def test_lint_due_date_invalid(due, fragment):
    text = user_task_diagram(f'camunda:dueDate="{due}"')

    problem = find(lint_text(text), "review", f"has camunda:dueDate '{due}'")

    assert fragment in problem.message
    assert problem.line == line_of(text, 'id="review"')


@pytest.mark.parametrize("due", ["P2D", "PT4H", "2030-04-01T17:00:00Z", "${deadline}", "${created + timedelta(days=3)}"])
def test_lint_due_date_valid(due):
    assert lint_text(user_task_diagram(f'camunda:dueDate="{due}"')) == []


def test_lint_candidate_group_unknown():
    text = user_task_diagram('camunda:candidateGroups="care_manager, care_managers, ${team}"')

    problems = lint_text(text, known_groups={"care_manager", "provider_services"})

    problem = find(problems, "review", "names candidate group 'care_managers', which does not exist")
    assert "(did you mean 'care_manager'?)" in problem.message
    assert problem.line == line_of(text, 'id="review"')
    assert len(problems) == 1


def test_lint_candidate_group_unchecked_without_known_groups():
    assert lint_text(user_task_diagram('camunda:candidateGroups="anyone"')) == []


def test_lint_assignee_expression_rejected():
    text = user_task_diagram('camunda:assignee="${owner.__class__}"')

    problem = find(lint_text(text), "review", "camunda:assignee expression the engine rejects")

    assert "__class__" in problem.message


@pytest.mark.parametrize(
    ("form_field", "fragment"),
    [
        ('<camunda:formField id="hours" type="integer" />', "has type 'integer'"),
        ('<camunda:formField id="hours" />', "has no type"),
        ('<camunda:formField id="start-date" type="date" />', "has an id that cannot be a process variable"),
        ('<camunda:formField id="class" type="string" />', "has an id that cannot be a process variable"),
        ('<camunda:formField id="_secret" type="string" />', "has an id that cannot be a process variable"),
        ('<camunda:formField id="1st" type="string" />', "has an id that cannot be a process variable"),
        ('<camunda:formField type="string" />', "has no id"),
        ('<camunda:formField id="kind" type="enum" />', "is an enum with no values"),
        ('<camunda:formField id="kind" type="enum"><camunda:value name="Alpha" /></camunda:formField>', "enum value with no id"),
    ],
)
def test_lint_form_field_invalid(form_field, fragment):
    text = user_task_diagram(form=form_field + "\n")

    problem = find(lint_text(text), "review", fragment)

    assert problem.line == line_of(text, "<camunda:formField")


def test_lint_form_unknown_type_suggests_close_match():
    text = user_task_diagram(form='<camunda:formField id="price" type="decimals" />\n')

    problem = find(lint_text(text), "review", "has type 'decimals'")

    assert "(did you mean 'decimal'?)" in problem.message
    assert "use one of string, long, boolean, date, enum, decimal" in problem.message


def test_lint_form_duplicate_field_id():
    form = '<camunda:formField id="hours" type="long" />\n<camunda:formField id="hours" type="string" />\n'
    text = user_task_diagram(form=form)

    problem = find(lint_text(text), "review", "form field 'hours' of user task 'review' appears twice")

    assert problem.line == line_of(text, 'type="string"')


def constrained(field_type: str, constraints: str) -> str:
    return f'<camunda:formField id="amount" type="{field_type}"><camunda:validation>\n{constraints}\n</camunda:validation></camunda:formField>\n'


@pytest.mark.parametrize(
    ("field_type", "constraint", "fragment"),
    [
        ("string", '<camunda:constraint name="minLength" config="3" />', "constraint 'minLength', which is not supported (did you mean 'minlength'"),
        ("long", '<camunda:constraint name="min" config="ten" />', "has min 'ten', which is not a number"),
        ("decimal", '<camunda:constraint name="max" config="NaN" />', "has max 'NaN', which is not a number"),
        ("long", '<camunda:constraint name="max" />', "has max '', which is not a number"),
        ("string", '<camunda:constraint name="maxlength" config="5.5" />', "has maxlength '5.5'; give a whole number"),
        ("string", '<camunda:constraint name="minlength" config="-1" />', "has minlength '-1'; give a whole number"),
        ("string", '<camunda:constraint name="pattern" config="[a-z" />', "is not a valid regular expression"),
    ],
)
def test_lint_form_constraint_invalid(field_type, constraint, fragment):
    text = user_task_diagram(form=constrained(field_type, constraint))

    problem = find(lint_text(text), "review", fragment)

    assert problem.line == line_of(text, "<camunda:constraint")


def test_lint_form_min_above_max():
    constraints = '<camunda:constraint name="min" config="10" />\n<camunda:constraint name="max" config="5" />'
    text = user_task_diagram(form=constrained("long", constraints))

    problem = find(lint_text(text), "review", "has min 10 above max 5")

    assert problem.line == line_of(text, "<camunda:formField")


def test_lint_form_constraint_without_effect_warns():
    text = user_task_diagram(form=constrained("long", '<camunda:constraint name="maxlength" config="5" />'))

    problems = lint_text(text)

    problem = find(problems, "review", "constraint 'maxlength', which has no effect on a long field", severity="warning")
    assert problem.line == line_of(text, "<camunda:constraint")
    assert errors(problems) == []


def test_lint_form_valid_fields_clean():
    form = (
        '<camunda:formField id="price" type="decimal" defaultValue="12.50"><camunda:validation>'
        '<camunda:constraint name="min" config="0" /><camunda:constraint name="max" config="999.99" /></camunda:validation></camunda:formField>\n'
        '<camunda:formField id="postcode" type="string"><camunda:validation>'
        '<camunda:constraint name="required" /><camunda:constraint name="pattern" config="[A-Z0-9 ]+" />'
        '<camunda:constraint name="readonly" /></camunda:validation></camunda:formField>\n'
        '<camunda:formField id="starts" type="date" defaultValue="2030-04-01" />\n'
        '<camunda:formField id="urgent" type="boolean" defaultValue="false" />\n'
        '<camunda:formField id="kind" type="enum" defaultValue="b"><camunda:value id="a" name="Alpha" /><camunda:value id="b" name="Beta" /></camunda:formField>\n'
    )

    assert lint_text(user_task_diagram(form=form)) == []


@pytest.mark.parametrize(
    ("field_type", "default", "fragment"),
    [
        ("long", "ten", "does not fit type long: it must be a whole number"),
        ("decimal", "12,50", "does not fit type decimal"),
        ("boolean", "maybe", "does not fit type boolean: it must be true or false"),
        ("date", "2030-02-30", "does not fit type date"),
        ("enum", "c", "does not fit type enum: it must be one of a"),
        ("string", "${name}", "defaults are constants"),
    ],
)
def test_lint_form_default_does_not_fit(field_type, default, fragment):
    values = '<camunda:value id="a" name="Alpha" />' if field_type == "enum" else ""
    text = user_task_diagram(form=f'<camunda:formField id="amount" type="{field_type}" defaultValue="{default}">{values}</camunda:formField>\n')

    problem = find(lint_text(text), "review", f"has default value '{default}'")

    assert fragment in problem.message
    assert problem.line == line_of(text, "<camunda:formField")


def test_lint_flow_element_without_id():
    text = diagram(START + flow("f1", "start", "end") + '<bpmn:task name="Orphan" />\n' + END)

    problem = find(lint_text(text), None, "a task named 'Orphan' has no id; give it a unique id")

    assert problem.line == line_of(text, "Orphan")


def test_lint_duplicate_id():
    text = diagram(START + flow("f1", "start", "work") + '<bpmn:task id="work" />\n' + flow("f2", "work", "end") + '<bpmn:endEvent id="work" />\n' + END)

    problem = find(lint_text(text), "work", "id 'work' is used twice in this file")

    assert problem.line == line_of(text, '<bpmn:endEvent id="work"')
    assert f"first on line {line_of(text, '<bpmn:task id=')}" in problem.message


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("amount &gt;", "SyntaxError"),
        ("().__class__.__bases__[0].__subclasses__()", '"__subclasses__" is an invalid attribute name'),
        ("open(path).read()", "'open' is not available"),
    ],
)
def test_lint_condition_rejected(condition, fragment):
    flows = flow("f_a", "gw", "end_a", condition) + flow("f_b", "gw", "end_b")
    text = gateway_diagram("exclusiveGateway", 'default="f_b"', flows)

    problem = find(lint_text(text), "f_a", "has a conditionExpression the engine rejects")

    assert fragment in problem.message
    assert problem.line == line_of(text, "conditionExpression")


def test_lint_condition_in_other_language():
    flows = flow("f_a", "gw", "end_a") + flow("f_b", "gw", "end_b")
    flows = flows.replace('targetRef="end_a" />', 'targetRef="end_a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="javascript">amount &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>')
    text = gateway_diagram("exclusiveGateway", 'default="f_b"', flows)

    problem = find(lint_text(text), "f_a", "has a conditionExpression in 'javascript'")

    assert problem.line == line_of(text, "conditionExpression")


@pytest.mark.parametrize("tag", ["inputParameter", "outputParameter"])
def test_lint_parameter_expression_rejected(tag):
    task = (
        '<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="test.echo"><bpmn:extensionElements><camunda:inputOutput>\n'
        f'<camunda:{tag} name="leak">${{__import__("os").getcwd()}}</camunda:{tag}>\n'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
    )
    text = diagram(chain(task, "svc"))

    problem = find(lint_text(text), "svc", "maps parameter 'leak' with an expression the engine rejects")

    assert problem.line == line_of(text, f"<camunda:{tag}")


def test_lint_parameter_script_rejected():
    task = (
        '<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="test.echo"><bpmn:extensionElements><camunda:inputOutput>\n'
        '<camunda:inputParameter name="total"><camunda:script scriptFormat="python">a + b</camunda:script></camunda:inputParameter>\n'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
    )
    text = diagram(chain(task, "svc"))

    problem = find(lint_text(text), "svc", "maps parameter 'total' with a script, which is not supported")

    assert problem.line == line_of(text, "<camunda:inputParameter")


def test_lint_parameter_partial_expression_warns():
    task = (
        '<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="test.echo"><bpmn:extensionElements><camunda:inputOutput>\n'
        '<camunda:inputParameter name="subject">Dear ${name}</camunda:inputParameter>\n'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
    )
    text = diagram(chain(task, "svc"))

    problem = find(lint_text(text), "svc", "passes parameter 'subject' as plain text", severity="warning")

    assert problem.line == line_of(text, "<camunda:inputParameter")


def test_lint_parameters_on_user_task_warn():
    task = (
        '<bpmn:userTask id="review"><bpmn:extensionElements><camunda:inputOutput>\n'
        '<camunda:inputParameter name="x">1</camunda:inputParameter>\n'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>"
    )
    text = diagram(chain(task, "review"))

    problem = find(lint_text(text), "review", "has input/output parameters, which the engine ignores", severity="warning")

    assert problem.line == line_of(text, "<camunda:inputOutput")


def script_diagram(script: str, attributes: str = "") -> str:
    return diagram(chain(f'<bpmn:scriptTask id="calc" {attributes}>\n<bpmn:script>{script}</bpmn:script>\n</bpmn:scriptTask>', "calc"))


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("total = (", "syntax error on line 1"),
        ("name = person.__dict__", '"__dict__" is an invalid attribute name'),
        ("import os\nfiles = os.listdir('.')", "imports a module on line 1; scripts cannot import"),
        ("from os import path", "imports a module"),
        ("text = open(name).read()", "'open' is not available"),
    ],
)
def test_lint_script_rejected(script, fragment):
    text = script_diagram(script)

    problem = find(lint_text(text), "calc", "has a script the engine rejects")

    assert fragment in problem.message
    assert problem.line == line_of(text, "<bpmn:script>")


@pytest.mark.parametrize("script_format", ["javascript", "groovy"])
def test_lint_script_format_not_python(script_format):
    text = script_diagram("x = 1", f'scriptFormat="{script_format}"')

    problem = find(lint_text(text), "calc", f"has script format '{script_format}'")

    assert problem.line == line_of(text, 'id="calc"')


@pytest.mark.parametrize("attributes", ["", 'scriptFormat="python"', 'scriptFormat="Python"'])
def test_lint_script_python_clean(attributes):
    assert lint_text(script_diagram("total = sum([Decimal('1.50'), Decimal(2)])\nlimit = date(2030, 1, 1) + timedelta(days=1)", attributes)) == []


def test_lint_script_task_empty():
    text = diagram(chain('<bpmn:scriptTask id="calc" scriptFormat="python" />', "calc"))

    find(lint_text(text), "calc", "has no script")


def test_lint_completion_condition_rejected():
    task = (
        '<bpmn:userTask id="review"><bpmn:multiInstanceLoopCharacteristics camunda:collection="reviewers" camunda:elementVariable="reviewer">\n'
        "<bpmn:completionCondition>nrOfCompletedInstances &gt;=</bpmn:completionCondition>\n"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    text = diagram(chain(task, "review"))

    problem = find(lint_text(text), "review", "has a completionCondition the engine rejects")

    assert problem.line == line_of(text, "<bpmn:completionCondition>")


def email_diagram(template_parameter: str) -> str:
    task = (
        '<bpmn:serviceTask id="mail" camunda:type="external" camunda:topic="email.send"><bpmn:extensionElements><camunda:inputOutput>\n'
        f"{template_parameter}\n"
        '<camunda:inputParameter name="to">${provider_email}</camunda:inputParameter>\n'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
    )
    return diagram(chain(task, "mail"))


def test_lint_email_template_unknown():
    text = email_diagram('<camunda:inputParameter name="template">enquiry_recieved</camunda:inputParameter>')

    problem = find(lint_text(text, known_templates={"enquiry_received", "payment_sent"}), "mail", "sends email template 'enquiry_recieved', which does not exist")

    assert "(did you mean 'enquiry_received'?)" in problem.message
    assert problem.line == line_of(text, 'name="template"')


@pytest.mark.parametrize("value", ["enquiry_received", "${template_name}"])
def test_lint_email_template_known_or_expression(value):
    text = email_diagram(f'<camunda:inputParameter name="template">{value}</camunda:inputParameter>')

    assert lint_text(text, known_templates={"enquiry_received"}) == []


MESSAGE = '<bpmn:message id="msg_reply" name="provider_reply" />\n'


def test_lint_message_event_without_reference():
    catch = '<bpmn:intermediateCatchEvent id="reply"><bpmn:messageEventDefinition id="reply_def" /></bpmn:intermediateCatchEvent>'
    text = diagram(chain(catch, "reply"), definitions=MESSAGE)

    problem = find(lint_text(text), "reply", "has no message; pick or create a global message")

    assert problem.line == line_of(text, "<bpmn:messageEventDefinition")


def test_lint_message_event_undefined_reference():
    catch = '<bpmn:intermediateCatchEvent id="reply"><bpmn:messageEventDefinition messageRef="msg_replies" /></bpmn:intermediateCatchEvent>'
    text = diagram(chain(catch, "reply"), definitions=MESSAGE)

    problem = find(lint_text(text), "reply", "refers to message 'msg_replies', which is not defined in this file")

    assert "(did you mean 'msg_reply'?)" in problem.message
    assert problem.line == line_of(text, "<bpmn:messageEventDefinition")


def test_lint_message_without_name():
    catch = '<bpmn:intermediateCatchEvent id="reply"><bpmn:messageEventDefinition messageRef="msg_reply" /></bpmn:intermediateCatchEvent>'
    text = diagram(chain(catch, "reply"), definitions='<bpmn:message id="msg_reply" />\n')

    problem = find(lint_text(text), "msg_reply", "has no name")

    assert problem.line == line_of(text, "<bpmn:message ")


def test_lint_message_event_clean():
    catch = '<bpmn:intermediateCatchEvent id="reply"><bpmn:messageEventDefinition messageRef="msg_reply" /></bpmn:intermediateCatchEvent>'

    assert lint_text(diagram(chain(catch, "reply"), definitions=MESSAGE)) == []


def test_lint_call_activity_unknown_process():
    text = diagram(chain('<bpmn:callActivity id="call" calledElement="chase_provider" />', "call"))

    problem = find(lint_text(text), "call", "calls process 'chase_provider', which is in none of the files given")

    assert problem.line == line_of(text, 'id="call"')


def test_lint_call_activity_without_called_element():
    text = diagram(chain('<bpmn:callActivity id="call" />', "call"))

    find(lint_text(text), "call", "has no called element")


def test_lint_call_activity_across_files_clean():
    caller = diagram(chain('<bpmn:callActivity id="call" calledElement="chase" />', "call"), process_id="main")
    called = diagram(START + flow("f1", "start", "end") + END, process_id="chase")

    problems = lint_documents({"main.bpmn": caller.encode(), "chase.bpmn": called.encode()})

    assert problems == []


def test_lint_call_activity_suggests_process_in_other_file():
    caller = diagram(chain('<bpmn:callActivity id="call" calledElement="chse" />', "call"), process_id="main")
    called = diagram(START + flow("f1", "start", "end") + END, process_id="chase")

    problems = lint_documents({"main.bpmn": caller.encode(), "chase.bpmn": called.encode()})

    problem = find(problems, "call", "calls process 'chse'")
    assert problem.file == "main.bpmn"
    assert "(did you mean 'chase'?)" in problem.message


@pytest.mark.parametrize(("end", "attribute"), [("sourceRef", 'sourceRef="nowhere" targetRef="end"'), ("targetRef", 'sourceRef="start" targetRef="nowhere"')])
def test_lint_sequence_flow_missing_end(end, attribute):
    text = diagram(START + f'<bpmn:sequenceFlow id="f1" {attribute} />\n' + END)

    problem = find(lint_text(text), "f1", f"has {end} 'nowhere', which is not an element of process 'p'")

    assert problem.line == line_of(text, 'id="f1"')


def test_lint_no_executable_process():
    text = diagram(START + flow("f1", "start", "end") + END, executable="false")

    problem = find(lint_text(text), "defs", "the file has no executable process")

    assert problem.line == line_of(text, "<bpmn:definitions")


def loop_diagram(waiting_element: str) -> str:
    """Return a process where ``work`` and a gateway loop back through ``waiting_element`` (id ``hold``)."""
    body = START + flow("f1", "start", "work")
    body += '<bpmn:scriptTask id="work"><bpmn:script>attempts = attempts + 1</bpmn:script></bpmn:scriptTask>\n'
    body += flow("f2", "work", "gw") + '<bpmn:exclusiveGateway id="gw" default="f_done" />\n'
    body += flow("f_again", "gw", "hold", "attempts &lt; 3") + waiting_element + "\n" + flow("f_back", "hold", "work")
    body += flow("f_done", "gw", "end") + END
    return diagram(body)


def test_lint_unbounded_loop_warns():
    text = loop_diagram('<bpmn:task id="hold" />')

    problems = lint_text(text)

    problem = find(problems, "work", "form a loop with no timer, message or user task to wait on", severity="warning")
    assert "'work', 'gw', 'hold'" in problem.message
    assert "once the loop has run about 1,000 tasks" in problem.message
    assert problem.line == line_of(text, 'id="work"')
    assert errors(problems) == []


@pytest.mark.parametrize(
    "waiting_element",
    [
        '<bpmn:intermediateCatchEvent id="hold"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        '<bpmn:intermediateCatchEvent id="hold"><bpmn:messageEventDefinition messageRef="msg_reply" /></bpmn:intermediateCatchEvent>',
        '<bpmn:receiveTask id="hold" messageRef="msg_reply" />',
    ],
)
def test_lint_loop_through_wait_clean(waiting_element):
    text = loop_diagram(waiting_element).replace("<bpmn:process", MESSAGE + "<bpmn:process", 1)

    assert lint_text(text) == []


def test_lint_loop_through_user_task_warns_softly():
    text = loop_diagram('<bpmn:userTask id="hold" />')

    problems = lint_text(text)

    problem = find(problems, "hold", "user task 'hold' is on a loop", severity="warning")
    assert "model repeated exchanges as separate instances or events" in problem.message
    assert problem.line == line_of(text, 'id="hold"')
    assert len(problems) == 1


def test_lint_loop_through_subprocess_with_user_task():
    inner = START.replace('"start"', '"in_start"') + flow("in_f1", "in_start", "ask") + '<bpmn:userTask id="ask" />\n'
    inner += flow("in_f2", "ask", "in_end") + END.replace('"end"', '"in_end"')
    text = loop_diagram(f'<bpmn:subProcess id="hold">\n{inner}</bpmn:subProcess>')

    problems = lint_text(text)

    assert [p.severity for p in problems] == []


def test_lint_self_loop_warns():
    body = START + flow("f1", "start", "work") + '<bpmn:task id="work" />\n' + flow("f_self", "work", "work") + flow("f2", "work", "end") + END

    problems = lint_text(diagram(body))

    find(problems, "work", "the flows through 'work' form a loop", severity="warning")


def test_lint_standard_loop_without_maximum_warns():
    text = diagram(chain('<bpmn:task id="work"><bpmn:standardLoopCharacteristics /></bpmn:task>', "work"))

    problem = find(lint_text(text), "work", "is a standard loop with no loopMaximum", severity="warning")

    assert problem.line == line_of(text, 'id="work"')


def test_lint_external_entity_rejected(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("LINT-SECRET-MARKER")
    text = f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "{secret.as_uri()}">]>\n' + diagram(chain("<bpmn:task id=\"t\" name=\"&e;\" />", "t")).split("\n", 1)[1]

    problems = lint_text(text)

    assert len(problems) == 1
    assert "DOCTYPE or entity declaration is not allowed" in problems[0].message
    assert "LINT-SECRET-MARKER" not in str(problems[0])


def test_lint_entity_bomb_rejected():
    entities = '<!ENTITY a "lol">' + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    text = f'<?xml version="1.0"?>\n<!DOCTYPE bomb [{entities}]>\n<bomb>&i;</bomb>\n'

    problems = lint_text(text)

    assert len(problems) == 1
    assert "DOCTYPE or entity declaration is not allowed" in problems[0].message


def test_lint_utf16_doctype_rejected():
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [<!ENTITY e "boom">]>\n' + diagram(chain('<bpmn:task id="t" name="&e;" />', "t")).split("\n", 1)[1]

    problems = lint_documents({FILE: text.encode("utf-16")})

    assert len(problems) == 1
    assert "DOCTYPE" in problems[0].message


def test_lint_malformed_xml():
    problems = lint_documents({FILE: b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n<bpmn:process id="p">\n'})

    assert len(problems) == 1
    assert problems[0].message.startswith("not well-formed XML")
    assert problems[0].line == 4


def test_lint_root_not_definitions():
    problems = lint_documents({FILE: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" />\n'})

    problem = find(problems, None, "the root element is <svg> in namespace http://www.w3.org/2000/svg, not a BPMN 2.0 <definitions>")
    assert problem.line == 2


def test_lint_parser_rejection_reported_with_line():
    text = diagram('<bpmn:endEvent id="end" />\n')

    problem = find(lint_text(text), "p", "the engine's parser rejects this element: No start event found")

    assert problem.line == line_of(text, "<bpmn:process")


def test_lint_duplicate_process_across_files():
    first = diagram(START + flow("f1", "start", "end") + END)
    second = first.replace("\n", "\n<!-- a second copy -->\n", 1)

    problems = lint_documents({"a.bpmn": first.encode(), "b.bpmn": second.encode()})

    problem = find(problems, "p", "Duplicate process ID: p")
    assert problem.file == "b.bpmn"
    assert problem.line == line_of(second, "<bpmn:process")


def test_lint_parser_crash_becomes_problem(monkeypatch):
    def crash(self, process_id, required=True):
        raise KeyError("lane")

    monkeypatch.setattr(lint_module.CareParser, "get_spec", crash)
    text = diagram(START + flow("f1", "start", "end") + END)

    problem = find(lint_text(text), "p", "the engine's parser failed on this process (KeyError: 'lane')")

    assert problem.line == line_of(text, "<bpmn:process")


def test_lint_parser_duplicate_of_check_dropped():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:class="org.example.Job" />', "svc"))

    problems = lint_text(text)

    assert [p.element_id for p in problems] == ["svc"]


def test_lint_business_rule_task_without_decision():
    text = diagram(chain('<bpmn:businessRuleTask id="rule" />', "rule"))

    problems = lint_text(text)

    problem = find(problems, "rule", "has no camunda:decisionRef")
    assert problem.line == line_of(text, 'id="rule"')
    assert len(problems) == 1


def test_lint_business_rule_task_without_decision_table():
    text = diagram(chain('<bpmn:businessRuleTask id="rule" camunda:decisionRef="fee_band" />', "rule"))

    find(lint_text(text), "rule", 'No DMN Diagram available with id "fee_band"')


def test_lint_parser_crash_on_add_becomes_problem(monkeypatch):
    def crash(self, bpmn, filename=None):
        raise KeyError("decisionRef")

    monkeypatch.setattr(lint_module.CareParser, "add_bpmn_xml", crash)
    text = diagram(START + flow("f1", "start", "end") + END)

    problem = find(lint_text(text), None, "the engine's parser failed on this file (KeyError: 'decisionRef')")

    assert problem.file == FILE


@pytest.mark.parametrize("expression", ["-" * 100_000 + "1", "a+" * 50_000 + "a"])
def test_lint_deeply_nested_condition(expression):
    flows = flow("f_a", "gw", "end_a", expression) + flow("f_b", "gw", "end_b")
    text = gateway_diagram("exclusiveGateway", 'default="f_b"', flows)

    problem = find(lint_text(text), "f_a", "nested too deeply to compile")

    assert problem.line == line_of(text, "conditionExpression")


def test_lint_long_rejection_shortened():
    script = "\n".join(f"_value_{index} = {index}" for index in range(60))

    problem = find(lint_text(script_diagram(script)), "calc", "has a script the engine rejects")

    assert len(problem.message) < 500
    assert problem.message.endswith("...")


def test_lint_call_activity_variable_mappings_warn():
    activity = '<bpmn:callActivity id="call" calledElement="chase"><bpmn:extensionElements>\n<camunda:in source="amount" target="amount" />\n</bpmn:extensionElements></bpmn:callActivity>'
    called = '<bpmn:process id="chase" isExecutable="true"><bpmn:startEvent id="chase_start" /></bpmn:process>\n'
    text = diagram(chain(activity, "call"), definitions=called)

    problems = lint_text(text)

    problem = find(problems, "call", "has camunda:in/out variable mappings, which the engine ignores", severity="warning")
    assert problem.line == line_of(text, "<camunda:in ")
    assert errors(problems) == []


@pytest.mark.parametrize(
    ("cycle", "fragment"),
    [("R/PT5M", "it repeats without end"), ("R3/PT5X", "it does not parse"), ("every five minutes", "it does not parse")],
)
def test_lint_retry_cycle_invalid(cycle, fragment):
    task = (
        '<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="test.echo"><bpmn:extensionElements>\n'
        f"<camunda:failedJobRetryTimeCycle>{cycle}</camunda:failedJobRetryTimeCycle>\n"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    text = diagram(chain(task, "svc"))

    problem = find(lint_text(text), "svc", f"has retry cycle '{cycle}': {fragment}")

    assert problem.line == line_of(text, "<camunda:failedJobRetryTimeCycle>")


def test_lint_retry_cycle_attribute_valid():
    text = diagram(chain('<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="test.echo" camunda:failedJobRetryTimeCycle="R5/PT10M" />', "svc"))

    assert lint_text(text) == []


def test_lint_candidate_users_warn():
    text = user_task_diagram('camunda:candidateUsers="alice, bob"')

    problems = lint_text(text)

    problem = find(problems, "review", "has camunda:candidateUsers, which the engine ignores", severity="warning")
    assert problem.line == line_of(text, 'id="review"')
    assert errors(problems) == []


def test_lint_huge_value_message_capped():
    text = timer_diagram("timeDuration", "P" + "9" * 100_000)

    problem = find(lint_text(text), "wait", "has timeDuration 'P999")

    assert len(problem.message) <= 1003
    assert problem.message.endswith("...")


def test_lint_call_activity_all_variables_clean():
    mappings = '<camunda:in variables="all" />\n<camunda:out variables="all" />'
    activity = f'<bpmn:callActivity id="call" calledElement="chase"><bpmn:extensionElements>\n{mappings}\n</bpmn:extensionElements></bpmn:callActivity>'
    called = '<bpmn:process id="chase" isExecutable="true"><bpmn:startEvent id="chase_start" /></bpmn:process>\n'

    assert lint_text(diagram(chain(activity, "call"), definitions=called)) == []

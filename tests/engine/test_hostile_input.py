"""Hostile diagrams and expressions: sandbox escapes in scripts and conditions, and XML entity attacks."""

import pytest
import sqlalchemy as sa

import engine.xmlsafe as xmlsafe
from engine.deploy import deploy_documents
from engine.errors import DiagramError, ScriptError
from engine.models import Deployment, Incident, ProcessVersion
from engine.scripting import make_script_engine
from helpers import audit_kinds, open_elements, read_diagram

SUBCLASS_WALK = "${().__class__.__bases__[0].__subclasses__()}"

SCRIPT_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_hostile_script" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="hostile_script" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_to_script</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="run_script" name="Run script" scriptFormat="python">
      <bpmn:incoming>flow_to_script</bpmn:incoming><bpmn:outgoing>flow_to_review</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="review" camunda:candidateGroups="care_manager"><bpmn:incoming>flow_to_review</bpmn:incoming><bpmn:outgoing>flow_to_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_to_script" sourceRef="start" targetRef="run_script" />
    <bpmn:sequenceFlow id="flow_to_review" sourceRef="run_script" targetRef="review" />
    <bpmn:sequenceFlow id="flow_to_end" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

CONDITION_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_hostile_condition" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="hostile_condition" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_to_gateway</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="decide" default="to_safe"><bpmn:incoming>flow_to_gateway</bpmn:incoming><bpmn:outgoing>to_hostile</bpmn:outgoing><bpmn:outgoing>to_safe</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="hostile_path" camunda:candidateGroups="care_manager"><bpmn:incoming>to_hostile</bpmn:incoming><bpmn:outgoing>flow_hostile_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="safe_path" camunda:candidateGroups="care_manager"><bpmn:incoming>to_safe</bpmn:incoming><bpmn:outgoing>flow_safe_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end_hostile"><bpmn:incoming>flow_hostile_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_safe"><bpmn:incoming>flow_safe_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_to_gateway" sourceRef="start" targetRef="decide" />
    <bpmn:sequenceFlow id="to_hostile" sourceRef="decide" targetRef="hostile_path">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_safe" sourceRef="decide" targetRef="safe_path" />
    <bpmn:sequenceFlow id="flow_hostile_end" sourceRef="hostile_path" targetRef="end_hostile" />
    <bpmn:sequenceFlow id="flow_safe_end" sourceRef="safe_path" targetRef="end_safe" />
  </bpmn:process>
</bpmn:definitions>
"""

HOSTILE_SCRIPTS = {
    "import": "executed_before_import = True\nimport os\nos.makedirs(marker_path)",
    "open": "executed_before_open = True\nstolen = open('/etc/passwd').read()",
    "subclasses": "executed_before_walk = True\nclasses = ().__class__.__bases__[0].__subclasses__()",
}

HOSTILE_CONDITIONS = {
    "subclasses": SUBCLASS_WALK,
    "open": "${open('/etc/passwd').read() != ''}",
    "import": "${__import__('os').system('true') == 0}",
}


def script_diagram(script: str) -> bytes:
    return SCRIPT_DIAGRAM.format(script=script.replace("&", "&amp;").replace("<", "&lt;")).encode()


def condition_diagram(condition: str) -> bytes:
    return CONDITION_DIAGRAM.format(condition=condition.replace("&", "&amp;").replace("<", "&lt;")).encode()


def deploy_without_lint(session_factory, name: str, data: bytes) -> None:
    """Store a diagram the linter would reject, to prove the runtime blocks it on its own."""
    with session_factory.begin() as session:
        deploy_documents(session, {name: data}, "analyst.example", [])


def open_incidents(session_factory, instance_id: str) -> list[Incident]:
    with session_factory() as session:
        return list(session.scalars(sa.select(Incident).where(Incident.instance_id == instance_id, Incident.status == "open")))


def stored_rows(session_factory) -> tuple[int, int]:
    with session_factory() as session:
        deployments = session.scalar(sa.select(sa.func.count()).select_from(Deployment))
        versions = session.scalar(sa.select(sa.func.count()).select_from(ProcessVersion))
    return deployments, versions


@pytest.mark.parametrize("kind", sorted(HOSTILE_SCRIPTS))
def test_hostile_script_rejected_by_deploy(engine, session_factory, kind):
    with pytest.raises(DiagramError) as caught:
        engine.deploy({"hostile.bpmn": script_diagram(HOSTILE_SCRIPTS[kind])}, "analyst.example")

    assert [problem.element_id for problem in caught.value.problems] == ["run_script"]
    assert stored_rows(session_factory) == (0, 0)


@pytest.mark.parametrize("kind", sorted(HOSTILE_SCRIPTS))
def test_hostile_script_opens_incident(engine, session_factory, movable_clock, tmp_path, kind):
    marker = tmp_path / "created_by_script"
    deploy_without_lint(session_factory, "hostile.bpmn", script_diagram(HOSTILE_SCRIPTS[kind]))

    instance_id = engine.start("hostile_script", data={"marker_path": str(marker)})

    [incident] = open_incidents(session_factory, instance_id)
    assert incident.element_id == "run_script"
    assert incident.job_id is None
    assert engine.get_instance(instance_id).status == "error"
    assert engine.instance_elements(instance_id)["error"] == ["run_script"]
    assert open_elements(engine, instance_id) == []
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "incident.opened"]
    assert not marker.exists()
    assert engine.instance_data(instance_id) == {"marker_path": str(marker)}
    assert "root:" not in incident.error


@pytest.mark.parametrize("kind", sorted(HOSTILE_CONDITIONS))
def test_hostile_condition_rejected_by_deploy(engine, session_factory, kind):
    with pytest.raises(DiagramError) as caught:
        engine.deploy({"hostile.bpmn": condition_diagram(HOSTILE_CONDITIONS[kind])}, "analyst.example")

    assert "to_hostile" in [problem.element_id for problem in caught.value.problems]
    assert stored_rows(session_factory) == (0, 0)


@pytest.mark.parametrize("kind", sorted(HOSTILE_CONDITIONS))
def test_hostile_condition_opens_incident(engine, session_factory, movable_clock, kind):
    deploy_without_lint(session_factory, "hostile.bpmn", condition_diagram(HOSTILE_CONDITIONS[kind]))

    instance_id = engine.start("hostile_condition")

    [incident] = open_incidents(session_factory, instance_id)
    assert incident.element_id == "decide"
    assert engine.get_instance(instance_id).status == "error"
    assert open_elements(engine, instance_id) == []
    assert "root:" not in incident.error


@pytest.mark.parametrize(
    "expression",
    [
        SUBCLASS_WALK,
        "${__import__('os')}",
        "${math.__loader__}",
        "${date.today.__self__}",
        "eval('1')",
        "exec('x = 1')",
        "breakpoint()",
        "__builtins__",
    ],
)
def test_expression_escape_fails_to_compile(expression):
    environment = make_script_engine().environment

    with pytest.raises(ScriptError, match="is not allowed"):
        environment.evaluate(expression, {})


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("open('/etc/passwd')", NameError),
        ("getattr(1, '__class__')", NameError),
        ("type(1)", NameError),
        ("globals()", NameError),
        ("vars()", NameError),
        ("compile('1', 'name', 'eval')", NameError),
        ("'{0.__class__}'.format(1)", NotImplementedError),
        ("setattr(math, 'pi', 3)", TypeError),
    ],
)
def test_expression_escape_fails_to_run(expression, error):
    environment = make_script_engine().environment

    with pytest.raises(error):
        environment.evaluate(expression, {})


def xxe_diagram(secret_path) -> bytes:
    return (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file://' + str(secret_path).encode() + b'">]>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
        b'<bpmn:process id="p" name="&secret;" isExecutable="true" /></bpmn:definitions>'
    )


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(b'<!ENTITY lol%d "%s">\n' % (level, (b"&lol%d;" % (level - 1) if level > 1 else b"&lol;") * 10) for level in range(1, 10))
    + b']>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
    + b'<bpmn:process id="p" name="&lol9;" isExecutable="true" /></bpmn:definitions>'
)


class RefusingLxml:
    """A stand-in for lxml.etree that fails the test if xmlsafe passes the bytes to the parser."""

    @staticmethod
    def fromstring(*args, **kwargs):
        raise AssertionError("parse_xml passed a document with a DOCTYPE to lxml")


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-MARKER")
    return path


def test_xml_external_entity_rejected_before_parsing(secret_file, monkeypatch):
    monkeypatch.setattr(xmlsafe, "etree", RefusingLxml)

    with pytest.raises(DiagramError) as caught:
        xmlsafe.parse_xml(xxe_diagram(secret_file), "xxe.bpmn")

    [problem] = caught.value.problems
    assert problem.file == "xxe.bpmn"
    assert "DOCTYPE" in problem.message
    assert "TOP-SECRET-MARKER" not in str(caught.value)


def test_xml_billion_laughs_rejected_before_parsing(monkeypatch):
    monkeypatch.setattr(xmlsafe, "etree", RefusingLxml)

    with pytest.raises(DiagramError) as caught:
        xmlsafe.parse_xml(BILLION_LAUGHS, "laughs.bpmn")

    assert "DOCTYPE" in caught.value.problems[0].message


def test_xml_lowercase_doctype_rejected(secret_file, monkeypatch):
    monkeypatch.setattr(xmlsafe, "etree", RefusingLxml)

    with pytest.raises(DiagramError):
        xmlsafe.parse_xml(xxe_diagram(secret_file).replace(b"<!DOCTYPE", b"<!doctype"), "xxe.bpmn")


@pytest.mark.parametrize("name", ["xxe", "laughs"])
def test_xml_utf16_entities_rejected(secret_file, name):
    # UTF-16 hides the DOCTYPE from the byte check, so the parser settings and the doctype check must catch it.
    document = xxe_diagram(secret_file) if name == "xxe" else BILLION_LAUGHS
    encoded = document.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>').decode().encode("utf-16")

    with pytest.raises(DiagramError) as caught:
        xmlsafe.parse_xml(encoded, f"{name}.bpmn")

    assert "TOP-SECRET-MARKER" not in str(caught.value)


@pytest.mark.parametrize("name", ["xxe", "laughs"])
def test_deploy_rejects_entity_attacks(engine, session_factory, secret_file, name):
    document = xxe_diagram(secret_file) if name == "xxe" else BILLION_LAUGHS

    with pytest.raises(DiagramError) as caught:
        engine.deploy({f"{name}.bpmn": document}, "analyst.example")

    assert "TOP-SECRET-MARKER" not in str(caught.value)
    assert stored_rows(session_factory) == (0, 0)


def test_deploy_rejects_entity_beside_valid_file(engine, session_factory, secret_file):
    documents = {"forms.bpmn": read_diagram("forms.bpmn"), "xxe.bpmn": xxe_diagram(secret_file)}

    with pytest.raises(DiagramError) as caught:
        engine.deploy(documents, "analyst.example")

    assert [problem.file for problem in caught.value.problems] == ["xxe.bpmn"]
    assert stored_rows(session_factory) == (0, 0)

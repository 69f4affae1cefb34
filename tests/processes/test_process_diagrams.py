"""Every diagram in processes/: clean lint with the real registry, full diagram interchange and a deployable spec."""

import pytest
from lxml import etree

from engine.lint import lint_documents
from careplace.wiring import STAFF_GROUPS
from handlers.config import HandlerSettings
from handlers.registry import build_registry
from handlers.email import TEMPLATE_NAMES
from processes.loader import diagram_paths, load_all


NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
FLOW_NODES = "//bpmn:process//*[bpmn:incoming or bpmn:outgoing or self::bpmn:boundaryEvent or self::bpmn:startEvent]"


def test_diagrams_lint_clean():
    problems = lint_documents(load_all(), build_registry(HandlerSettings()), known_groups=STAFF_GROUPS, known_templates=set(TEMPLATE_NAMES))

    assert [str(problem) for problem in problems] == []


@pytest.mark.parametrize("path", diagram_paths(), ids=lambda path: path.name)
def test_diagrams_have_shapes_and_edges(path):
    root = etree.parse(str(path)).getroot()
    shapes = {shape.get("bpmnElement"): shape for shape in root.xpath("//bpmndi:BPMNShape", namespaces=NS)}
    edges = {edge.get("bpmnElement"): edge for edge in root.xpath("//bpmndi:BPMNEdge", namespaces=NS)}

    for node in root.xpath(FLOW_NODES, namespaces=NS):
        assert node.get("id") in shapes, f"{node.get('id')} has no shape"
    for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NS):
        assert flow.get("id") in edges, f"{flow.get('id')} has no edge"
        assert len(edges[flow.get("id")].xpath("./*[local-name()='waypoint']")) >= 2
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        assert lane.get("id") in shapes, f"{lane.get('id')} has no shape"

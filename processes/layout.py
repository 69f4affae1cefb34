"""A small builder that writes a Camunda 7 BPMN file with one pool, a lane per role and a left-to-right grid layout.

``processes/build.py`` used it once to produce the first version of each
diagram; after that the .bpmn files are the source of truth and analysts
edit them in Camunda Modeler.
"""

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:modeler="http://camunda.org/schema/modeler/1.0"'
)

# Grid geometry in diagram pixels.
POOL_X = 150
LANE_LABEL = 30
FIRST_COLUMN_X = POOL_X + LANE_LABEL + 70
COLUMN_WIDTH = 160
LANE_PADDING = 65
ROW_HEIGHT = 120
SIZES = {
    "task": (100, 80),
    "event": (36, 36),
    "gateway": (50, 50),
}
TASK_TAGS = {"userTask", "serviceTask", "receiveTask", "task"}
EVENT_TAGS = {"startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent"}


@dataclass
class Field:
    """A ``camunda:formField``; ``values`` lists (id, name) pairs of an enum."""

    id: str
    label: str
    type: str = "string"
    required: bool = False
    default: str | None = None
    values: tuple[tuple[str, str], ...] = ()
    constraints: tuple[tuple[str, str], ...] = ()

    def xml(self) -> str:
        attributes = f'id="{self.id}" label={quoteattr(self.label)} type="{self.type}"'
        if self.default is not None:
            attributes += f" defaultValue={quoteattr(self.default)}"
        body = "".join(f'<camunda:value id="{value_id}" name={quoteattr(name)} />' for value_id, name in self.values)
        constraints = (("required", ""),) if self.required else ()
        constraints += self.constraints
        if constraints:
            items = "".join(
                f'<camunda:constraint name="{name}"' + (f" config={quoteattr(config)}" if config else "") + " />" for name, config in constraints
            )
            body += f"<camunda:validation>{items}</camunda:validation>"
        return f"<camunda:formField {attributes}>{body}</camunda:formField>"


@dataclass
class Node:
    id: str
    tag: str
    name: str
    lane: str
    column: float
    row: int = 0
    attributes: dict = field(default_factory=dict)
    body: str = ""
    extensions: str = ""
    host: str | None = None
    incoming: list = field(default_factory=list)
    outgoing: list = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.tag in TASK_TAGS:
            return "task"
        if self.tag in EVENT_TAGS:
            return "event"
        return "gateway"


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None
    condition: str | None


class Diagram:
    """One executable process in a pool with lanes, laid out on a grid of columns and rows per lane."""

    def __init__(self, process_id: str, name: str, lanes: list[tuple[str, str]], documentation: str = ""):
        self.process_id = process_id
        self.name = name
        self.lanes = lanes
        self.documentation = documentation
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []
        self.messages: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.defaults: dict[str, str] = {}

    # Elements

    def _add(self, node: Node) -> str:
        if node.id in self.nodes:
            raise ValueError(f"element id {node.id!r} is used twice in {self.process_id}")
        self.nodes[node.id] = node
        return node.id

    def message_ref(self, message_name: str) -> str:
        message_id = "Message_" + message_name
        self.messages[message_id] = message_name
        return message_id

    def start(self, node_id, name, lane, column, row=0, *, message=None, timer=None):
        return self._add(Node(node_id, "startEvent", name, lane, column, row, body=self._event_definition(message, timer)))

    def end(self, node_id, name, lane, column, row=0, *, terminate=False):
        body = '<bpmn:terminateEventDefinition id="{}_terminate" />'.format(node_id) if terminate else ""
        return self._add(Node(node_id, "endEvent", name, lane, column, row, body=body))

    def catch(self, node_id, name, lane, column, row=0, *, message=None, timer=None):
        return self._add(Node(node_id, "intermediateCatchEvent", name, lane, column, row, body=self._event_definition(message, timer)))

    def boundary(self, node_id, name, host, *, message=None, timer=None, error=False, error_code=None, interrupting=True, slot=0):
        host_node = self.nodes[host]
        attributes = {"attachedToRef": host}
        if not interrupting:
            attributes["cancelActivity"] = "false"
        if error:
            reference = ""
            if error_code:
                error_id = "Error_" + error_code
                self.errors[error_id] = error_code
                reference = f' errorRef="{error_id}"'
            body = f'<bpmn:errorEventDefinition id="{node_id}_error"{reference} />'
        else:
            body = self._event_definition(message, timer, node_id)
        node = Node(node_id, "boundaryEvent", name, host_node.lane, host_node.column, host_node.row, attributes, body, host=host)
        node.attributes["_slot"] = slot
        return self._add(node)

    def _event_definition(self, message, timer, node_id=None) -> str:
        if message:
            return f'<bpmn:messageEventDefinition messageRef="{self.message_ref(message)}" />'
        if timer:
            kind, expression = timer
            return f'<bpmn:timerEventDefinition><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition>'
        return ""

    def user_task(self, node_id, name, lane, column, row=0, *, groups: str, fields=(), due=None, documentation="", properties=()):
        """Add a user task; ``properties`` are (name, value) pairs written as camunda:property elements."""
        attributes = {"camunda:candidateGroups": groups}
        if due:
            attributes["camunda:dueDate"] = due
        extensions = "<camunda:formData>" + "".join(field.xml() for field in fields) + "</camunda:formData>" if fields else ""
        if properties:
            items = "".join(f'<camunda:property name="{escape(key)}" value="{escape(value)}" />' for key, value in properties)
            extensions += f"<camunda:properties>{items}</camunda:properties>"
        body = f"<bpmn:documentation>{escape(documentation)}</bpmn:documentation>" if documentation else ""
        return self._add(Node(node_id, "userTask", name, lane, column, row, attributes, body, extensions))

    def service_task(self, node_id, name, column, topic, *, inputs=(), outputs=(), lane="system", row=0, retry=None):
        """Add an external service task; ``inputs`` and ``outputs`` are (name, value) pairs, a dict value becomes a camunda:map."""
        attributes = {"camunda:type": "external", "camunda:topic": topic}
        parameters = "".join(_parameter("inputParameter", name, value) for name, value in inputs)
        parameters += "".join(_parameter("outputParameter", name, value) for name, value in outputs)
        extensions = f"<camunda:inputOutput>{parameters}</camunda:inputOutput>" if parameters else ""
        if retry:
            extensions += f"<camunda:failedJobRetryTimeCycle>{retry}</camunda:failedJobRetryTimeCycle>"
        return self._add(Node(node_id, "serviceTask", name, lane, column, row, attributes, "", extensions))

    def receive_task(self, node_id, name, lane, column, row=0, *, message):
        return self._add(Node(node_id, "receiveTask", name, lane, column, row, {"messageRef": self.message_ref(message)}))

    def gateway(self, node_id, name, lane, column, row=0, *, kind="exclusive"):
        return self._add(Node(node_id, f"{kind}Gateway", name, lane, column, row))

    def flow(self, source, target, name=None, *, condition=None, default=False, flow_id=None):
        flow_id = flow_id or f"Flow_{source}_{target}"
        self.flows.append(Flow(flow_id, source, target, name, condition))
        self.nodes[source].outgoing.append(flow_id)
        self.nodes[target].incoming.append(flow_id)
        if default:
            self.defaults[source] = flow_id
        return flow_id

    def chain(self, *node_ids):
        for source, target in zip(node_ids, node_ids[1:]):
            self.flow(source, target)

    # Geometry

    def lane_rows(self, lane: str) -> int:
        return 1 + max((node.row for node in self.nodes.values() if node.lane == lane and not node.host), default=0)

    def lane_height(self, lane: str) -> float:
        return 2 * LANE_PADDING + (self.lane_rows(lane) - 1) * ROW_HEIGHT + 20

    def lane_top(self, lane: str) -> float:
        lane_ids = [lane_id for lane_id, _label in self.lanes]
        if lane not in lane_ids:
            raise ValueError(f"lane {lane!r} is not one of {lane_ids} in {self.process_id}")
        return sum(self.lane_height(lane_id) for lane_id in lane_ids[: lane_ids.index(lane)])

    def bounds(self, node: Node) -> tuple[float, float, float, float]:
        if node.host:
            host_x, host_y, host_w, host_h = self.bounds(self.nodes[node.host])
            slot = node.attributes["_slot"]
            width, height = SIZES["event"]
            return host_x + 12 + slot * 40, host_y + host_h - height / 2, width, height
        width, height = SIZES[node.kind]
        center_x = FIRST_COLUMN_X + node.column * COLUMN_WIDTH
        center_y = self.lane_top(node.lane) + LANE_PADDING + node.row * ROW_HEIGHT
        return center_x - width / 2, center_y - height / 2, width, height

    def pool_width(self) -> float:
        last = max(node.column for node in self.nodes.values())
        return LANE_LABEL + 70 + (last + 1) * COLUMN_WIDTH

    def waypoints(self, flow: Flow) -> list[tuple[float, float]]:
        sx, sy, sw, sh = self.bounds(self.nodes[flow.source])
        tx, ty, tw, th = self.bounds(self.nodes[flow.target])
        source_mid_y, target_mid_y = sy + sh / 2, ty + th / 2
        if self.nodes[flow.source].host:
            start = (sx + sw / 2, sy + sh)
            if tx > start[0]:
                return [start, (start[0], target_mid_y), (tx, target_mid_y)]
            return [start, (start[0], ty + th + 20), (tx + tw / 2, ty + th + 20), (tx + tw / 2, ty + th)]
        if tx >= sx + sw:
            start, end = (sx + sw, source_mid_y), (tx, target_mid_y)
            if abs(source_mid_y - target_mid_y) < 1:
                return [start, end]
            if self.nodes[flow.source].kind == "gateway":
                return [(sx + sw / 2, sy + sh if target_mid_y > source_mid_y else sy), (sx + sw / 2, target_mid_y), end]
            middle = (start[0] + end[0]) / 2
            return [start, (middle, source_mid_y), (middle, target_mid_y), end]
        # A flow back to the left runs under both elements.
        below = max(sy + sh, ty + th) + 25
        return [(sx + sw / 2, sy + sh), (sx + sw / 2, below), (tx + tw / 2, below), (tx + tw / 2, ty + th)]

    # Output

    def to_xml(self) -> str:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<bpmn:definitions {NAMESPACES} id="Definitions_{self.process_id}" targetNamespace="http://bpmn.io/schema/bpmn" '
            'exporter="careplace processes/build.py" exporterVersion="1" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">',
            f'  <bpmn:collaboration id="Collaboration_{self.process_id}">',
            f'    <bpmn:participant id="Participant_{self.process_id}" name={quoteattr(self.name)} processRef="{self.process_id}" />',
            "  </bpmn:collaboration>",
            f'  <bpmn:process id="{self.process_id}" name={quoteattr(self.name)} isExecutable="true">',
        ]
        if self.documentation:
            lines.append(f"    <bpmn:documentation>{escape(self.documentation)}</bpmn:documentation>")
        lines.append(f'    <bpmn:laneSet id="LaneSet_{self.process_id}">')
        for lane_id, label in self.lanes:
            refs = "".join(f"<bpmn:flowNodeRef>{node.id}</bpmn:flowNodeRef>" for node in self.nodes.values() if node.lane == lane_id)
            lines.append(f'      <bpmn:lane id="Lane_{lane_id}" name={quoteattr(label)}>{refs}</bpmn:lane>')
        lines.append("    </bpmn:laneSet>")
        for node in self.nodes.values():
            lines.append("    " + self._node_xml(node))
        for flow in self.flows:
            lines.append("    " + self._flow_xml(flow))
        lines.append("  </bpmn:process>")
        for message_id, message_name in sorted(self.messages.items()):
            lines.append(f'  <bpmn:message id="{message_id}" name="{message_name}" />')
        for error_id, code in sorted(self.errors.items()):
            lines.append(f'  <bpmn:error id="{error_id}" name="{code}" errorCode="{code}" />')
        lines.extend(self._di_xml())
        lines.append("</bpmn:definitions>")
        return "\n".join(lines) + "\n"

    def _node_xml(self, node: Node) -> str:
        attributes = {key: value for key, value in node.attributes.items() if not key.startswith("_")}
        if node.id in self.defaults:
            attributes["default"] = self.defaults[node.id]
        text = "".join(f" {key}={quoteattr(str(value))}" for key, value in attributes.items())
        name = f" name={quoteattr(node.name)}" if node.name else ""
        inner = ""
        if node.body.startswith("<bpmn:documentation>"):
            inner += node.body
        if node.extensions:
            inner += f"<bpmn:extensionElements>{node.extensions}</bpmn:extensionElements>"
        inner += "".join(f"<bpmn:incoming>{flow}</bpmn:incoming>" for flow in node.incoming)
        inner += "".join(f"<bpmn:outgoing>{flow}</bpmn:outgoing>" for flow in node.outgoing)
        if node.body and not node.body.startswith("<bpmn:documentation>"):
            inner += node.body
        return f'<bpmn:{node.tag} id="{node.id}"{name}{text}>{inner}</bpmn:{node.tag}>'

    def _flow_xml(self, flow: Flow) -> str:
        name = f" name={quoteattr(flow.name)}" if flow.name else ""
        opening = f'<bpmn:sequenceFlow id="{flow.id}"{name} sourceRef="{flow.source}" targetRef="{flow.target}"'
        if flow.condition is None:
            return opening + " />"
        return opening + f'><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(flow.condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>'

    def _di_xml(self) -> list[str]:
        width = self.pool_width()
        height = sum(self.lane_height(lane_id) for lane_id, _label in self.lanes)
        lines = [
            f'  <bpmndi:BPMNDiagram id="Diagram_{self.process_id}">',
            f'    <bpmndi:BPMNPlane id="Plane_{self.process_id}" bpmnElement="Collaboration_{self.process_id}">',
            f'      <bpmndi:BPMNShape id="Participant_{self.process_id}_di" bpmnElement="Participant_{self.process_id}" isHorizontal="true">'
            f'<dc:Bounds x="{POOL_X}" y="0" width="{width:.0f}" height="{height}" /></bpmndi:BPMNShape>',
        ]
        for lane_id, _label in self.lanes:
            lines.append(
                f'      <bpmndi:BPMNShape id="Lane_{lane_id}_di" bpmnElement="Lane_{lane_id}" isHorizontal="true">'
                f'<dc:Bounds x="{POOL_X + LANE_LABEL}" y="{self.lane_top(lane_id):.0f}" width="{width - LANE_LABEL:.0f}" '
                f'height="{self.lane_height(lane_id):.0f}" /></bpmndi:BPMNShape>'
            )
        for node in self.nodes.values():
            x, y, w, h = self.bounds(node)
            marker = ' isMarkerVisible="true"' if node.tag == "exclusiveGateway" else ""
            label = ""
            if node.kind != "task" and node.name:
                label = f'<bpmndi:BPMNLabel><dc:Bounds x="{x - 30:.0f}" y="{y + h + 5:.0f}" width="{w + 60:.0f}" height="27" /></bpmndi:BPMNLabel>'
            lines.append(
                f'      <bpmndi:BPMNShape id="{node.id}_di" bpmnElement="{node.id}"{marker}>'
                f'<dc:Bounds x="{x:.0f}" y="{y:.0f}" width="{w}" height="{h}" />{label}</bpmndi:BPMNShape>'
            )
        for flow in self.flows:
            points = "".join(f'<di:waypoint x="{x:.0f}" y="{y:.0f}" />' for x, y in self.waypoints(flow))
            lines.append(f'      <bpmndi:BPMNEdge id="{flow.id}_di" bpmnElement="{flow.id}">{points}</bpmndi:BPMNEdge>')
        lines.extend(["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>"])
        return lines


def _parameter(tag: str, name: str, value) -> str:
    if isinstance(value, dict):
        entries = "".join(f'<camunda:entry key="{key}">{escape(str(item))}</camunda:entry>' for key, item in value.items())
        return f'<camunda:{tag} name="{name}"><camunda:map>{entries}</camunda:map></camunda:{tag}>'
    return f'<camunda:{tag} name="{name}">{escape(str(value))}</camunda:{tag}>'

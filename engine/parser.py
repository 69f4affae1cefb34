"""SpiffWorkflow's Camunda parser extended for external service tasks, form metadata, timers and messages."""

import re

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEndEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaIntermediateThrowEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser, UserTaskParser
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, EndEvent, IntermediateCatchEvent, IntermediateThrowEvent, StartEvent
from SpiffWorkflow.camunda.specs.user_task import Form, FormField, UserTask
from SpiffWorkflow.bpmn.parser.util import one
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition

from engine.specs import (
    CAMUNDA_KEY,
    ClockCycleTimerEventDefinition,
    ClockDurationTimerEventDefinition,
    ClockTimeDateEventDefinition,
    ExternalServiceTask,
    PayloadMessageEventDefinition,
)

CAMUNDA = "{" + CAMUNDA_MODEL_NS + "}"
UNSUPPORTED_DELEGATES = ("class", "delegateExpression", "expression")


def read_input_output(node, nsmap) -> tuple[list, list]:
    """Read ``camunda:inputOutput`` into (inputs, outputs), each a list of (name, kind, value).

    ``kind`` is ``expression`` for ``${...}`` text, ``constant`` for other
    text, ``list`` or ``map`` for the structured forms.
    """
    inputs, outputs = [], []
    for tag, target in (("inputParameter", inputs), ("outputParameter", outputs)):
        for parameter in node.xpath(f"./bpmn:extensionElements/camunda:inputOutput/camunda:{tag}", namespaces=nsmap):
            target.append((parameter.get("name"), *_parameter_value(parameter, nsmap)))
    return inputs, outputs


def _parameter_value(parameter, nsmap) -> tuple[str, object]:
    list_node = first(parameter.xpath("./camunda:list", namespaces=nsmap))
    if list_node is not None:
        return "list", [item.text or "" for item in list_node.xpath("./camunda:value", namespaces=nsmap)]

    map_node = first(parameter.xpath("./camunda:map", namespaces=nsmap))
    if map_node is not None:
        return "map", {entry.get("key"): entry.text or "" for entry in map_node.xpath("./camunda:entry", namespaces=nsmap)}

    script = first(parameter.xpath("./camunda:script", namespaces=nsmap))
    if script is not None:
        return "script", script.text or ""

    text = (parameter.text or "").strip()
    if text.startswith("${") or text.startswith("#{"):
        return "expression", text
    return "constant", text


def _split_groups(value: str | None) -> list[str]:
    """Split a comma-separated attribute, keeping each ``${...}`` expression whole."""
    return [group.strip() for group in re.findall(r"[$#]\{[^}]*\}|[^,]+", value or "") if group.strip()]


class _CamundaAttributesMixin:
    """Stores the Camunda attributes of a task under ``extensions['camunda']`` so they serialize with the spec."""

    def camunda_attributes(self) -> dict:
        inputs, outputs = read_input_output(self.node, self.nsmap)
        attributes = {"inputs": inputs, "outputs": outputs}
        retry = first(self.xpath("./bpmn:extensionElements/camunda:failedJobRetryTimeCycle"))
        if retry is not None and (retry.text or "").strip():
            attributes["retryTimeCycle"] = retry.text.strip()
        return attributes

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        extensions[CAMUNDA_KEY] = self.camunda_attributes()
        return extensions


class CareTaskParser(_CamundaAttributesMixin, CamundaTaskParser):
    pass


class CareUserTaskParser(_CamundaAttributesMixin, UserTaskParser):
    """Reads forms even without ``camunda:formKey`` (Camunda Modeler 5 omits it for generated forms)."""

    def get_form(self):
        form = Form()
        form.key = self.node.get(f"{CAMUNDA}formKey") or ""
        for xml_field in self.xpath(".//camunda:formData/camunda:formField"):
            field = self.get_enum_field(xml_field) if xml_field.get("type") == "enum" else FormField()
            field.id = xml_field.get("id")
            field.type = xml_field.get("type")
            field.label = xml_field.get("label")
            field.default_value = xml_field.get("defaultValue")
            for child in xml_field:
                if child.tag == f"{CAMUNDA}properties":
                    for item in child:
                        field.add_property(item.get("id"), item.get("value"))
                elif child.tag == f"{CAMUNDA}validation":
                    for constraint in child:
                        field.add_validation(constraint.get("name"), constraint.get("config"))
            form.add_field(field)
        return form

    def camunda_attributes(self) -> dict:
        attributes = super().camunda_attributes()
        attributes["assignee"] = self.node.get(f"{CAMUNDA}assignee")
        attributes["candidateGroups"] = _split_groups(self.node.get(f"{CAMUNDA}candidateGroups"))
        attributes["candidateUsers"] = _split_groups(self.node.get(f"{CAMUNDA}candidateUsers"))
        attributes["dueDate"] = self.node.get(f"{CAMUNDA}dueDate")
        attributes["priority"] = self.node.get(f"{CAMUNDA}priority")
        return attributes


class ServiceTaskParser(_CamundaAttributesMixin, CamundaTaskParser):
    """Parses ``camunda:type="external"`` service tasks; other implementations are rejected."""

    def create_task(self):
        for attribute in UNSUPPORTED_DELEGATES:
            if self.node.get(f"{CAMUNDA}{attribute}") is not None:
                self.raise_validation_exception(
                    f"camunda:{attribute} delegates are not supported; use camunda:type=\"external\" with a camunda:topic"
                )
        if self.node.get(f"{CAMUNDA}type") != "external" or not self.node.get(f"{CAMUNDA}topic"):
            self.raise_validation_exception('a service task needs camunda:type="external" and a camunda:topic')

        return self.spec_class(self.spec, self.bpmn_id, **self.bpmn_attributes)

    def camunda_attributes(self) -> dict:
        attributes = super().camunda_attributes()
        attributes["topic"] = self.node.get(f"{CAMUNDA}topic")
        attributes["resultVariable"] = self.node.get(f"{CAMUNDA}resultVariable")
        attributes["retryTimeCycle"] = attributes.get("retryTimeCycle") or self.node.get(f"{CAMUNDA}failedJobRetryTimeCycle")
        return attributes


class _EventDefinitionMixin:
    """Builds clock-aware timers and payload-merging messages."""

    def parse_extensions(self, node=None):
        """Read ``camunda:properties`` into the spec's extensions, such as ``correlationKeys`` on a message catch event."""
        properties = self._xpath(node if node is not None else self.node, "./bpmn:extensionElements/camunda:properties/camunda:property")
        return {item.get("name"): item.get("value") for item in properties}

    def parse_error_event(self, error_event):
        """Resolve ``errorRef`` in the event's own file first.

        SpiffWorkflow keeps one error table for every file a parser has read,
        so when two files deployed together reuse an error id (a diagram
        copied from another), both would get the errorCode of the file read last.
        """
        error_ref = error_event.get("errorRef")
        root = self.node.getroottree().getroot()
        local = first(root.xpath(".//bpmn:error[@id=$ref]", namespaces=self.nsmap, ref=error_ref)) if error_ref else None
        if local is None:
            return super().parse_error_event(error_event)
        return ErrorEventDefinition(local.get("name"), local.get("errorCode"), description=self.get_event_description(error_event))

    def parse_timer_event(self, event):
        name = self.node.get("name", self.node.get("id"))
        description = self.get_event_description(event)
        for tag, definition in (
            ("timeDate", ClockTimeDateEventDefinition),
            ("timeDuration", ClockDurationTimerEventDefinition),
            ("timeCycle", ClockCycleTimerEventDefinition),
        ):
            node = first(self.xpath(f".//bpmn:{tag}"))
            if node is not None:
                if not (node.text or "").strip():
                    self.raise_validation_exception(f"the timer's {tag} is empty; give an ISO 8601 value such as PT1H")
                return definition(name, node.text.strip(), description=description)
        raise ValidationException("a timer needs a timeDate, timeDuration or timeCycle", node=self.node, file_name=self.filename)

    def parse_message_event(self, message_event):
        message_ref = message_event.get("messageRef")
        if message_ref:
            message = one(self.doc_xpath('.//bpmn:message[@id="%s"]' % message_ref))
            name = message.get("name")
            correlations = self.get_message_correlations(message_ref)
        else:
            name = message_event.getparent().get("name")
            correlations = {}
        payload = self.attribute("expression", "camunda", message_event)
        result_var = self.attribute("resultVariable", "camunda", message_event)
        return PayloadMessageEventDefinition(name, correlations, payload, result_var)


class StartEventParser(_EventDefinitionMixin, CamundaStartEventParser):
    pass


class EndEventParser(_EventDefinitionMixin, CamundaEndEventParser):
    pass


class IntermediateCatchEventParser(_EventDefinitionMixin, CamundaIntermediateCatchEventParser):
    pass


class IntermediateThrowEventParser(_EventDefinitionMixin, CamundaIntermediateThrowEventParser):
    pass


class BoundaryEventParser(_EventDefinitionMixin, CamundaBoundaryEventParser):
    pass


class CareParser(CamundaParser):
    """The engine's BPMN parser: the Camunda 7 dialect as Camunda Modeler 5 writes it."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (CareUserTaskParser, UserTask),
        full_tag("serviceTask"): (ServiceTaskParser, ExternalServiceTask),
        full_tag("startEvent"): (StartEventParser, StartEvent),
        full_tag("endEvent"): (EndEventParser, EndEvent),
        full_tag("intermediateCatchEvent"): (IntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (IntermediateThrowEventParser, IntermediateThrowEvent),
        full_tag("boundaryEvent"): (BoundaryEventParser, BoundaryEvent),
    }
    for _tag in ("task", "manualTask", "subProcess", "callActivity", "transaction"):
        OVERRIDE_PARSER_CLASSES[full_tag(_tag)] = (
            type(f"Care{_tag[0].upper()}{_tag[1:]}Parser", (_CamundaAttributesMixin, CamundaParser.OVERRIDE_PARSER_CLASSES[full_tag(_tag)][0]), {}),
            CamundaParser.OVERRIDE_PARSER_CLASSES[full_tag(_tag)][1],
        )
    del _tag

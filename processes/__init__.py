"""The BPMN diagrams of the journey, which analysts edit in Camunda Modeler, and a loader that lists them."""

from processes.loader import diagram_paths, load_all

__all__ = ["diagram_paths", "load_all"]

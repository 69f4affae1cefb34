"""Parsing untrusted BPMN bytes: no DOCTYPE, no entities, no DTD loading, no network."""

from lxml import etree

from engine.errors import DiagramError
from engine.lint_types import LintProblem

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
)


# The largest diagram accepted. The journey's biggest diagram is under 100 KB, so this leaves ample room.
MAX_DIAGRAM_BYTES = 5 * 1024 * 1024


def parse_xml(data: bytes, filename: str) -> etree._Element:
    """Parse diagram bytes; a DOCTYPE (and so any entity declaration) is rejected outright."""
    if len(data) > MAX_DIAGRAM_BYTES:
        size = f"{len(data) / 1024 / 1024:.1f} MB"
        raise DiagramError([LintProblem(filename, None, f"the diagram is {size}, over the {MAX_DIAGRAM_BYTES // 1024 // 1024} MB limit; split it into smaller processes")])

    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise DiagramError([LintProblem(filename, None, "a DOCTYPE or entity declaration is not allowed in a diagram; remove it")])

    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        if "Resource limit exceeded" in error.msg:
            message = f"the diagram has a text or nesting larger than the XML parser allows ({error.msg}); shorten it"
        else:
            message = f"not well-formed XML: {error.msg}"
        raise DiagramError([LintProblem(filename, None, message, error.lineno)]) from error

    if root.getroottree().docinfo.doctype:
        raise DiagramError([LintProblem(filename, None, "a DOCTYPE is not allowed in a diagram; remove it")])
    return root

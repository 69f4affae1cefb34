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


def parse_xml(data: bytes, filename: str) -> etree._Element:
    """Parse diagram bytes; a DOCTYPE (and so any entity declaration) is rejected outright."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise DiagramError([LintProblem(filename, None, "a DOCTYPE or entity declaration is not allowed in a diagram; remove it")])

    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise DiagramError([LintProblem(filename, None, f"not well-formed XML: {error.msg}", error.lineno)]) from error

    if root.getroottree().docinfo.doctype:
        raise DiagramError([LintProblem(filename, None, "a DOCTYPE is not allowed in a diagram; remove it")])
    return root

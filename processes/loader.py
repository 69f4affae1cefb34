"""Listing and reading the .bpmn files of this package."""

from pathlib import Path

FOLDER = Path(__file__).parent


def diagram_paths() -> list[Path]:
    """Return the paths of every .bpmn file in this package, sorted by name."""
    return sorted(FOLDER.glob("*.bpmn"))


def load_all() -> dict[str, bytes]:
    """Return every diagram as {file name: contents}, ready for ``Engine.deploy`` or the linter."""
    return {path.name: path.read_bytes() for path in diagram_paths()}

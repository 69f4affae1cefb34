"""Helpers shared by the scheduler tests: reading the engine's test diagrams and waiting for marker files."""

import time
from pathlib import Path

DIAGRAMS = Path(__file__).parent.parent / "engine" / "diagrams"


def read_diagram(name: str) -> bytes:
    return (DIAGRAMS / name).read_bytes()


def wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout} seconds")
        time.sleep(0.02)

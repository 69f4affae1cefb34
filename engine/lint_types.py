"""The value type for one lint finding, shared by the parser and the linter."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LintProblem:
    """One finding about a diagram: where it is and what to change."""

    file: str
    element_id: str | None
    message: str
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        location = f"{self.file}:{self.element_id or '-'}"
        if self.line:
            location += f" (line {self.line})"
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{location}: {prefix}{self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "element_id": self.element_id, "message": self.message, "line": self.line, "severity": self.severity}

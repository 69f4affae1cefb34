"""Reading a submitted task form into the values the engine validates, and describing each field for the template."""

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.forms import FormField

INPUT_TYPES = {"string": "text", "long": "number", "decimal": "text", "date": "date"}


@dataclass(frozen=True)
class FieldView:
    """One form field as the template draws it: the engine's field, its shown value and its error."""

    field: FormField
    value: Any
    error: str | None

    @property
    def input_type(self) -> str:
        return INPUT_TYPES.get(self.field.type, "text")

    @property
    def html_id(self) -> str:
        return f"field-{self.field.id}"

    @property
    def shown_value(self) -> str:
        if self.value is None:
            return ""
        if hasattr(self.value, "isoformat"):
            return self.value.isoformat()
        return str(self.value)

    @property
    def checked(self) -> bool:
        return self.value is True or (isinstance(self.value, str) and self.value.lower() in ("true", "on", "yes", "1"))


def submitted_values(fields: list[FormField], form: MultiDict) -> dict[str, Any]:
    """Return the submitted value of each editable field; other posted names (such as the CSRF token) are left out.

    A checkbox posts a hidden ``false`` before the box itself, so the last value is the one ticked or not.
    """
    values: dict[str, Any] = {}
    for field in fields:
        if field.readonly:
            continue
        posted = form.getlist(field.id)
        if posted:
            values[field.id] = posted[-1]
    return values


def field_views(fields: list[FormField], values: dict[str, Any], errors: dict[str, str]) -> list[FieldView]:
    return [FieldView(field, values.get(field.id, field.default), errors.get(field.id)) for field in fields]

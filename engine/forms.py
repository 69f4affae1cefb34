"""User-task forms from ``camunda:formData``: field definitions, coercion and server-side validation."""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.errors import FieldError, FormValidationError

log = logging.getLogger(__name__)

FIELD_TYPES = ("string", "long", "boolean", "date", "enum", "decimal")
CONSTRAINTS = ("required", "minlength", "maxlength", "min", "max", "readonly", "pattern")
_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0", ""}


@dataclass(frozen=True)
class FormField:
    """One form field with its constraints already parsed."""

    id: str
    type: str
    label: str
    default: Any = None
    required: bool = False
    readonly: bool = False
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    properties: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "label": self.label,
            "default": self.default,
            "required": self.required,
            "readonly": self.readonly,
            "min": self.minimum,
            "max": self.maximum,
            "minlength": self.min_length,
            "maxlength": self.max_length,
            "pattern": self.pattern,
            "options": [{"id": option_id, "name": name} for option_id, name in self.options],
        }


# A user task's camunda:property named REQUIRED_WHEN + field id contains an expression. When it is true, the field is required.
REQUIRED_WHEN = "requiredWhen:"
REQUIRED_MESSAGE = "requiredMessage:"
ONLY_GROUPS = "onlyGroups:"


def required_when_rules(task_spec, evaluate) -> dict:
    """Return the task's conditional-requirement rules as {field id: (test, message)}.

    ``evaluate(expression, values)`` runs one expression against a dict of values.
    """
    extensions = getattr(task_spec, "extensions", None) or {}
    rules = {}
    for name, expression in extensions.items():
        if not name.startswith(REQUIRED_WHEN):
            continue
        field_id = name[len(REQUIRED_WHEN):]
        message = extensions.get(REQUIRED_MESSAGE + field_id) or "is required with the answers given"
        rules[field_id] = (lambda values, expression=expression: bool(evaluate(expression, values)), message)
    return rules


def form_fields(task_spec) -> list[FormField]:
    """Return the parsed fields of a user task spec (empty for tasks without a form)."""
    form = getattr(task_spec, "form", None)
    if form is None:
        return []

    return [_convert_field(raw) for raw in form.fields]


def _convert_field(raw) -> FormField:
    constraints = {item.name: item.config for item in raw.validation}
    options = tuple((option.id, option.name) for option in getattr(raw, "options", []))
    default = None
    if raw.default_value not in (None, ""):
        default, error = coerce(raw.type, raw.default_value, options)
        if error:
            raise ValueError(f"field {raw.id!r}: default value {raw.default_value!r} {error}")
    return FormField(
        id=raw.id,
        type=raw.type,
        label=raw.label or raw.id,
        default=default,
        required="required" in constraints,
        readonly="readonly" in constraints,
        minimum=_number(constraints.get("min")),
        maximum=_number(constraints.get("max")),
        min_length=_integer(constraints.get("minlength")),
        max_length=_integer(constraints.get("maxlength")),
        pattern=constraints.get("pattern"),
        options=options,
        properties={item.id: item.value for item in raw.properties},
    )


def _number(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _integer(text: str | None) -> int | None:
    return None if text in (None, "") else int(text)


def coerce(field_type: str, value: Any, options=()) -> tuple[Any, str | None]:
    """Convert a submitted value to the field's type; return (value, None) or (None, error message)."""
    if field_type == "string":
        if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
            return str(value), None
        return None, "must be text"

    if field_type == "long":
        if isinstance(value, bool):
            return None, "must be a whole number"
        if isinstance(value, int):
            return value, None
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value), None
        return None, "must be a whole number"

    if field_type == "decimal":
        if isinstance(value, bool) or isinstance(value, float):
            return None, "must be a number written as text, such as 12.50"
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None, "must be a number, such as 12.50"
        if not number.is_finite():
            return None, "must be a finite number"
        return number, None

    if field_type == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE, None
        return None, "must be true or false"

    if field_type == "date":
        return _coerce_date(value)

    if field_type == "enum":
        allowed = [option_id for option_id, _name in options]
        if isinstance(value, str) and value in allowed:
            return value, None
        return None, f"must be one of {', '.join(allowed)}"

    return None, f"has unknown type {field_type!r}"


def _coerce_date(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    if isinstance(value, str):
        text = value.strip()
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(text, pattern).date(), None
            except ValueError:
                continue
    return None, "must be a date written as YYYY-MM-DD or DD/MM/YYYY"


def _check_constraints(spec: FormField, value: Any) -> str | None:
    if spec.type in ("long", "decimal"):
        if spec.minimum is not None and value < spec.minimum:
            return f"must be at least {spec.minimum}"
        if spec.maximum is not None and value > spec.maximum:
            return f"must be at most {spec.maximum}"
    if spec.type == "date":
        return None
    if spec.type == "string":
        if spec.min_length is not None and len(value) < spec.min_length:
            return f"must be at least {spec.min_length} characters"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"must be at most {spec.max_length} characters"
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            return "is not in the expected format"
    return None


def fields_for_groups(task_spec, fields: list[FormField], groups: frozenset[str] | None) -> tuple[list[FormField], set[str]]:
    """Split the fields into those the actor may fill in and the ids of those kept for other groups.

    A user task's camunda:property named ONLY_GROUPS + field id lists the
    groups that see that field; ``groups`` None means every field (administrators).
    """
    extensions = getattr(task_spec, "extensions", None) or {}
    hidden = set()
    for name, value in extensions.items():
        if name.startswith(ONLY_GROUPS) and groups is not None:
            allowed = {group.strip() for group in value.split(",") if group.strip()}
            if not allowed & set(groups):
                hidden.add(name[len(ONLY_GROUPS):])
    return [field for field in fields if field.id not in hidden], hidden


def validate_submission(task_id: str, fields: list[FormField], submitted: dict, current: dict, required_when: dict | None = None, hidden: set[str] | None = None) -> dict:
    """Validate submitted values against the form and return them coerced.

    Every problem is collected and raised at once as FormValidationError:
    unknown fields, missing required fields, wrong types, broken constraints,
    enum values outside the list and changes to read-only fields. An optional
    field left empty is returned as None (False for a boolean), so later
    expressions can test it. ``required_when`` maps a field id to
    (test, message): ``test`` gets the submitted values merged over the
    current data and returns True when that field must be filled in.
    """
    errors: list[FieldError] = []
    by_id = {spec.id: spec for spec in fields}
    for name in submitted:
        if name in (hidden or ()):
            errors.append(FieldError(name, "is for other groups to fill in; leave it out"))
        elif name not in by_id:
            errors.append(FieldError(name, "is not a field of this form; remove it"))

    accepted: dict[str, Any] = {}
    for spec in fields:
        present = spec.id in submitted and submitted[spec.id] not in (None, "")
        if spec.readonly:
            if present:
                value, error = coerce(spec.type, submitted[spec.id], spec.options)
                if error or value != current.get(spec.id, spec.default):
                    errors.append(FieldError(spec.id, "is read-only and cannot be changed"))
            continue

        if not present:
            if spec.required and not (spec.type == "boolean" and submitted.get(spec.id) is False):
                errors.append(FieldError(spec.id, "is required"))
            else:
                accepted[spec.id] = False if spec.type == "boolean" else None
            continue

        value, error = coerce(spec.type, submitted[spec.id], spec.options)
        if error is None:
            error = _check_constraints(spec, value)
        if error:
            errors.append(FieldError(spec.id, error))
        else:
            accepted[spec.id] = value

    # The rules read the other submitted values, so they run only once every field is valid.
    merged = {**current, **accepted}
    for field_id, (test, message) in (required_when or {}).items() if not errors else ():
        if merged.get(field_id) not in (None, ""):
            continue
        try:
            required = test(merged)
        except Exception as error:  # noqa: BLE001 - a broken rule in the diagram must not lose the person's answers
            log.warning("task %s: requiredWhen rule for %s failed with %s", task_id, field_id, type(error).__name__)
            errors.append(FieldError(field_id, "could not be checked, because the form's rule for it failed; tell the process owner"))
            continue
        if required:
            errors.append(FieldError(field_id, message))

    if errors:
        raise FormValidationError(task_id, errors)
    return accepted

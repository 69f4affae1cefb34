"""Masking personal values in process variables before an administrator's page shows them."""

import re
from typing import Any

from care.models.base import personal_fields
from care.models.people import ServiceUser

MASK = "•••• (personal data hidden)"

# Variable names that hold a person's name, address, full postcode, date of birth or contact details.
# The postcode district (such as LS6) is not personal on its own and stays visible.
_PERSONAL_NAME = re.compile(r"(^|_)(name|names|address|addresses|postcode|dob|birth|date_of_birth|email|phone|telephone|mobile|nhs_number)($|_)")
_ALLOWED = frozenset({"postcode_district", "provider_name", "process_name", "template_name", "file_name"})
_MODEL_FIELDS = frozenset(personal_fields(ServiceUser))


def is_personal(key: str) -> bool:
    name = key.lower()
    if name in _ALLOWED:
        return False
    return name in _MODEL_FIELDS or bool(_PERSONAL_NAME.search(name))


def mask_variables(value: Any) -> Any:
    """Return a copy of ``value`` with the value of every personal-looking key replaced by MASK, at any depth."""
    if isinstance(value, dict):
        return {key: MASK if isinstance(key, str) and is_personal(key) else mask_variables(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_variables(item) for item in value]
    return value

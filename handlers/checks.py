"""Helpers shared by the register checks: reading handler inputs and comparing organisation names."""

import re
import unicodedata
from typing import Any

from engine.errors import BusinessError

_LEGAL_SUFFIXES = frozenset({"ltd", "limited"})
_APOSTROPHES = re.compile(r"['\u2018\u2019`]")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalise_organisation_name(name: str) -> str:
    """Reduce a name to lower-case words without accents, punctuation or a trailing "Ltd" or "Limited".

    "&" becomes "and" and apostrophes are dropped, so "St. John's Care & Support
    Ltd" and "ST JOHNS CARE AND SUPPORT LIMITED" both become
    "st johns care and support".
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.casefold().replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    text = _PUNCTUATION.sub(" ", text)

    words = text.split()
    while words and words[-1] in _LEGAL_SUFFIXES:
        words.pop()

    return " ".join(words)


def names_match(given: str, registered: str) -> bool:
    """Tell whether two organisation names are the same after normalisation. Empty names never match."""
    normalised = normalise_organisation_name(given)
    return bool(normalised) and normalised == normalise_organisation_name(registered)


def require_text(inputs: dict[str, Any], name: str, error_code: str) -> str:
    """Return input ``name`` stripped of surrounding spaces, raising BusinessError ``error_code`` when it is missing or blank."""
    value = inputs.get(name)
    if value is None or not str(value).strip():
        raise BusinessError(error_code, f"input {name!r} is missing or blank; map it in the service task's input parameters")

    return str(value).strip()

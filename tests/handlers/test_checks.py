"""Organisation-name comparison and input checks shared by the register handlers."""

import pytest

from engine.errors import BusinessError
from handlers.checks import names_match, normalise_organisation_name, require_text


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("St. John's Care & Support Ltd", "st johns care and support"),
        ("ST JOHNS CARE AND SUPPORT LIMITED", "st johns care and support"),
        ("Café Carers Ltd.", "cafe carers"),
        ("Limited Horizons Care", "limited horizons care"),
        ("Brightwater  Home-Care\tLtd Limited", "brightwater home care"),
    ],
)
def test_normalise_organisation_name_cases(name, normalised):
    assert normalise_organisation_name(name) == normalised


def test_names_match_ignores_legal_suffix():
    assert names_match("Brightwater Home Care", "BRIGHTWATER HOME CARE LTD")


def test_names_match_rejects_different_words():
    assert not names_match("Brightwater Home Care", "Brightwater Nursing Care Ltd")


def test_names_match_rejects_empty_names():
    assert not names_match("Ltd", "Limited")


def test_require_text_strips_value():
    assert require_text({"number": " 1200001 "}, "number", "X_INVALID_INPUT") == "1200001"


@pytest.mark.parametrize("inputs", [{}, {"number": None}, {"number": "   "}])
def test_require_text_missing(inputs):
    with pytest.raises(BusinessError, match="'number' is missing or blank") as caught:
        require_text(inputs, "number", "X_INVALID_INPUT")

    assert caught.value.code == "X_INVALID_INPUT"

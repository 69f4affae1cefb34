"""build_registry and the generated topic reference in docs/topics.md."""

import re
from pathlib import Path

import pytest

from handlers import cqc
from handlers.config import HandlerSettings
from handlers.http import ConfigurationError
from handlers.registry import build_registry, render_topics_markdown

TOPICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "topics.md"
OUTSIDE_SYSTEM_TOPICS = {
    "cqc.check_registration",
    "companies_house.check_company",
    "charity_commission.check_charity",
    "paypal.create_payout",
    "paypal.poll_payout",
}


def _close_clients(registry) -> None:
    for spec in registry.topics():
        client = getattr(spec.handler, "args", [None])[0]
        if hasattr(client, "close"):
            client.close()


def test_build_registry_has_outside_system_topics():
    registry = build_registry(HandlerSettings())

    assert OUTSIDE_SYSTEM_TOPICS <= {spec.topic for spec in registry.topics()}
    _close_clients(registry)


@pytest.mark.parametrize("topic", sorted(OUTSIDE_SYSTEM_TOPICS))
def test_build_registry_documents_topic(topic):
    registry = build_registry(HandlerSettings())
    spec = registry.get(topic)
    _close_clients(registry)

    assert spec.description
    assert spec.inputs
    assert spec.outputs
    assert spec.errors
    assert all(re.fullmatch(r"[A-Z][A-Z_]+", code) for code in spec.errors)
    assert 0 < spec.timeout < 600


def test_build_registry_handler_runs_against_simulator(sim, make_context):
    registry = build_registry(sim.handler_settings())
    handler = registry.get(cqc.TOPIC).handler

    try:
        outputs = handler({"cqc_provider_id": "1-000000002", "provider_name": "Meadowlark Care Services Ltd"}, make_context(cqc.TOPIC))
    finally:
        _close_clients(registry)

    assert outputs["cqc_overall_rating"] == "Outstanding"


def test_build_registry_unconfigured_handler_names_variables(make_context):
    registry = build_registry(HandlerSettings())
    handler = registry.get(cqc.TOPIC).handler

    with pytest.raises(ConfigurationError, match="CAREPLACE_CQC_BASE_URL, CAREPLACE_CQC_API_KEY must be set"):
        handler({"cqc_provider_id": "1-000000002", "provider_name": "Meadowlark"}, make_context(cqc.TOPIC))
    _close_clients(registry)


def test_topics_doc_is_current():
    registry = build_registry(HandlerSettings())
    expected = render_topics_markdown(registry)
    _close_clients(registry)

    assert TOPICS_DOC.read_text(encoding="utf-8") == expected, "regenerate it: python -m handlers.registry > docs/topics.md"

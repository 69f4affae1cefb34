"""Message events: an intermediate catch event found by business key, and a message start event."""

import pytest

from engine.errors import MessageNotDeliveredError
from helpers import audit_kinds, deploy_file, open_elements, only_task


@pytest.fixture
def deployed_messages(engine, movable_clock):
    deploy_file(engine, "message_events.bpmn")


def test_message_catch_waits(engine, deployed_messages):
    instance_id = engine.start("await_documents", business_key="P-200")

    assert open_elements(engine, instance_id) == []
    assert engine.instance_elements(instance_id)["waiting"] == ["documents_received"]


def test_message_catch_delivers_payload(engine, deployed_messages, session_factory):
    instance_id = engine.start("await_documents", business_key="P-201")

    delivered = engine.send_message("documents_received", {"document_count": 3}, business_key="P-201")

    assert delivered == [instance_id]
    assert open_elements(engine, instance_id) == ["check_documents"]
    assert engine.instance_data(instance_id)["document_count"] == 3
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "message.received"]


def test_message_catch_other_business_key(engine, deployed_messages):
    waiting = engine.start("await_documents", business_key="P-202")
    other = engine.start("await_documents", business_key="P-203")

    engine.send_message("documents_received", {"document_count": 1}, business_key="P-203")

    assert open_elements(engine, waiting) == []
    assert open_elements(engine, other) == ["check_documents"]


def test_message_catch_nobody_waiting(engine, deployed_messages):
    engine.start("await_documents", business_key="P-204")

    with pytest.raises(MessageNotDeliveredError) as caught:
        engine.send_message("documents_received", {}, business_key="P-999")

    assert caught.value.name == "documents_received"
    assert caught.value.business_key == "P-999"


def test_message_catch_delivered_once(engine, deployed_messages):
    engine.start("await_documents", business_key="P-205")
    engine.send_message("documents_received", {}, business_key="P-205")

    with pytest.raises(MessageNotDeliveredError):
        engine.send_message("documents_received", {}, business_key="P-205")


def test_message_start_event_starts_instance(engine, deployed_messages, session_factory):
    [instance_id] = engine.send_message("referral_received", {"referral_id": "R-300"}, business_key="R-300", actor="referral.portal")

    instance = engine.get_instance(instance_id)
    assert instance.process_id == "referral_intake"
    assert instance.business_key == "R-300"
    assert instance.started_by == "referral.portal"
    assert open_elements(engine, instance_id) == ["triage"]
    assert engine.instance_data(instance_id)["referral_id"] == "R-300"
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "message.started", "message.received"]


def test_message_start_event_each_message(engine, deployed_messages):
    first = engine.send_message("referral_received", {"referral_id": "R-301"}, business_key="R-301")
    second = engine.send_message("referral_received", {"referral_id": "R-302"}, business_key="R-302")

    assert first != second
    assert only_task(engine, first[0]).business_key == "R-301"
    assert only_task(engine, second[0]).business_key == "R-302"


def test_message_unknown_name(engine, deployed_messages):
    with pytest.raises(MessageNotDeliveredError):
        engine.send_message("no_such_message", {})

"""Messages: delivery to one of many instances by business key or correlation value, and message start events."""

import pytest
import sqlalchemy as sa

from engine.errors import MessageNotDeliveredError
from engine.models import Instance, MessageWait
from helpers import audit_kinds, deploy_file, open_elements

ENQUIRIES = {"ENQ-401": 9101, "ENQ-402": 9102, "ENQ-403": 9103}


@pytest.fixture(autouse=True)
def diagrams(engine):
    deploy_file(engine, "exec_messages.bpmn")


@pytest.fixture
def enquiries(engine) -> dict[str, str]:
    """Start three instances that wait for a provider reply, and return their ids by business key."""
    return {key: engine.start("exec_enquiry", business_key=key, data={"enquiry_id": enquiry_id}) for key, enquiry_id in ENQUIRIES.items()}


def waits_of(session_factory, instance_id: str) -> list[tuple[str, dict]]:
    with session_factory() as session:
        rows = session.scalars(sa.select(MessageWait).where(MessageWait.instance_id == instance_id))
        return [(row.message_name, row.correlation) for row in rows]


def received_events(session_factory, instance_id: str) -> int:
    return audit_kinds(session_factory, instance_id).count("message.received")


def test_message_wait_records_correlation_value(enquiries, session_factory):
    assert waits_of(session_factory, enquiries["ENQ-402"]) == [("provider_reply", {"enquiry_id": 9102})]


def test_message_by_business_key_reaches_one_instance(engine, enquiries, session_factory):
    delivered = engine.send_message("provider_reply", {"offer": "accepted", "weekly_rate": 410}, business_key="ENQ-402", actor="provider_portal")

    assert delivered == [enquiries["ENQ-402"]]
    assert open_elements(engine, enquiries["ENQ-402"]) == ["review_reply"]
    data = engine.instance_data(enquiries["ENQ-402"])
    assert data["offer"] == "accepted"
    assert data["weekly_rate"] == 410
    assert waits_of(session_factory, enquiries["ENQ-402"]) == []
    assert received_events(session_factory, enquiries["ENQ-402"]) == 1
    for key in ("ENQ-401", "ENQ-403"):
        assert open_elements(engine, enquiries[key]) == []
        assert waits_of(session_factory, enquiries[key]) == [("provider_reply", {"enquiry_id": ENQUIRIES[key]})]
        assert received_events(session_factory, enquiries[key]) == 0


def test_message_by_correlation_value_reaches_one_instance(engine, enquiries, session_factory):
    delivered = engine.send_message("provider_reply", {"offer": "declined"}, correlation={"enquiry_id": 9103})

    assert delivered == [enquiries["ENQ-403"]]
    assert open_elements(engine, enquiries["ENQ-403"]) == ["review_reply"]
    assert engine.instance_data(enquiries["ENQ-403"])["offer"] == "declined"
    for key in ("ENQ-401", "ENQ-402"):
        assert open_elements(engine, enquiries[key]) == []
        assert received_events(session_factory, enquiries[key]) == 0


def test_message_delivered_only_once(engine, enquiries, session_factory):
    engine.send_message("provider_reply", {"offer": "accepted"}, correlation={"enquiry_id": 9101})

    with pytest.raises(MessageNotDeliveredError, match="'provider_reply'"):
        engine.send_message("provider_reply", {"offer": "accepted"}, correlation={"enquiry_id": 9101})
    assert received_events(session_factory, enquiries["ENQ-401"]) == 1


@pytest.mark.parametrize(
    ("name", "scope"),
    [
        pytest.param("provider_reply", {"correlation": {"enquiry_id": 9999}}, id="no-matching-correlation"),
        pytest.param("provider_reply", {"business_key": "ENQ-499"}, id="no-matching-business-key"),
        pytest.param("invoice_disputed", {}, id="unknown-name"),
    ],
)
def test_message_nothing_waits_raises(engine, enquiries, session_factory, name, scope):
    with pytest.raises(MessageNotDeliveredError) as raised:
        engine.send_message(name, {"offer": "accepted"}, **scope)

    assert raised.value.name == name
    assert repr(name) in str(raised.value)
    for instance_id in enquiries.values():
        assert open_elements(engine, instance_id) == []
        assert received_events(session_factory, instance_id) == 0


def test_message_start_event_starts_instance(engine, session_factory):
    [instance_id] = engine.send_message("referral_received", {"referral_ref": "REF-77"}, business_key="REF-77", actor="gp_gateway")

    instance = engine.get_instance(instance_id)
    assert instance.process_id == "exec_referral"
    assert instance.business_key == "REF-77"
    assert instance.status == "running"
    assert open_elements(engine, instance_id) == ["triage_referral"]
    assert engine.instance_data(instance_id)["referral_ref"] == "REF-77"
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "message.started", "message.received"]

    [second_id] = engine.send_message("referral_received", {"referral_ref": "REF-78"}, business_key="REF-78")
    assert second_id != instance_id
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Instance).where(Instance.process_id == "exec_referral")) == 2

"""Tests of in-app notifications and the notify.user and notify.provider topics."""

import logging

import pytest
import sqlalchemy as sa

from care.models.messaging import Notification
from engine import clock
from engine.errors import AccessDeniedError, NotFoundError
from engine.handler_api import HandlerContext, HandlerRegistry
from handlers import notifications
from handlers.config import HandlerSettings
from handlers.notifications import Reader

CARE_MANAGER = 7
PROVIDER_USER = 21
OTHER_PROVIDER_USER = 22
PROVIDER = 3
OTHER_PROVIDER = 4


def make_context(session, topic: str) -> HandlerContext:
    return HandlerContext(
        instance_id="instance-5",
        task_id="task-2",
        element_id="NotifyProvider",
        topic=topic,
        business_key="ENQ-000123",
        idempotency_key="instance-5:task-2",
        attempt=1,
        session=session,
        now=clock.now(),
    )


def registry_with_topics() -> HandlerRegistry:
    registry = HandlerRegistry()
    notifications.register(registry, HandlerSettings())
    return registry


def test_unread_count_per_recipient(session_factory):
    with session_factory.begin() as session:
        notifications.notify_user(session, CARE_MANAGER, "Follow-up call due", "Phone Larkspur Home Care about ENQ-000123.", "/tasks/4")
        notifications.notify_provider(session, PROVIDER, "New enquiry ENQ-000123", "Care needed in ZZ1.", "/provider/enquiries/12")
        notifications.notify_provider(session, PROVIDER, "Reminder ENQ-000123", "Please respond by Friday.")
        notifications.notify_provider(session, OTHER_PROVIDER, "New enquiry ENQ-000124", "Care needed in ZZ2.")

    with session_factory() as session:
        assert notifications.unread_count(session, user_id=CARE_MANAGER) == 1
        assert notifications.unread_count(session, provider_id=PROVIDER) == 2
        assert notifications.unread_count(session, user_id=PROVIDER_USER, provider_id=PROVIDER) == 2
        assert notifications.unread_count(session, provider_id=OTHER_PROVIDER) == 1
        assert notifications.unread_count(session, user_id=999) == 0


def test_mark_read_lowers_unread_count(session_factory):
    with session_factory.begin() as session:
        first = notifications.notify_provider(session, PROVIDER, "New enquiry ENQ-000123", "Care needed in ZZ1.")
        notifications.notify_provider(session, PROVIDER, "New enquiry ENQ-000125", "Care needed in ZZ3.")

    with session_factory.begin() as session:
        read = notifications.mark_read(session, first, Reader(PROVIDER_USER, PROVIDER))
        first_read_at = read.read_at
    with session_factory.begin() as session:
        again = notifications.mark_read(session, first, Reader(OTHER_PROVIDER_USER, PROVIDER))

    assert again.read_at == first_read_at
    assert again.read_by_user_id == PROVIDER_USER
    with session_factory() as session:
        assert notifications.unread_count(session, provider_id=PROVIDER) == 1
        unread = notifications.list_notifications(session, provider_id=PROVIDER, unread_only=True)
        assert [n.title for n in unread] == ["New enquiry ENQ-000125"]


def test_mark_read_other_recipient_denied(session_factory):
    with session_factory.begin() as session:
        for_provider = notifications.notify_provider(session, PROVIDER, "New enquiry ENQ-000123", "Care needed in ZZ1.")
        for_user = notifications.notify_user(session, CARE_MANAGER, "Follow-up call due", "Phone the provider.")

    with session_factory() as session:
        with pytest.raises(AccessDeniedError, match=f"notification {for_provider}"):
            notifications.mark_read(session, for_provider, Reader(OTHER_PROVIDER_USER, OTHER_PROVIDER))
        with pytest.raises(AccessDeniedError):
            notifications.mark_read(session, for_provider, Reader(CARE_MANAGER))
        with pytest.raises(AccessDeniedError):
            notifications.mark_read(session, for_user, Reader(PROVIDER_USER, PROVIDER))
        with pytest.raises(NotFoundError):
            notifications.mark_read(session, 9999, Reader(CARE_MANAGER))

    with session_factory() as session:
        assert notifications.unread_count(session, provider_id=PROVIDER) == 1
        assert notifications.unread_count(session, user_id=CARE_MANAGER) == 1


def test_list_notifications_newest_first_paged(session_factory):
    with session_factory.begin() as session:
        ids = [notifications.notify_user(session, CARE_MANAGER, f"Task {number}", "Open the task.", f"/tasks/{number}") for number in range(3)]

    with session_factory() as session:
        listed = notifications.list_notifications(session, user_id=CARE_MANAGER)
        page = notifications.list_notifications(session, user_id=CARE_MANAGER, limit=1, offset=1)

    assert [n.id for n in listed] == ids[::-1]
    assert [n.id for n in page] == [ids[1]]
    assert listed[0].link == "/tasks/2"


def test_list_notifications_needs_recipient(session_factory):
    with session_factory() as session:
        with pytest.raises(ValueError, match="no recipient"):
            notifications.list_notifications(session)
        with pytest.raises(ValueError, match="no recipient"):
            notifications.unread_count(session)


def test_notify_rolled_back_leaves_nothing(session_factory):
    with session_factory() as session:
        session.begin()
        notifications.notify_provider(session, PROVIDER, "New enquiry ENQ-000123", "Care needed in ZZ1.")
        session.rollback()

    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: notifications.notify_user(s, "7", "Title", "Body"), "user id '7'"),
        (lambda s: notifications.notify_provider(s, None, "Title", "Body"), "provider id None"),
        (lambda s: notifications.notify_user(s, CARE_MANAGER, "   ", "Body"), "title"),
        (lambda s: notifications.notify_user(s, CARE_MANAGER, "x" * 201, "Body"), "title of 201"),
        (lambda s: notifications.notify_user(s, CARE_MANAGER, "Title", "x" * 2001), "body of 2001"),
        (lambda s: notifications.notify_user(s, CARE_MANAGER, "Title", "Body", "https://elsewhere.example/"), "link path"),
    ],
)
def test_notify_rejects_invalid(session_factory, call, message):
    with session_factory() as session:
        with pytest.raises(ValueError, match=message):
            call(session)


def test_notify_provider_topic_once_per_task(session_factory):
    spec = registry_with_topics().get("notify.provider")
    inputs = {"provider_id": PROVIDER, "title": "New enquiry ENQ-000123", "body": "Care needed in ZZ1.", "link_path": "/provider/enquiries/12"}

    with session_factory.begin() as session:
        first = spec.handler(inputs, make_context(session, "notify.provider"))
    with session_factory.begin() as session:
        retried = spec.handler(inputs, make_context(session, "notify.provider"))

    assert first == retried
    assert set(first) == set(spec.outputs) == {"notification_id"}
    assert set(spec.inputs) == {"provider_id", "title", "body", "link_path"}
    with session_factory() as session:
        assert notifications.unread_count(session, provider_id=PROVIDER) == 1
        row = session.get(Notification, first["notification_id"])
    assert row.link == "/provider/enquiries/12"
    assert row.idempotency_key == "instance-5:task-2"


def test_notify_user_topic_writes_notification(session_factory):
    spec = registry_with_topics().get("notify.user")

    with session_factory.begin() as session:
        result = spec.handler({"user_id": CARE_MANAGER, "title": "Follow-up call due", "body": "Phone the provider."}, make_context(session, "notify.user"))

    with session_factory() as session:
        row = session.get(Notification, result["notification_id"])
    assert row.recipient_user_id == CARE_MANAGER
    assert row.recipient_provider_id is None
    assert row.link is None


def test_notify_topic_missing_inputs(session_factory):
    spec = registry_with_topics().get("notify.provider")

    with session_factory() as session:
        with pytest.raises(ValueError, match="missing the inputs provider_id, body"):
            spec.handler({"title": "New enquiry"}, make_context(session, "notify.provider"))


def test_notifications_log_no_content(session_factory, caplog):
    caplog.set_level(logging.DEBUG)

    with session_factory.begin() as session:
        notification_id = notifications.notify_provider(session, PROVIDER, "New enquiry ENQ-000123", "Care needed in ZZ1.")
    with session_factory() as session:
        with pytest.raises(AccessDeniedError):
            notifications.mark_read(session, notification_id, Reader(OTHER_PROVIDER_USER, OTHER_PROVIDER))

    logged = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("handlers"))
    assert str(notification_id) in logged
    assert "ENQ-000123" not in logged
    assert "ZZ1" not in logged

"""Tests of the status transition tables and of the enquiry status changes they refuse."""

import pytest

from care import transitions
from care.enquiries import change_enquiry_status
from care.errors import InvalidTransitionError, InvalidValueError
from care.models.enquiries import EnquiryStatus
from care.models.packages import ChangeRequestStatus, PackageStatus
from care.models.payments import PaymentRunStatus
from care.models.providers import ProviderStatus


@pytest.mark.parametrize(
    ("table", "states"),
    [
        (transitions.PROVIDER, ProviderStatus),
        (transitions.ENQUIRY, EnquiryStatus),
        (transitions.PACKAGE, PackageStatus),
        (transitions.CHANGE_REQUEST, ChangeRequestStatus),
        (transitions.PAYMENT_RUN, PaymentRunStatus),
    ],
)
def test_transition_table_covers_every_state(table, states):
    assert set(table) == set(states)
    for targets in table.values():
        assert targets <= set(states)


def test_check_transition_message_names_states():
    with pytest.raises(InvalidTransitionError) as raised:
        transitions.check_transition(transitions.ENQUIRY, "enquiry", 12, EnquiryStatus.CLOSED, EnquiryStatus.OPEN)

    assert str(raised.value) == "enquiry 12 cannot move from 'closed' to 'open'. Allowed from 'closed': none, because it is final"
    assert (raised.value.kind, raised.value.record_id) == ("enquiry", 12)


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([EnquiryStatus.CLOSED], EnquiryStatus.OPEN),
        ([EnquiryStatus.CANCELLED], EnquiryStatus.SELECTING),
        ([EnquiryStatus.SELECTING, EnquiryStatus.CLOSED], EnquiryStatus.CANCELLED),
    ],
)
def test_enquiry_status_change_raises(session, build, path, refused):
    enquiry = build.enquiry([build.provider()])
    for status in path:
        change_enquiry_status(session, enquiry.id, status)

    with pytest.raises(InvalidTransitionError) as raised:
        change_enquiry_status(session, enquiry.id, refused)

    assert raised.value.current == path[-1]
    assert raised.value.requested == refused
    assert enquiry.status == path[-1]


def test_enquiry_draft_cannot_start_selecting(session, build):
    enquiry = build.enquiry()

    with pytest.raises(InvalidTransitionError, match="'draft' to 'selecting'. Allowed from 'draft': 'cancelled', 'open'"):
        change_enquiry_status(session, enquiry.id, EnquiryStatus.SELECTING)


def test_enquiry_provisional_only_through_selection(session, build):
    enquiry = build.enquiry([build.provider()])

    with pytest.raises(InvalidValueError, match="select_provider"):
        change_enquiry_status(session, enquiry.id, EnquiryStatus.PROVISIONAL)

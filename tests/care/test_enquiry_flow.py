"""Tests of the enquiry journey: sending, views, responses, notes, selection, confirmation and the provider's lists."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from care.enquiries import (
    add_note,
    change_enquiry_status,
    create_enquiry,
    full_address_visible,
    get_recipient,
    record_view,
    send_enquiry,
    thread_notes,
)
from care.errors import (
    AlreadyRespondedError,
    EnquiryClosedError,
    InvalidTransitionError,
    InvalidValueError,
    NotAllowedError,
    NotFoundError,
)
from care.models.enquiries import AuthorSide, EnquiryStatus, Outcome, Response, Urgency
from care.models.packages import PackageStatus
from care.models.people import Role
from care.models.providers import ProviderStatus
from care.queries import RecipientState, enquiries_for_provider, recipient_state
from care.responses import accept_enquiry, confirm_selection, decline_enquiry, responses_side_by_side, select_provider


@pytest.fixture
def three_providers(build):
    return [build.provider(rate=Decimal(rate)) for rate in ("21.50", "19.80", "23.00")]


def provider_user(build, provider):
    return build.user(Role.PROVIDER_USER, provider)


def test_create_enquiry_standard_deadline_and_district(session, build, clock):
    care_manager = build.user()
    person = build.service_user("LS6")

    enquiry = create_enquiry(
        session,
        service_user_id=person.id,
        raised_by_id=care_manager.id,
        hours_per_week=Decimal("7.50"),
        expected_start_on=date(2027, 7, 5),
    )

    assert enquiry.status == EnquiryStatus.DRAFT
    assert enquiry.postcode_district == "LS6"
    assert enquiry.respond_by == datetime(2027, 6, 14, 16, 0, tzinfo=timezone.utc)
    assert enquiry.reference.startswith("ENQ-20270607-")


def test_create_enquiry_emergency_deadline(session, build, clock):
    enquiry = build.enquiry(urgency=Urgency.EMERGENCY_48H)

    assert enquiry.respond_by == clock() + timedelta(hours=48)


def test_create_enquiry_by_provider_user_not_allowed(session, build):
    provider = build.provider()

    with pytest.raises(NotAllowedError, match="raise an enquiry"):
        build.enquiry(care_manager=provider_user(build, provider))


def test_create_enquiry_zero_hours_raises(session, build):
    with pytest.raises(InvalidValueError, match="hours_per_week"):
        build.enquiry(hours=Decimal("0"))


def test_send_enquiry_opens_it_and_skips_repeats(session, build, three_providers):
    enquiry = build.enquiry()

    first = send_enquiry(session, enquiry.id, [three_providers[0].id, three_providers[1].id])
    again = send_enquiry(session, enquiry.id, [three_providers[1].id], interim_provider_id=three_providers[2].id)

    assert enquiry.status == EnquiryStatus.OPEN
    assert len(first) == 2
    assert [recipient.provider_id for recipient in again] == [three_providers[2].id]
    assert again[0].is_interim_provider is True


def test_send_enquiry_to_provider_not_live_raises(session, build):
    enquiry = build.enquiry()
    applicant = build.provider(status=ProviderStatus.APPLIED)

    with pytest.raises(InvalidValueError, match="only live providers"):
        send_enquiry(session, enquiry.id, [applicant.id])


def test_record_view_keeps_first_time(session, build, clock, three_providers):
    enquiry = build.enquiry(three_providers)
    first_view = clock()

    record_view(session, enquiry.id, three_providers[0].id)
    clock.advance(timedelta(hours=3))
    recipient = record_view(session, enquiry.id, three_providers[0].id)

    assert recipient.viewed_at == first_view


def test_record_view_by_provider_not_sent_raises(session, build, three_providers):
    enquiry = build.enquiry(three_providers[:1])

    with pytest.raises(NotFoundError, match="enquiry"):
        record_view(session, enquiry.id, three_providers[1].id)


def test_accept_enquiry_prefills_standard_rate(session, build, three_providers):
    provider = three_providers[1]
    enquiry = build.enquiry([provider])

    recipient = accept_enquiry(
        session, enquiry.id, provider.id, recorded_by_id=provider_user(build, provider).id, note="Carers free from July"
    )
    session.commit()

    assert recipient.response == Response.ACCEPTED
    assert recipient.unit_price == Decimal("19.80")
    assert recipient.response_note == "Carers free from July"
    assert recipient.recorded_by_staff is False


def test_accept_enquiry_without_any_rate_raises(session, build):
    provider = build.provider(rate=None)
    enquiry = build.enquiry([provider])

    with pytest.raises(InvalidValueError, match="no standard hourly rate"):
        accept_enquiry(session, enquiry.id, provider.id, recorded_by_id=provider_user(build, provider).id)


def test_decline_enquiry_needs_reason(session, build, three_providers):
    provider = three_providers[0]
    enquiry = build.enquiry([provider])

    with pytest.raises(InvalidValueError, match="reason"):
        decline_enquiry(session, enquiry.id, provider.id, recorded_by_id=provider_user(build, provider).id, reason="  ")


def test_second_response_raises(session, build, three_providers):
    provider = three_providers[0]
    user = provider_user(build, provider)
    enquiry = build.enquiry([provider])
    decline_enquiry(session, enquiry.id, provider.id, recorded_by_id=user.id, reason="No carers in LS6")

    with pytest.raises(AlreadyRespondedError, match="already declined") as raised:
        accept_enquiry(session, enquiry.id, provider.id, recorded_by_id=user.id)

    assert raised.value.enquiry_id == enquiry.id
    assert raised.value.provider_id == provider.id


def test_phone_response_recorded_by_staff(session, build, three_providers):
    provider = three_providers[0]
    enquiry = build.enquiry([provider])
    staff = build.user(Role.PROVIDER_SERVICES)

    recipient = accept_enquiry(
        session, enquiry.id, provider.id, recorded_by_id=staff.id, unit_price=Decimal("20.10"), by_phone=True
    )

    assert recipient.recorded_by_staff is True
    assert recipient.recorded_by_id == staff.id
    assert recipient.unit_price == Decimal("20.10")


def test_response_for_another_provider_not_allowed(session, build, three_providers):
    enquiry = build.enquiry(three_providers[:2])
    outsider = provider_user(build, three_providers[1])

    with pytest.raises(NotAllowedError, match="respond for this provider"):
        accept_enquiry(session, enquiry.id, three_providers[0].id, recorded_by_id=outsider.id)


def test_phone_response_by_provider_user_not_allowed(session, build, three_providers):
    provider = three_providers[0]
    enquiry = build.enquiry([provider])

    with pytest.raises(NotAllowedError, match="phone"):
        accept_enquiry(session, enquiry.id, provider.id, recorded_by_id=provider_user(build, provider).id, by_phone=True)


def test_response_to_cancelled_enquiry_raises(session, build, three_providers):
    provider = three_providers[0]
    enquiry = build.enquiry([provider])
    change_enquiry_status(session, enquiry.id, EnquiryStatus.CANCELLED)

    with pytest.raises(EnquiryClosedError, match="'cancelled'"):
        accept_enquiry(session, enquiry.id, provider.id, recorded_by_id=provider_user(build, provider).id)


def respond_all(session, build, enquiry, providers):
    accept_enquiry(session, enquiry.id, providers[0].id, recorded_by_id=provider_user(build, providers[0]).id)
    accept_enquiry(session, enquiry.id, providers[1].id, recorded_by_id=provider_user(build, providers[1]).id)
    decline_enquiry(
        session, enquiry.id, providers[2].id, recorded_by_id=provider_user(build, providers[2]).id, reason="No capacity"
    )


def test_responses_side_by_side_orders_by_price(session, build, three_providers):
    late = build.provider()
    enquiry = build.enquiry([*three_providers, late])
    respond_all(session, build, enquiry, three_providers)

    rows = responses_side_by_side(session, enquiry.id)

    assert [(row.provider_id, row.response, row.unit_price) for row in rows] == [
        (three_providers[1].id, Response.ACCEPTED, Decimal("19.80")),
        (three_providers[0].id, Response.ACCEPTED, Decimal("21.50")),
        (three_providers[2].id, Response.DECLINED, None),
        (late.id, None, None),
    ]
    assert rows[2].decline_reason == "No capacity"


def test_select_provider_marks_others_not_selected(session, build, three_providers):
    enquiry = build.enquiry(three_providers)
    respond_all(session, build, enquiry, three_providers)
    care_manager = build.user()

    selection = select_provider(session, enquiry.id, three_providers[1].id, selected_by_id=care_manager.id)
    session.commit()

    assert enquiry.status == EnquiryStatus.PROVISIONAL
    assert enquiry.selected_provider_id == three_providers[1].id
    assert selection.selected.outcome == Outcome.SELECTED_PROVISIONAL
    assert {recipient.provider_id: recipient.outcome for recipient in selection.not_selected} == {
        three_providers[0].id: Outcome.NOT_SELECTED,
        three_providers[2].id: Outcome.NOT_SELECTED,
    }
    assert full_address_visible(get_recipient(session, enquiry.id, three_providers[1].id)) is True
    assert full_address_visible(get_recipient(session, enquiry.id, three_providers[0].id)) is False


def test_select_provider_that_declined_raises(session, build, three_providers):
    enquiry = build.enquiry(three_providers)
    respond_all(session, build, enquiry, three_providers)

    with pytest.raises(InvalidValueError, match="has not accepted"):
        select_provider(session, enquiry.id, three_providers[2].id, selected_by_id=build.user().id)


def test_select_provider_twice_raises(session, build, three_providers):
    enquiry = build.enquiry(three_providers)
    respond_all(session, build, enquiry, three_providers)
    care_manager = build.user()
    select_provider(session, enquiry.id, three_providers[1].id, selected_by_id=care_manager.id)

    with pytest.raises(InvalidTransitionError, match="'provisional' to 'provisional'"):
        select_provider(session, enquiry.id, three_providers[0].id, selected_by_id=care_manager.id)


def test_confirm_selection_starts_package(session, build, three_providers):
    enquiry = build.enquiry(three_providers, hours=Decimal("12.50"))
    respond_all(session, build, enquiry, three_providers)
    care_manager = build.user()
    select_provider(session, enquiry.id, three_providers[1].id, selected_by_id=care_manager.id)

    package = confirm_selection(session, enquiry.id, confirmed_by_id=care_manager.id, start_on=date(2027, 7, 12))
    session.commit()

    assert enquiry.status == EnquiryStatus.CONFIRMED
    assert package.status == PackageStatus.ACTIVE
    assert (package.provider_id, package.unit_price, package.hours_per_week) == (
        three_providers[1].id,
        Decimal("19.80"),
        Decimal("12.50"),
    )
    assert package.start_on == date(2027, 7, 12)
    assert [change.to_status for change in package.status_history] == [PackageStatus.ACTIVE]
    confirmed = [row for row in responses_side_by_side(session, enquiry.id) if row.provider_id == three_providers[1].id]
    assert confirmed[0].outcome == Outcome.SELECTED_CONFIRMED


def test_confirm_selection_before_selecting_raises(session, build, three_providers):
    enquiry = build.enquiry(three_providers)

    with pytest.raises(InvalidTransitionError, match="'open' to 'confirmed'"):
        confirm_selection(session, enquiry.id, confirmed_by_id=build.user().id)


def test_notes_thread_per_provider(session, build, three_providers):
    enquiry = build.enquiry(three_providers[:2])
    first_user = provider_user(build, three_providers[0])
    care_manager = build.user()

    add_note(session, enquiry.id, three_providers[0].id, author_id=first_user.id, body="Is there a key safe?")
    add_note(session, enquiry.id, three_providers[0].id, author_id=care_manager.id, body="Yes, code by phone.", via_phone=True)
    add_note(session, enquiry.id, three_providers[1].id, author_id=care_manager.id, body="Any questions?")

    thread = thread_notes(session, get_recipient(session, enquiry.id, three_providers[0].id))
    assert [(note.author_side, note.via_phone) for note in thread] == [(AuthorSide.PROVIDER, False), (AuthorSide.COUNCIL, True)]
    assert len(thread_notes(session, get_recipient(session, enquiry.id, three_providers[1].id))) == 1


def test_note_in_other_providers_thread_not_allowed(session, build, three_providers):
    enquiry = build.enquiry(three_providers[:2])

    with pytest.raises(NotAllowedError, match="write in this thread"):
        add_note(session, enquiry.id, three_providers[1].id, author_id=provider_user(build, three_providers[0]).id, body="Hello")


def test_note_empty_body_raises(session, build, three_providers):
    enquiry = build.enquiry(three_providers[:1])

    with pytest.raises(InvalidValueError, match="body"):
        add_note(session, enquiry.id, three_providers[0].id, author_id=build.user().id, body=" \n")


def test_enquiries_for_provider_by_state(session, build, clock):
    provider = build.provider()
    user = provider_user(build, provider)
    care_manager = build.user()
    enquiries = [build.enquiry([provider]) for _ in range(5)]
    build.enquiry()  # a draft never appears
    record_view(session, enquiries[1].id, provider.id)
    record_view(session, enquiries[2].id, provider.id)
    accept_enquiry(session, enquiries[2].id, provider.id, recorded_by_id=user.id)
    accept_enquiry(session, enquiries[3].id, provider.id, recorded_by_id=user.id)
    select_provider(session, enquiries[3].id, provider.id, selected_by_id=care_manager.id)
    session.commit()

    def ids(state):
        return [recipient.enquiry_id for recipient in enquiries_for_provider(session, provider.id, state).items]

    assert ids(RecipientState.NEW) == [enquiries[0].id, enquiries[4].id]
    assert ids(RecipientState.VIEWED) == [enquiries[1].id]
    assert ids(RecipientState.RESPONDED) == [enquiries[2].id]
    assert ids(RecipientState.DECIDED) == [enquiries[3].id]
    assert len(ids(None)) == 5
    assert enquiries_for_provider(session, build.provider().id).total == 0
    page = enquiries_for_provider(session, provider.id, None)
    assert [recipient_state(recipient) for recipient in page.items].count(RecipientState.NEW) == 2


def test_enquiries_for_provider_pagination(session, build, clock):
    provider = build.provider()
    for _ in range(5):
        build.enquiry([provider])
        clock.advance(timedelta(days=1))

    first = enquiries_for_provider(session, provider.id, page=1, per_page=2)
    last = enquiries_for_provider(session, provider.id, page=3, per_page=2)

    assert (first.total, first.pages, first.has_next) == (5, 3, True)
    assert len(first.items) == 2
    assert first.items[0].enquiry.respond_by < first.items[1].enquiry.respond_by
    assert (len(last.items), last.has_next) == (1, False)


@pytest.mark.parametrize(
    ("options", "field"), [({"page": 0}, "page"), ({"per_page": 101}, "per_page"), ({"state": "lost"}, "state")]
)
def test_enquiries_for_provider_invalid_arguments_raise(session, build, options, field):
    provider = build.provider()

    with pytest.raises(InvalidValueError) as raised:
        enquiries_for_provider(session, provider.id, **options)

    assert raised.value.field == field


def test_create_enquiry_entered_by_provider_user_not_allowed(session, build):
    provider = build.provider()

    with pytest.raises(NotAllowedError, match="enter an enquiry"):
        create_enquiry(
            session,
            service_user_id=build.service_user().id,
            raised_by_id=build.user().id,
            hours_per_week=Decimal("5.00"),
            expected_start_on=date(2027, 7, 5),
            entered_by_id=provider_user(build, provider).id,
        )


def test_select_provider_by_analyst_not_allowed(session, build, three_providers):
    enquiry = build.enquiry(three_providers)
    respond_all(session, build, enquiry, three_providers)

    with pytest.raises(NotAllowedError, match="select a provider"):
        select_provider(session, enquiry.id, three_providers[0].id, selected_by_id=build.user(Role.ANALYST).id)


def test_confirm_selection_by_provider_user_not_allowed(session, build, three_providers):
    enquiry = build.enquiry(three_providers)
    respond_all(session, build, enquiry, three_providers)
    select_provider(session, enquiry.id, three_providers[0].id, selected_by_id=build.user().id)

    with pytest.raises(NotAllowedError, match="confirm a care package"):
        confirm_selection(session, enquiry.id, confirmed_by_id=provider_user(build, three_providers[0]).id)

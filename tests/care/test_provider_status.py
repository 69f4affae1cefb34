"""Tests of provider rules: status changes with history, the profile and the search by postcode district."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from care.errors import InvalidTransitionError, InvalidValueError, NotFoundError
from care.models.providers import ProviderStatus
from care.providers import change_provider_status, live_providers_covering, normalise_postcode_district, update_profile


def test_provider_status_history_and_go_live(session, build, clock):
    provider = build.provider(status=ProviderStatus.APPLIED)
    staff = build.user()
    clock.set(datetime(2027, 6, 7, 23, 30, tzinfo=timezone.utc))

    change_provider_status(session, provider.id, ProviderStatus.REGISTERED, changed_by_id=staff.id)
    change_provider_status(session, provider.id, ProviderStatus.CHECKS_FAILED, changed_by_id=None, reason="CQC check unavailable")
    change_provider_status(
        session, provider.id, ProviderStatus.REGISTERED, changed_by_id=staff.id, reason="CQC confirmed by phone"
    )
    change_provider_status(session, provider.id, ProviderStatus.LIVE, changed_by_id=staff.id)
    session.commit()

    assert [(change.from_status, change.to_status) for change in provider.status_history] == [
        (ProviderStatus.APPLIED, ProviderStatus.REGISTERED),
        (ProviderStatus.REGISTERED, ProviderStatus.CHECKS_FAILED),
        (ProviderStatus.CHECKS_FAILED, ProviderStatus.REGISTERED),
        (ProviderStatus.REGISTERED, ProviderStatus.LIVE),
    ]
    # 23:30 UTC on 7 June is 00:30 on 8 June in London.
    assert provider.go_live_on == date(2027, 6, 8)


def test_provider_removed_cannot_go_live(session, build):
    provider = build.provider(status=ProviderStatus.REMOVED)

    with pytest.raises(InvalidTransitionError, match="provider .* from 'removed' to 'live'"):
        change_provider_status(session, provider.id, ProviderStatus.LIVE, changed_by_id=None)


def test_provider_applied_cannot_skip_registration(session, build):
    provider = build.provider(status=ProviderStatus.APPLIED)

    with pytest.raises(InvalidTransitionError) as raised:
        change_provider_status(session, provider.id, ProviderStatus.LIVE, changed_by_id=None)

    assert raised.value.allowed == ["registered", "removed"]


def test_provider_unknown_id_raises(session, build):
    with pytest.raises(NotFoundError, match="provider 999"):
        change_provider_status(session, 999, ProviderStatus.LIVE, changed_by_id=None)


def test_update_profile_replaces_districts(session, build):
    provider = build.provider(districts=("LS6", "LS7"))

    update_profile(
        session,
        provider.id,
        districts=[" ls7", "LS16"],
        services_offered=["Personal care", "Night sitting", "Personal care"],
        standard_hourly_rate=Decimal("22.40"),
    )
    session.commit()

    assert sorted(district.postcode_district for district in provider.districts) == ["LS16", "LS7"]
    assert provider.services_offered == ["Night sitting", "Personal care"]
    assert provider.standard_hourly_rate == Decimal("22.40")


def test_update_profile_invalid_rate_raises(session, build):
    provider = build.provider()

    with pytest.raises(InvalidValueError, match="standard_hourly_rate"):
        update_profile(session, provider.id, standard_hourly_rate=Decimal("0"))


def test_live_providers_covering_district(session, build):
    live = build.provider(districts=("LS6",), name="Example Homecare")
    build.provider(districts=("LS6",), status=ProviderStatus.SUSPENDED)
    build.provider(districts=("ZZ1",))

    assert live_providers_covering(session, "ls6") == [live]


@pytest.mark.parametrize(("text", "expected"), [("ls6", "LS6"), (" SW1A ", "SW1A"), ("E1", "E1"), ("ZZ99", "ZZ99")])
def test_normalise_postcode_district_valid(text, expected):
    assert normalise_postcode_district(text) == expected


@pytest.mark.parametrize("text", ["LS6 1AA", "6LS", "", "LSX"])
def test_normalise_postcode_district_invalid_raises(text):
    with pytest.raises(InvalidValueError, match="postcode_district"):
        normalise_postcode_district(text)

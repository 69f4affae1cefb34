"""Recording a provider's application: the CQC provider id is checked for its form and for another provider holding it."""

import pytest

from care import journey
from care.errors import InvalidValueError

CQC_ID = "1-000000001"


def contacted_provider(session_factory, name: str) -> int:
    with session_factory.begin() as db:
        return journey.record_contact(db, name=name, kind="company", contact_route="contact_centre").id


def test_concurrent_duplicate_cqc_id_names_holder(session_factory, monkeypatch):
    first_id = contacted_provider(session_factory, "First Care Ltd")
    second_id = contacted_provider(session_factory, "Second Care Ltd")
    with session_factory.begin() as db:
        journey.record_application(db, first_id, name="First Care Ltd", cqc_provider_id=CQC_ID, company_number="09000001", charity_number=None)
    check = journey._reject_held_cqc_id
    checks = []

    def check_before_the_first_committed(session, provider, cqc_provider_id):
        # The second application's check ran before the first committed, so it found no holder; the write then fails.
        checks.append(cqc_provider_id)
        if len(checks) > 1:
            check(session, provider, cqc_provider_id)

    monkeypatch.setattr(journey, "_reject_held_cqc_id", check_before_the_first_committed)

    with pytest.raises(InvalidValueError, match=f"provider {first_id} \\(First Care Ltd\\) already has this CQC provider id"):
        with session_factory.begin() as db:
            journey.record_application(db, second_id, name="Second Care Ltd", cqc_provider_id=CQC_ID, company_number="09000002", charity_number=None)

    assert checks == [CQC_ID, CQC_ID]


@pytest.mark.parametrize("cqc_provider_id", ["\uff11-000000001", "1-00000000\u0661", "1000000001", "1-0000-1"])
def test_cqc_id_must_be_ascii_digits(session_factory, cqc_provider_id):
    provider_id = contacted_provider(session_factory, "Third Care Ltd")

    with pytest.raises(InvalidValueError, match="digits 0 to 9 with one hyphen"):
        with session_factory.begin() as db:
            journey.record_application(db, provider_id, name="Third Care Ltd", cqc_provider_id=cqc_provider_id, company_number="09000003", charity_number=None)

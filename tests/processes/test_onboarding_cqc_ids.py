"""Provider onboarding: a CQC provider id in other scripts' digits is not stored, so two providers cannot hold one id."""

from care.models.providers import Provider
from engine.errors import FormValidationError

BRIGHTWATER = {"provider_name": "Brightwater Home Care Ltd", "cqc_provider_id": "1-000000001", "company_number": "09000001"}
# The same id written with FULLWIDTH DIGIT ONE, which Python's \d matches: the form's pattern now requires [0-9].
FULLWIDTH_DUPLICATE = "\uff11-000000001"


def apply_as_new_provider(journey, actors, name: str, cqc_provider_id: str) -> tuple[str, int]:
    instance_id = journey.engine.start("provider_onboarding", business_key=f"onboarding-{name}")
    journey.complete(
        "record_contact",
        {"contact_route": "contact_centre", "provider_name": name, "provider_kind": "company", "contact_email": "office@provider.example"},
        actors.staff,
        instance_id=instance_id,
    )
    provider_id = journey.engine.instance_data(instance_id)["provider_id"]
    form = {"contact_person": "Jo Example", "documents_uploaded": "true", "charity_number": "", **BRIGHTWATER, "provider_name": name, "cqc_provider_id": cqc_provider_id}
    try:
        journey.complete("apply", form, actors.provider("applicant", provider_id), instance_id=instance_id)
    except FormValidationError:
        return instance_id, provider_id
    journey.run_jobs()
    return instance_id, provider_id


def test_fullwidth_digit_cqc_id_not_stored(journey, actors):
    apply_as_new_provider(journey, actors, "Brightwater Home Care Ltd", BRIGHTWATER["cqc_provider_id"])

    _instance_id, second_id = apply_as_new_provider(journey, actors, "Second Care Ltd", FULLWIDTH_DUPLICATE)

    # Either the form rejects the id or the duplicate check catches it, because storing it lets two providers hold one CQC id.
    assert journey.get(Provider, second_id).cqc_provider_id is None

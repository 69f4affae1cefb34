"""Form validation when a user task is completed: types, constraints, enums, read-only and unknown fields."""

import pytest

from engine.errors import FormValidationError
from engine.models import HumanTask
from helpers import ADMIN, MANAGER, audit_kinds, deploy_file, instance_row, only_task

VALID = {"full_name": "Ada Example", "start_on": "2030-02-01"}


@pytest.fixture
def assessment(engine, movable_clock) -> str:
    deploy_file(engine, "forms.bpmn")
    return engine.start("care_assessment", data={"provider_id": 7, "case_worker": "sam.worker"})


def rejected_fields(engine, instance_id, submission) -> dict[str, str]:
    """Submit the assessment form, expect a rejection and return its messages by field."""
    task_id = only_task(engine, instance_id).id
    with pytest.raises(FormValidationError) as caught:
        engine.complete(task_id, submission, MANAGER)

    assert caught.value.task_id == task_id
    return {error.field: error.message for error in caught.value.errors}


WRONG_TYPES = [
    ("visits_per_week", "several", "must be a whole number"),
    ("visits_per_week", "2.5", "must be a whole number"),
    ("visits_per_week", True, "must be a whole number"),
    ("needs_hoist", "perhaps", "must be true or false"),
    ("start_on", "2030-02-30", "must be a date written as YYYY-MM-DD or DD/MM/YYYY"),
    ("start_on", 20300201, "must be a date written as YYYY-MM-DD or DD/MM/YYYY"),
    ("full_name", ["Ada", "Example"], "must be text"),
]

BROKEN_CONSTRAINTS = [
    ("full_name", "A", "must be at least 2 characters"),
    ("full_name", "A" * 41, "must be at most 40 characters"),
    ("visits_per_week", "0", "must be at least 1"),
    ("visits_per_week", 22, "must be at most 21"),
]


def test_validation_wrong_type(engine, assessment):
    for field, value, message in WRONG_TYPES:
        errors = rejected_fields(engine, assessment, {**VALID, field: value})

        assert errors == {field: message}, f"{field}={value!r}"


def test_validation_constraint_broken(engine, assessment):
    for field, value, message in BROKEN_CONSTRAINTS:
        errors = rejected_fields(engine, assessment, {**VALID, field: value})

        assert errors == {field: message}, f"{field}={value!r}"


def test_validation_constraint_limits_accepted(engine, assessment):
    for field, value in [("full_name", "AB"), ("full_name", "A" * 40), ("visits_per_week", 1), ("visits_per_week", "21")]:
        instance_id = engine.start("care_assessment", data={"provider_id": 7})

        engine.complete(only_task(engine, instance_id).id, {**VALID, field: value}, MANAGER)

        assert only_task(engine, instance_id).element_id == "provider_review", f"{field}={value!r}"


def test_validation_required_missing(engine, assessment):
    for missing in ["full_name", "start_on"]:
        submission = {name: value for name, value in VALID.items() if name != missing}

        assert rejected_fields(engine, assessment, submission) == {missing: "is required"}


def test_validation_required_blank(engine, assessment):
    for blank in ["", None]:
        assert rejected_fields(engine, assessment, {**VALID, "full_name": blank}) == {"full_name": "is required"}, repr(blank)


def test_validation_enum_unknown(engine, assessment):
    for value in ["urgent", "Medium", 1]:
        errors = rejected_fields(engine, assessment, {**VALID, "care_level": value})

        assert errors == {"care_level": "must be one of low, medium, high"}, repr(value)


def test_validation_readonly_changed(engine, assessment):
    errors = rejected_fields(engine, assessment, {**VALID, "reference": "ASSESS-9999"})

    assert errors == {"reference": "is read-only and cannot be changed"}


def test_validation_readonly_unchanged_accepted(engine, assessment):
    engine.complete(only_task(engine, assessment).id, {**VALID, "reference": "ASSESS-0001"}, MANAGER)

    assert only_task(engine, assessment).element_id == "provider_review"
    assert "reference" not in engine.instance_data(assessment)


def test_validation_unknown_field(engine, assessment):
    errors = rejected_fields(engine, assessment, {**VALID, "is_admin": True})

    assert errors == {"is_admin": "is not a field of this form; remove it"}


def test_validation_reports_every_error(engine, assessment):
    submission = {
        "full_name": "A",
        "visits_per_week": "lots",
        "needs_hoist": "maybe",
        "care_level": "urgent",
        "reference": "CHANGED",
        "favourite_colour": "green",
    }

    errors = rejected_fields(engine, assessment, submission)

    assert errors == {
        "favourite_colour": "is not a field of this form; remove it",
        "full_name": "must be at least 2 characters",
        "visits_per_week": "must be a whole number",
        "needs_hoist": "must be true or false",
        "start_on": "is required",
        "care_level": "must be one of low, medium, high",
        "reference": "is read-only and cannot be changed",
    }


def test_validation_message_names_fields(engine, assessment):
    task_id = only_task(engine, assessment).id

    with pytest.raises(FormValidationError) as caught:
        engine.complete(task_id, {"full_name": "A"}, MANAGER)

    assert str(caught.value) == f"task {task_id}: invalid form data (full_name: must be at least 2 characters; start_on: is required)"
    assert [error.as_dict() for error in caught.value.errors] == [
        {"field": "full_name", "message": "must be at least 2 characters"},
        {"field": "start_on", "message": "is required"},
    ]


def test_validation_rejection_changes_nothing(engine, assessment, session_factory):
    before = instance_row(session_factory, assessment)
    task_id = only_task(engine, assessment).id

    with pytest.raises(FormValidationError):
        engine.complete(task_id, {"full_name": "Ada Example", "visits_per_week": "lots"}, MANAGER)

    after = instance_row(session_factory, assessment)
    assert after.state == before.state
    assert after.row_version == before.row_version
    assert after.updated_at == before.updated_at
    assert "full_name" not in engine.instance_data(assessment)
    with session_factory() as session:
        task = session.get(HumanTask, task_id)
    assert task.status == "open"
    assert task.completed_by is None
    assert audit_kinds(session_factory, assessment) == ["instance.started"]


def test_validation_then_valid_submission(engine, assessment):
    task_id = only_task(engine, assessment).id
    with pytest.raises(FormValidationError):
        engine.complete(task_id, {"full_name": "A"}, MANAGER)

    engine.complete(task_id, VALID, MANAGER)

    assert engine.instance_data(assessment)["full_name"] == "Ada Example"
    assert only_task(engine, assessment).element_id == "provider_review"


def test_validation_task_without_form_rejects_data(engine, assessment):
    engine.complete(only_task(engine, assessment).id, VALID, MANAGER)
    task_id = only_task(engine, assessment).id

    with pytest.raises(FormValidationError) as caught:
        engine.complete(task_id, {"note": "anything"}, ADMIN)

    assert [error.field for error in caught.value.errors] == ["note"]

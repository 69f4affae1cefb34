"""User tasks: form fields of each type with defaults, assignees, candidate groups and due dates."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from engine.models import HumanTask
from engine.runtime import Actor
from helpers import ADMIN, MANAGER, START_TIME, complete_step, deploy_file, only_task

ASSESSMENT = {"full_name": "Ada Example", "start_on": "2030-02-01"}


@pytest.fixture
def assessment(engine, movable_clock) -> str:
    deploy_file(engine, "forms.bpmn")
    return engine.start("care_assessment", business_key="A-1", data={"provider_id": 42, "case_worker": "sam.worker"})


def fields_by_id(engine, task_id):
    return {field.id: field for field in engine.task_form(task_id, ADMIN).fields}


def test_form_fields_types(engine, assessment):
    fields = fields_by_id(engine, only_task(engine, assessment).id)

    assert list(fields) == ["full_name", "visits_per_week", "needs_hoist", "start_on", "review_on", "care_level", "reference"]
    assert {name: field.type for name, field in fields.items()} == {
        "full_name": "string",
        "visits_per_week": "long",
        "needs_hoist": "boolean",
        "start_on": "date",
        "review_on": "date",
        "care_level": "enum",
        "reference": "string",
    }
    assert fields["full_name"].label == "Full name"
    assert fields["care_level"].options == (("low", "Low"), ("medium", "Medium"), ("high", "High"))


def test_form_fields_constraints(engine, assessment):
    fields = fields_by_id(engine, only_task(engine, assessment).id)

    assert fields["full_name"].required is True
    assert fields["full_name"].min_length == 2
    assert fields["full_name"].max_length == 40
    assert fields["visits_per_week"].required is False
    assert fields["visits_per_week"].minimum == Decimal(1)
    assert fields["visits_per_week"].maximum == Decimal(21)
    assert fields["start_on"].required is True
    assert fields["reference"].readonly is True
    assert fields["full_name"].readonly is False


def test_form_defaults_prefill_values(engine, assessment):
    form = engine.task_form(only_task(engine, assessment).id, ADMIN)

    assert form.values == {
        "full_name": None,
        "visits_per_week": 7,
        "needs_hoist": False,
        "start_on": None,
        "review_on": date(2030, 3, 1),
        "care_level": "medium",
        "reference": "ASSESS-0001",
    }


def test_form_values_show_current_data(engine, movable_clock):
    deploy_file(engine, "forms.bpmn")
    instance_id = engine.start("care_assessment", data={"visits_per_week": 3, "full_name": "Ada Example"})

    form = engine.task_form(only_task(engine, instance_id).id, ADMIN)

    assert form.values["visits_per_week"] == 3
    assert form.values["full_name"] == "Ada Example"


def test_complete_stores_coerced_values(engine, assessment):
    submission = {**ASSESSMENT, "visits_per_week": "14", "needs_hoist": "true", "care_level": "high", "review_on": "01/04/2030"}

    complete_step(engine, assessment, "assess_needs", submission, MANAGER)
    data = engine.instance_data(assessment)

    assert data["full_name"] == "Ada Example"
    assert data["visits_per_week"] == 14
    assert data["needs_hoist"] is True
    assert data["start_on"] == date(2030, 2, 1)
    assert data["review_on"] == date(2030, 4, 1)
    assert data["care_level"] == "high"
    assert "reference" not in data


def test_candidate_groups_plain(engine, assessment):
    task = only_task(engine, assessment)

    assert task.element_id == "assess_needs"
    assert task.assignee is None
    assert task.candidate_groups == "care_manager"
    assert [candidate.group_name for candidate in task.candidates] == ["care_manager"]


def test_candidate_groups_expression(engine, assessment):
    complete_step(engine, assessment, "assess_needs", ASSESSMENT, MANAGER)

    task = only_task(engine, assessment)

    assert task.element_id == "provider_review"
    assert sorted(candidate.group_name for candidate in task.candidates) == ["provider-42", "provider_services"]
    assert task.candidate_groups == "provider-42,provider_services"


def test_assignee_expression(engine, assessment):
    complete_step(engine, assessment, "assess_needs", ASSESSMENT, MANAGER)
    complete_step(engine, assessment, "provider_review")

    task = only_task(engine, assessment)

    assert task.element_id == "case_worker_check"
    assert task.assignee == "sam.worker"
    assert task.candidates == []


def test_assignee_sees_own_task(engine, assessment):
    complete_step(engine, assessment, "assess_needs", ASSESSMENT, MANAGER)
    complete_step(engine, assessment, "provider_review")
    case_worker = Actor("sam.worker")

    assert [task.element_id for task in engine.list_tasks(case_worker)] == ["case_worker_check"]
    assert engine.list_tasks(MANAGER) == []


def test_due_date_days(engine, assessment):
    task = only_task(engine, assessment)

    assert task.due_at == START_TIME + timedelta(days=3)
    assert task.created_at == START_TIME


def test_due_date_hours_from_creation(engine, assessment, movable_clock):
    movable_clock.advance(hours=5)
    complete_step(engine, assessment, "assess_needs", ASSESSMENT, MANAGER)

    task = only_task(engine, assessment)

    assert task.due_at == START_TIME + timedelta(hours=5 + 36)


def test_overdue_filter(engine, assessment):
    due = START_TIME + timedelta(days=3)

    assert engine.list_tasks(ADMIN, overdue_at=due) == []
    assert [task.element_id for task in engine.list_tasks(ADMIN, overdue_at=due + timedelta(seconds=1))] == ["assess_needs"]


def test_completed_task_row(engine, assessment, movable_clock):
    task_id = only_task(engine, assessment).id
    movable_clock.advance(minutes=10)

    engine.complete(task_id, ASSESSMENT, MANAGER)

    with engine.session_factory() as session:
        row = session.get(HumanTask, task_id)
    assert row.status == "completed"
    assert row.completed_by == MANAGER.user
    assert row.completed_at == START_TIME + timedelta(minutes=10)

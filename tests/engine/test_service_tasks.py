"""External service tasks: input and output mappings, result variables and the job row they wait on."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.models import Job
from helpers import ADMIN, deploy_file, only_task


@pytest.fixture
def quote_instance(engine, movable_clock) -> str:
    deploy_file(engine, "service_mapping.bpmn")
    return engine.start("quote_request", business_key="Q-1", data={"hours": Decimal("7.5"), "postcode": "ZZ99 3VZ"})


def test_service_task_waits_for_worker(engine, quote_instance, session_factory):
    with session_factory() as session:
        jobs = list(session.scalars(sa.select(Job).where(Job.instance_id == quote_instance)))

    assert engine.get_instance(quote_instance).status == "running"
    assert engine.instance_elements(quote_instance)["active"] == ["request_quote"]
    assert len(jobs) == 1
    assert jobs[0].topic == "test.quote"
    assert jobs[0].element_id == "request_quote"
    assert jobs[0].status == "ready"


def test_service_task_input_mapping(quote_instance, job_runner, handler_calls):
    outcomes = job_runner.run_due()

    assert [outcome.result for outcome in outcomes] == ["done"]
    assert handler_calls.by_topic["test.quote"] == [
        {
            "weekly_hours": Decimal("15.0"),
            "service": "home care",
            "postcodes": ["ZZ99 1AA", "ZZ99 3VZ"],
            "address": {"line1": "1 Example Road", "postcode": "ZZ99 3VZ"},
        }
    ]


def test_service_task_output_mapping(engine, quote_instance, job_runner):
    job_runner.run_due()
    data = engine.instance_data(quote_instance)

    assert engine.get_instance(quote_instance).status == "completed"
    assert data["quoted_total"] == Decimal("322.500")
    assert data["quote_source"] == "simulator"
    assert "total" not in data
    assert "provider" not in data


def test_service_task_result_variable(engine, quote_instance, job_runner):
    job_runner.run_due()

    assert engine.instance_data(quote_instance)["quote_result"] == {"total": Decimal("322.500"), "provider": "Example Care Ltd"}


def test_service_task_example_diagram(engine, job_runner, handler_calls, movable_clock):
    deploy_file(engine, "user_service.bpmn")
    instance_id = engine.start("review", data={"owner": "casey.manager"})
    engine.complete(only_task(engine, instance_id).id, {"approved": True, "hours": 12}, ADMIN)

    job_runner.run_due()

    assert handler_calls.by_topic["test.echo"] == [{"doubled": 24, "label": "fixed text"}]
    assert engine.instance_data(instance_id)["echoed"] == 25
    assert "result" not in engine.instance_data(instance_id)
    assert engine.get_instance(instance_id).status == "completed"

"""Script tasks: restricted Python with Decimal and date arithmetic, and the values it stores."""

from datetime import date
from decimal import Decimal

import pytest

from helpers import deploy_file, open_elements


@pytest.fixture
def deployed_script(engine, movable_clock):
    deploy_file(engine, "script_costs.bpmn")


def start_costs(engine, **data) -> str:
    return engine.start("weekly_costs", data={"hourly_rate": "21.35", "hours_per_week": 12, "start_on": date(2030, 2, 1), **data})


def test_script_task_runs_at_start(engine, deployed_script):
    instance_id = start_costs(engine)

    assert open_elements(engine, instance_id) == ["approve_costs"]
    assert engine.instance_elements(instance_id)["completed"] == ["start", "work_out_cost"]


def test_script_task_decimal_arithmetic(engine, deployed_script):
    data = engine.instance_data(start_costs(engine))

    assert data["weekly_cost"] == Decimal("256.20")
    assert isinstance(data["weekly_cost"], Decimal)
    assert data["annual_cost"] == Decimal("13322.40")
    assert str(data["annual_cost"]) == "13322.40"


def test_script_task_date_arithmetic(engine, deployed_script):
    data = engine.instance_data(start_costs(engine))

    assert data["first_invoice_on"] == date(2030, 3, 1)


def test_script_task_boolean_result(engine, deployed_script):
    within = engine.instance_data(start_costs(engine))
    over = engine.instance_data(start_costs(engine, hourly_rate="45.00", hours_per_week=20))

    assert within["within_budget"] is True
    assert over["within_budget"] is False
    assert over["annual_cost"] == Decimal("46800.00")


def test_script_task_exact_decimal(engine, deployed_script):
    # As floats, 12.22 * 3 gives 36.660000000000004, so the script must keep Decimal values.
    data = engine.instance_data(start_costs(engine, hourly_rate="12.22", hours_per_week=3))

    assert data["weekly_cost"] == Decimal("36.66")

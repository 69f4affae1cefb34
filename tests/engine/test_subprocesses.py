"""Embedded subprocesses and call activities across two files deployed together."""

from datetime import date

import pytest

from engine.errors import NotFoundError
from helpers import complete_step, deploy_file, open_elements


@pytest.fixture
def deployed_subprocesses(engine, movable_clock):
    deploy_file(engine, "embedded_subprocess.bpmn")
    deploy_file(engine, "call_parent.bpmn", "call_child.bpmn")


def test_embedded_subprocess_task_opens(engine, deployed_subprocesses):
    instance_id = engine.start("onboarding")

    assert open_elements(engine, instance_id) == ["check_insurance"]
    assert engine.instance_elements(instance_id)["completed"] == ["checks_start", "start"]


def test_embedded_subprocess_data_flows_out(engine, deployed_subprocesses):
    instance_id = engine.start("onboarding", data={"provider_name": "Example Care Ltd"})

    complete_step(engine, instance_id, "check_insurance", {"insured_until": "2031-01-01"})

    assert open_elements(engine, instance_id) == ["sign_off"]
    assert engine.instance_data(instance_id) == {"provider_name": "Example Care Ltd", "insured_until": date(2031, 1, 1)}


def test_embedded_subprocess_completes(engine, deployed_subprocesses):
    instance_id = engine.start("onboarding")
    complete_step(engine, instance_id, "check_insurance", {"insured_until": "2031-01-01"})

    complete_step(engine, instance_id, "sign_off")

    assert engine.get_instance(instance_id).status == "completed"


def test_call_activity_deploys_both(engine, movable_clock):
    result = deploy_file(engine, "call_parent.bpmn", "call_child.bpmn")

    assert sorted(result.created) == [("package_setup", 1), ("visit_agreement", 1)]


def test_call_activity_runs_child(engine, deployed_subprocesses):
    instance_id = engine.start("package_setup", business_key="C-1", data={"hours_per_week": 10})

    assert open_elements(engine, instance_id) == ["agree_times"]
    assert engine.get_instance(instance_id).process_id == "package_setup"


def test_call_activity_returns_data(engine, deployed_subprocesses):
    instance_id = engine.start("package_setup", data={"hours_per_week": 10})

    complete_step(engine, instance_id, "agree_times", {"visit_time": "09:00"})

    assert open_elements(engine, instance_id) == ["activate_package"]
    assert engine.instance_data(instance_id) == {"hours_per_week": 10, "visit_time": "09:00"}


def test_call_activity_completes(engine, deployed_subprocesses):
    instance_id = engine.start("package_setup")
    complete_step(engine, instance_id, "agree_times", {"visit_time": "14:30"})

    complete_step(engine, instance_id, "activate_package")

    assert engine.get_instance(instance_id).status == "completed"


def test_call_activity_child_alone(engine, deployed_subprocesses):
    instance_id = engine.start("visit_agreement")

    assert open_elements(engine, instance_id) == ["agree_times"]


def test_start_unknown_process(engine, deployed_subprocesses):
    with pytest.raises(NotFoundError) as caught:
        engine.start("no_such_process")

    assert caught.value.kind == "process"

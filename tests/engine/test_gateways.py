"""Gateways: exclusive with conditions and a default, parallel split and join, inclusive, event-based."""

from datetime import timedelta

import pytest

from engine import timers
from engine.errors import MessageNotDeliveredError
from helpers import START_TIME, complete_step, deploy_file, open_elements


@pytest.fixture
def deployed_gateways(engine, movable_clock):
    deploy_file(engine, "exclusive_gateway.bpmn")
    deploy_file(engine, "parallel_gateway.bpmn")
    deploy_file(engine, "inclusive_gateway.bpmn")
    deploy_file(engine, "event_based_gateway.bpmn")


def test_exclusive_gateway_routes(engine, deployed_gateways):
    # The conditions do not overlap, and when none is true the default flow is taken.
    cases = [(25, "high_support"), (10, "high_support"), (9, "medium_support"), (5, "medium_support"), (4, "low_support"), (-3, "low_support")]
    for score, expected in cases:
        instance_id = engine.start("route_by_score")

        complete_step(engine, instance_id, "score_case", {"score": score})

        assert open_elements(engine, instance_id) == [expected], f"score {score}"


def test_exclusive_gateway_path_completes(engine, deployed_gateways):
    instance_id = engine.start("route_by_score")
    complete_step(engine, instance_id, "score_case", {"score": 7})

    complete_step(engine, instance_id, "medium_support")

    assert engine.get_instance(instance_id).status == "completed"
    assert engine.instance_elements(instance_id)["completed"] == ["end_medium", "medium_support", "route", "score_case", "start"]


def test_parallel_gateway_splits(engine, deployed_gateways):
    instance_id = engine.start("parallel_checks")

    assert open_elements(engine, instance_id) == ["check_references", "check_training"]


def test_parallel_gateway_join_waits(engine, deployed_gateways):
    instance_id = engine.start("parallel_checks")

    complete_step(engine, instance_id, "check_training")

    assert open_elements(engine, instance_id) == ["check_references"]
    assert engine.get_instance(instance_id).status == "running"


def test_parallel_gateway_join_continues(engine, deployed_gateways):
    instance_id = engine.start("parallel_checks")
    complete_step(engine, instance_id, "check_training")

    complete_step(engine, instance_id, "check_references")

    assert open_elements(engine, instance_id) == ["approve_provider"]
    complete_step(engine, instance_id, "approve_provider")
    assert engine.get_instance(instance_id).status == "completed"


def test_inclusive_gateway_routes(engine, deployed_gateways):
    cases = [
        ({"meals": True, "shopping": True}, ["arrange_meals", "arrange_shopping"]),
        ({"meals": True, "shopping": False}, ["arrange_meals"]),
        ({"meals": False, "shopping": True}, ["arrange_shopping"]),
        ({"meals": False, "shopping": False}, ["no_extras"]),
    ]
    for choice, expected in cases:
        instance_id = engine.start("extra_services")

        complete_step(engine, instance_id, "choose_extras", choice)

        assert open_elements(engine, instance_id) == expected, choice


def test_inclusive_gateway_join_waits_for_taken_paths(engine, deployed_gateways):
    instance_id = engine.start("extra_services")
    complete_step(engine, instance_id, "choose_extras", {"meals": True, "shopping": True})

    complete_step(engine, instance_id, "arrange_meals")
    assert open_elements(engine, instance_id) == ["arrange_shopping"]

    complete_step(engine, instance_id, "arrange_shopping")
    assert open_elements(engine, instance_id) == ["confirm_plan"]


def test_inclusive_gateway_join_single_path(engine, deployed_gateways):
    instance_id = engine.start("extra_services")
    complete_step(engine, instance_id, "choose_extras", {"meals": False, "shopping": True})

    complete_step(engine, instance_id, "arrange_shopping")

    assert open_elements(engine, instance_id) == ["confirm_plan"]


def test_event_based_gateway_waits_for_both(engine, deployed_gateways):
    instance_id = engine.start("await_reply", business_key="E-100")
    row = engine.get_instance(instance_id)

    assert open_elements(engine, instance_id) == []
    assert row.status == "running"
    assert row.next_timer_at == START_TIME + timedelta(hours=48)
    assert engine.instance_elements(instance_id)["waiting"] == ["reply_or_timeout"]


def test_event_based_gateway_message_wins(engine, deployed_gateways, movable_clock, session_factory):
    instance_id = engine.start("await_reply", business_key="E-101")
    movable_clock.advance(hours=47)

    delivered = engine.send_message("provider_reply", {"reply_text": "We can start on Monday"}, business_key="E-101")

    assert delivered == [instance_id]
    assert open_elements(engine, instance_id) == ["read_reply"]
    assert engine.get_instance(instance_id).next_timer_at is None
    assert engine.instance_data(instance_id)["reply_text"] == "We can start on Monday"
    movable_clock.advance(hours=2)
    assert timers.fire_due_timers(session_factory) == 0
    assert open_elements(engine, instance_id) == ["read_reply"]


def test_event_based_gateway_timer_wins(engine, deployed_gateways, movable_clock, session_factory):
    instance_id = engine.start("await_reply", business_key="E-102")
    movable_clock.advance(hours=47, minutes=59)
    assert timers.fire_due_timers(session_factory) == 0

    movable_clock.advance(minutes=1)

    assert timers.fire_due_timers(session_factory) == 1
    assert open_elements(engine, instance_id) == ["chase_provider"]
    with pytest.raises(MessageNotDeliveredError):
        engine.send_message("provider_reply", {"reply_text": "Too late"}, business_key="E-102")

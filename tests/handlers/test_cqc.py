"""The CQC client and the cqc.check_registration topic, over real HTTP against the simulator."""

import dataclasses
import time

import pytest
import requests

from engine.errors import BusinessError, TransientError
from engine.handler_api import HandlerRegistry
from handlers import cqc
from handlers.http import UnexpectedResponseError


@pytest.fixture
def client(settings):
    client = cqc.CqcClient(settings)
    yield client
    client.close()


@pytest.fixture
def check(client, make_context):
    """Call the registered cqc.check_registration handler with the given inputs."""
    registry = HandlerRegistry()
    cqc.register(registry, None, client=client)
    handler = registry.get(cqc.TOPIC).handler

    def run(provider_id: str, name: str):
        return handler({"cqc_provider_id": provider_id, "provider_name": name}, make_context(cqc.TOPIC))

    return run


def test_check_registration_registered(check):
    outputs = check("1-000000001", "Brightwater Home Care Limited")

    assert outputs["cqc_registration_status"] == "Registered"
    assert outputs["cqc_registered_name"] == "Brightwater Home Care Ltd"
    assert outputs["cqc_overall_rating"] == "Good"
    assert outputs["cqc_rating_date"] == "2023-05-10"
    assert outputs["cqc_registration_date"] == "2015-03-02"
    assert outputs["cqc_location_ids"] == ["1-100000001", "1-100000002"]
    assert outputs["cqc_companies_house_number"] == "09000001"
    assert outputs["cqc_postal_code"] == "ZZ1 1AA"
    assert outputs["cqc_provider_type"] == "Social Care Org"


def test_check_registration_unrated_provider(check):
    outputs = check("1-000000004", "Hollybank Community Care")

    assert outputs["cqc_overall_rating"] is None
    assert outputs["cqc_rating_date"] is None


def test_check_registration_deregistered(check):
    with pytest.raises(BusinessError) as caught:
        check("1-000000003", "Old Mill Domiciliary Care Ltd")

    assert caught.value.code == "CQC_DEREGISTERED"
    assert caught.value.details["cqc_deregistration_date"] == "2021-06-30"
    assert "1-000000003" in caught.value.message


def test_check_registration_deregistered_switched_over_http(sim, check):
    response = requests.patch(
        sim.base_url + "/_sim/cqc/providers/1-000000002", json={"registrationStatus": "Deregistered"}, timeout=5
    )
    assert response.status_code == 200

    with pytest.raises(BusinessError) as caught:
        check("1-000000002", "Meadowlark Care Services Limited")

    assert caught.value.code == "CQC_DEREGISTERED"


def test_check_registration_other_status(sim, check):
    sim.state.update_provider("1-000000001", registrationStatus="Pending")

    with pytest.raises(BusinessError) as caught:
        check("1-000000001", "Brightwater Home Care Ltd")

    assert caught.value.code == "CQC_NOT_REGISTERED"


def test_check_registration_unknown_id(check):
    with pytest.raises(BusinessError) as caught:
        check("1-999999999", "Nobody Care Ltd")

    assert caught.value.code == "CQC_NOT_FOUND"
    assert caught.value.details == {"cqc_provider_id": "1-999999999"}


def test_check_registration_404_fault(sim, check):
    sim.state.add_fault("cqc", status=404, times=1)

    with pytest.raises(BusinessError) as caught:
        check("1-000000001", "Brightwater Home Care Ltd")

    assert caught.value.code == "CQC_NOT_FOUND"


def test_check_registration_name_mismatch(check):
    with pytest.raises(BusinessError) as caught:
        check("1-000000001", "Brightwater Nursing Ltd")

    assert caught.value.code == "CQC_NAME_MISMATCH"
    assert caught.value.details["cqc_registered_name"] == "Brightwater Home Care Ltd"
    assert caught.value.details["provider_name"] == "Brightwater Nursing Ltd"


@pytest.mark.parametrize("name", ["BRIGHTWATER HOME CARE LIMITED", "brightwater home-care ltd.", "  Brightwater  Home Care  "])
def test_check_registration_name_variants_match(check, name):
    assert check("1-000000001", name)["cqc_registration_status"] == "Registered"


def test_check_registration_429_then_success(sim, check):
    sim.state.add_fault("cqc", status=429, retry_after=1, times=1)

    started = time.monotonic()
    outputs = check("1-000000001", "Brightwater Home Care Ltd")
    elapsed = time.monotonic() - started

    assert outputs["cqc_registration_status"] == "Registered"
    assert sim.state.call_count("cqc", "get_provider") == 2
    assert elapsed >= 0.9, "the client must wait for the Retry-After header"


def test_check_registration_500_exhausted(sim, check):
    sim.state.add_fault("cqc", status=500)

    with pytest.raises(TransientError, match="HTTP 500 after 2 retries"):
        check("1-000000001", "Brightwater Home Care Ltd")

    assert sim.state.call_count("cqc", "get_provider") == 3


def test_check_registration_slow_times_out(sim, settings, make_context):
    slow = cqc.CqcClient(dataclasses.replace(settings, http_read_timeout=0.3))
    sim.state.add_fault("cqc", delay=1.0)
    try:
        with pytest.raises(TransientError, match="timed out"):
            cqc.check_registration(
                slow, {"cqc_provider_id": "1-000000001", "provider_name": "Brightwater Home Care Ltd"}, make_context(cqc.TOPIC)
            )
    finally:
        slow.close()

    assert sim.state.call_count("cqc", "get_provider") == 3


def test_check_registration_connection_refused(settings, make_context, unused_port):
    refused = cqc.CqcClient(dataclasses.replace(settings, cqc_base_url=f"http://127.0.0.1:{unused_port}"))
    try:
        with pytest.raises(TransientError, match="failed to connect"):
            cqc.check_registration(
                refused, {"cqc_provider_id": "1-000000001", "provider_name": "Brightwater"}, make_context(cqc.TOPIC)
            )
    finally:
        refused.close()


def test_check_registration_bad_key(sim, check):
    sim.state.cqc_api_key = "another-key"

    with pytest.raises(UnexpectedResponseError, match="HTTP 401; check the CQC credentials") as caught:
        check("1-000000001", "Brightwater Home Care Ltd")

    assert caught.value.status == 401


@pytest.mark.parametrize("provider_id", ["1-00000000X", "000000001", "1-000000001/../2"])
def test_check_registration_invalid_id(check, provider_id):
    with pytest.raises(BusinessError) as caught:
        check(provider_id, "Brightwater Home Care Ltd")

    assert caught.value.code == "CQC_INVALID_INPUT"


def test_check_registration_missing_input(client, make_context):
    with pytest.raises(BusinessError, match="'provider_name' is missing") as caught:
        cqc.check_registration(client, {"cqc_provider_id": "1-000000001"}, make_context(cqc.TOPIC))

    assert caught.value.code == "CQC_INVALID_INPUT"


def test_register_documents_topic(settings):
    registry = HandlerRegistry()
    client = cqc.register(registry, settings)
    spec = registry.get(cqc.TOPIC)
    client.close()

    assert set(spec.inputs) == {"cqc_provider_id", "provider_name"}
    assert "CQC_DEREGISTERED" in spec.errors
    assert spec.timeout > client.http.policy.worst_case_seconds()

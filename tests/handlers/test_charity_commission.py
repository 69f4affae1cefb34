"""The Charity Commission client and the charity_commission.check_charity topic, over real HTTP against the simulator."""

import pytest
import requests

from engine.errors import BusinessError, TransientError
from engine.handler_api import HandlerRegistry
from handlers import charity_commission


@pytest.fixture
def client(settings):
    client = charity_commission.CharityCommissionClient(settings)
    yield client
    client.close()


@pytest.fixture
def check(client, make_context):
    registry = HandlerRegistry()
    charity_commission.register(registry, None, client=client)
    handler = registry.get(charity_commission.TOPIC).handler

    def run(**inputs):
        return handler(inputs, make_context(charity_commission.TOPIC))

    return run


def test_check_charity_registered(check):
    outputs = check(charity_number="1200001", charity_name="Hollybank Community Care")

    assert outputs["charity_number"] == "1200001"
    assert outputs["charity_name"] == "HOLLYBANK COMMUNITY CARE"
    assert outputs["charity_registration_status"] == "R"
    assert outputs["charity_registration_date"] == "2019-07-01"
    assert outputs["charity_company_number"] is None


def test_check_charity_removed(check):
    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200002")

    assert caught.value.code == "CHARITY_REMOVED"
    assert caught.value.details["charity_removal_date"] == "2020-10-30T00:00:00"


def test_check_charity_removed_switched_over_http(sim, check):
    response = requests.patch(
        sim.base_url + "/_sim/charity-commission/charities/1200001", json={"reg_status": "RM"}, timeout=5
    )
    assert response.status_code == 200

    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200001")

    assert caught.value.code == "CHARITY_REMOVED"


def test_check_charity_insolvent(check):
    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200003")

    assert caught.value.code == "CHARITY_INSOLVENT"


def test_check_charity_in_administration(sim, check):
    sim.state.update_charity("1200001", in_administration=True)

    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200001")

    assert caught.value.code == "CHARITY_IN_ADMINISTRATION"


def test_check_charity_other_status(sim, check):
    sim.state.update_charity("1200001", reg_status="X")

    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200001")

    assert caught.value.code == "CHARITY_NOT_REGISTERED"


def test_check_charity_not_found(check):
    with pytest.raises(BusinessError) as caught:
        check(charity_number="1299999")

    assert caught.value.code == "CHARITY_NOT_FOUND"


def test_check_charity_unknown_suffix(check):
    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200001", charity_suffix=3)

    assert caught.value.code == "CHARITY_NOT_FOUND"
    assert caught.value.details["charity_suffix"] == 3


def test_check_charity_name_mismatch(check):
    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200001", charity_name="Hollybank Befriending")

    assert caught.value.code == "CHARITY_NAME_MISMATCH"


@pytest.mark.parametrize("inputs", [{"charity_number": "12a0001"}, {"charity_number": "1200001", "charity_suffix": "main"}, {}])
def test_check_charity_invalid_input(check, inputs):
    with pytest.raises(BusinessError) as caught:
        check(**inputs)

    assert caught.value.code == "CHARITY_INVALID_INPUT"


def test_check_charity_500_exhausted(sim, check):
    sim.state.add_fault("charity_commission", status=500)

    with pytest.raises(TransientError):
        check(charity_number="1200001")

    assert sim.state.call_count("charity_commission", "get_charity") == 3


def test_check_charity_empty_record(sim, check):
    with sim.state.lock:
        sim.state.charities["1200009"] = {}

    with pytest.raises(BusinessError) as caught:
        check(charity_number="1200009")

    assert caught.value.code == "CHARITY_NOT_FOUND"

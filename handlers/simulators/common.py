"""Request plumbing shared by the simulated APIs: the state of the running app and fault injection."""

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify

from handlers.simulators.state import SimulatorState

STATE_KEY = "CAREPLACE_SIMULATOR_STATE"

ErrorBody = Callable[[int], dict[str, Any]]
View = Callable[[], Any]


def current_state() -> SimulatorState:
    return current_app.config[STATE_KEY]


def simulate(api: str, operation: str, view: View, error_body: ErrorBody) -> Any:
    """Count the call, then apply the first matching fault around ``view``, or just run ``view``.

    A fault's ``delay`` runs before the view and its ``delay_after`` after it,
    so a client that times out during ``delay_after`` loses a response for
    work that was done. A fault ``status`` replaces the view's response with
    the API's own error shape.
    """
    state = current_state()
    state.count_call(api, operation)
    fault = state.take_fault(api, operation)
    if fault is None:
        return view()

    state.sleep(fault.delay)
    if fault.status is not None:
        response = error_response(fault.status, error_body(fault.status))
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
    else:
        response = view()

    state.sleep(fault.delay_after)
    return response


def error_response(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response

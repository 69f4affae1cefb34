"""The simulator web app and a loopback server that runs it in a daemon thread for tests and the embedded demo."""

import dataclasses
import ipaddress
import logging
import threading
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from handlers.config import HandlerSettings
from handlers.simulators import fixtures
from handlers.simulators.common import STATE_KEY
from handlers.simulators.control import control
from handlers.simulators.paypal import paypal
from handlers.simulators.registers import charity_commission, companies_house, cqc
from handlers.simulators.state import SimulatorState

log = logging.getLogger(__name__)


class QuietRequestHandler(WSGIRequestHandler):
    """Logs each simulated request at DEBUG with its path but not its query, instead of werkzeug's INFO line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("simulator %s %s -> %s", self.command, urlsplit(self.path).path, code)


def create_app(state: SimulatorState) -> Flask:
    """Build one Flask app that serves every simulated API under its own path prefix, plus /_sim controls."""
    app = Flask("careplace_simulators")
    app.config[STATE_KEY] = state
    app.json.sort_keys = False
    for blueprint in (cqc, companies_house, charity_commission, paypal, control):
        app.register_blueprint(blueprint)

    return app


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"simulator host {host!r} is not a loopback address; use 127.0.0.1 or ::1")


class SimulatorServer:
    """A simulator app served on a loopback port, with ``base_url`` given without a trailing slash."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: SimulatorState | None = None):
        _check_loopback(host)
        self.state = state or SimulatorState()
        self.app = create_app(self.state)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True, request_handler=QuietRequestHandler)
        self.port = self._server.server_port
        url_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{url_host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="careplace-simulators", daemon=True)

    @property
    def cqc_base_url(self) -> str:
        return self.base_url + cqc.url_prefix

    @property
    def companies_house_base_url(self) -> str:
        return self.base_url + companies_house.url_prefix

    @property
    def charity_commission_base_url(self) -> str:
        return self.base_url + charity_commission.url_prefix

    @property
    def paypal_base_url(self) -> str:
        return self.base_url + paypal.url_prefix

    def start(self) -> "SimulatorServer":
        self.state.stopping.clear()
        self._thread.start()
        log.info("simulators listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, wake any request sleeping in a delay fault, and close the socket."""
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        log.info("simulators on %s stopped", self.base_url)

    def __enter__(self) -> "SimulatorServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handler_settings(self, base: HandlerSettings | None = None, **overrides: object) -> HandlerSettings:
        """Return handler settings that point every outside API at this server with the simulators' credentials."""
        settings = dataclasses.replace(
            base or HandlerSettings(),
            cqc_base_url=self.cqc_base_url,
            cqc_api_key=fixtures.CQC_API_KEY,
            companies_house_base_url=self.companies_house_base_url,
            companies_house_api_key=fixtures.COMPANIES_HOUSE_API_KEY,
            charity_commission_base_url=self.charity_commission_base_url,
            charity_commission_api_key=fixtures.CHARITY_COMMISSION_API_KEY,
            paypal_base_url=self.paypal_base_url,
            paypal_client_id=fixtures.PAYPAL_CLIENT_ID,
            paypal_secret=fixtures.PAYPAL_SECRET,
            paypal_webhook_id=fixtures.PAYPAL_WEBHOOK_ID,
        )
        return dataclasses.replace(settings, **overrides)


def start_simulators(host: str = "127.0.0.1", port: int = 0, state: SimulatorState | None = None) -> SimulatorServer:
    """Start every simulated API on ``host`` (loopback only) and ``port`` (0 picks a free one). Call ``stop()`` when done."""
    return SimulatorServer(host, port, state).start()

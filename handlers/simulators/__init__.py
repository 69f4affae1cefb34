"""Local simulators of CQC, Companies House, the Charity Commission and PayPal that speak their wire formats on loopback.

One Flask app serves every API under its own path prefix (``/cqc/public/v1``,
``/companies-house``, ``/charity-commission/register/api``, ``/paypal``) and
``/_sim`` control endpoints. ``start_simulators()`` runs it in a daemon thread,
and ``server.handler_settings()`` returns settings that point the handlers at it.
"""

from handlers.simulators.paypal import sign_webhook
from handlers.simulators.server import SimulatorServer, create_app, start_simulators
from handlers.simulators.state import Fault, SimulatorState

__all__ = ["Fault", "SimulatorServer", "SimulatorState", "create_app", "sign_webhook", "start_simulators"]

"""An embedded simulator of the Volcengine / BytePlus RTC data OpenAPI, for demos and tests.

It verifies V4 signatures, validates parameters, enforces the per-second, per-minute and per-day
quotas of each action (on an injectable clock), returns the documented envelopes and shapes with
deterministic, realistic data (a small world of rooms and users per app, audience segments by OS,
network, province and country), and can switch on quality and failure scenarios at start or at
run time (``/-/scenarios``).
"""

from exporter.simulator.data import make_apps
from exporter.simulator.server import Simulator, effective_limits
from exporter.simulator.transport import SimulatorTransport

__all__ = ["Simulator", "SimulatorTransport", "effective_limits", "make_apps"]

"""An embedded simulator of the Volcengine RTC data OpenAPI, for demos and tests.

It verifies V4 signatures, validates parameters, enforces per-action QPS limits, returns the
documented envelopes and shapes with deterministic, realistic data, and can switch on failure
and quality scenarios at start or at run time (``/-/scenarios``).
"""

from exporter.simulator.server import Simulator

__all__ = ["Simulator"]

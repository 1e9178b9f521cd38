"""Prometheus exporter for Volcengine / BytePlus RTC data APIs."""

__version__ = "0.1.0"
__all__ = ["__version__"]

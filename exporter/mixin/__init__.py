"""Dashboards, alert rules and Alertmanager routing generated from one settings object."""

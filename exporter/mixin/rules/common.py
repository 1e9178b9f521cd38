"""Names shared by rules, dashboards and runbooks, and the alert-rule constructor."""

from __future__ import annotations

from typing import Any

from exporter.collectors import SOURCES
from exporter.mixin.config import MixinConfig

__all__ = [
    "DATA_AGE",
    "FAILURES",
    "SOURCE_ACTIONS",
    "USERS",
    "alert",
    "by_source",
    "health_url",
    "users_peak",
    "worst_record",
]

# recording rules (their `by` also keeps cluster/job/instance, see MixinConfig.by)
USERS = "app_id:volcengine_rtc_online_users:max"
DATA_AGE = "source_app_id:volcengine_rtc_exporter_data_age_seconds:max"
FAILURES = "source_action_reason:volcengine_rtc_exporter_api_request_failures:rate5m"

# which vendor API actions each exporter source calls (failures are counted per action), from
# the exporter's source registry: a new source needs no edit here
SOURCE_ACTIONS: dict[str, tuple[str, ...]] = {cls.name: cls.actions for cls in SOURCES}


def by_source(cfg: MixinConfig, metric: str, fn: str, *by: str, matchers: str = "") -> str:
    """``sum by (<instance labels>, source, <by>)`` of ``fn`` (e.g. ``"rate(%s[5m])"``) over a
    per-action counter: each action's series gets the ``source`` label of the exporter source
    that calls it."""
    parts = []
    for source, actions in SOURCE_ACTIONS.items():
        action = f'action="{actions[0]}"' if len(actions) == 1 else f'action=~"{"|".join(actions)}"'
        series = fn % f"{metric}{cfg.sel(action, matchers)}"
        parts.append(f'label_replace({series}, "source", "{source}", "", "")')
    return f"sum by ({cfg.by('source', *by)}) (\n  " + "\n  or ".join(parts) + "\n)"


def health_url(cfg: MixinConfig) -> str:
    """The exporter health dashboard for the alert's job and instance."""
    uid = "rtc-exporter-health"
    return (
        f"{cfg.grafana_url}/d/{uid}/{uid}?var-job={{{{ $labels.job }}}}"
        "&var-instance={{ $labels.instance }}"
    )


def users_peak(cfg: MixinConfig) -> str:
    """The traffic gate's series: each app's peak online users over ``gate_window``."""
    return f"app_id:volcengine_rtc_online_users:max_over_time{cfg.gate_window}"


def worst_record(family: str) -> str:
    """The worst-segment recording rule of a live breakdown family."""
    return f"app_id:{family}:worst"


def alert(
    cfg: MixinConfig,
    name: str,
    expr: str,
    for_: str,
    severity: str,
    annotations: dict[str, str],
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An alerting rule; ``annotations`` needs summary, description and dashboard_url."""
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **(labels or {})},
        "annotations": {
            **annotations,
            "runbook_url": f"{cfg.docs_url}/runbooks.md#{name.lower()}",
        },
    }

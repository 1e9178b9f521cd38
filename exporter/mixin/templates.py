"""Go-template snippets for alert annotations (Prometheus expands them when the alert fires,
with ``query`` reading this Prometheus): the app's name, when the problem started, the worst
segment of the breakdown, and the cause of a blind spot. Backquoted raw strings keep PromQL's
double quotes readable in YAML."""

from __future__ import annotations

from collections.abc import Sequence

from exporter.mixin.config import MixinConfig

__all__ = ["app_name", "blind_cause", "matchers", "since", "vendor_detail", "worst_segment"]


def matchers(labels: Sequence[str]) -> tuple[str, str]:
    """(``a=%q, b=%q``, `` $labels.a $labels.b``): a printf format and its arguments."""
    fmt = ", ".join(f"{label}=%q" for label in labels)
    args = "".join(f" $labels.{label}" for label in labels)
    return fmt, args


def _query(cfg: MixinConfig, metric: str, labels: Sequence[str], extra: str = "") -> str:
    fmt, args = matchers(labels)
    inner = ", ".join(p for p in (cfg.selector, extra, fmt) if p)
    return f"printf `{metric}{{{inner}}}`{args} | query"


def app_name(cfg: MixinConfig) -> str:
    """The app's name from ``volcengine_rtc_app_info``, or its id when the name is unknown."""
    q = _query(cfg, "volcengine_rtc_app_info", ["app_id"])
    return (
        f"{{{{ with {q} }}}}{{{{ (index . 0).Labels.app_name }}}}"
        "{{ else }}{{ $labels.app_id }}{{ end }}"
    )


def since(alert: str, labels: Sequence[str]) -> str:
    """When the condition was first seen (the alert's activeAt, from ``ALERTS_FOR_STATE``)."""
    fmt, args = matchers(labels)
    q = f'printf `ALERTS_FOR_STATE{{alertname="{alert}", {fmt}}}`{args} | query'
    return (
        f"{{{{ with {q} }}}}{{{{ (index . 0).Value | humanizeTimestamp }}}}"
        "{{ else }}now{{ end }}"
    )


def worst_segment(record: str, labels: Sequence[str]) -> str:
    """`` Worst segment: os=android at 21%.`` when the breakdown shows one far worse than the
    app (the ``...:worst`` recording rule), else nothing."""
    fmt, args = matchers(labels)
    q = f"printf `{record}{{{fmt}}}`{args} | query"
    return (
        f"{{{{ with {q} }}}}{{{{ with index . 0 }}}} Worst segment: "
        "{{ .Labels.dimension }}={{ .Labels.segment }} at {{ .Value | humanizePercentage }}."
        "{{ end }}{{ end }}"
    )


def blind_cause(cfg: MixinConfig, failures_record: str) -> str:
    """Why the exporter has no fresh realtime quality data for the app, first match wins."""
    inst = "job=%q, instance=%q"
    ji = " $labels.job $labels.instance"
    up = f"printf `up{{{inst}}} == 0`{ji} | query"
    absent = f"printf `absent(up{{{inst}}})`{ji} | query"
    src = ", ".join(p for p in (cfg.selector, 'source="realtime_quality"', "app_id=%q", inst) if p)
    source_up = f"volcengine_rtc_exporter_source_up{{{src}}}"
    source_down = f"printf `{source_up} == 0` $labels.app_id{ji} | query"
    failing = f'sum by (reason) ({failures_record}{{source="realtime_quality", {inst}}}) > 0'
    reason = f"printf `topk(1, {failing})`{ji} | query"
    return (
        f"{{{{ if {up} }}}}the exporter {{{{ $labels.instance }}}} is not being scraped "
        "(RtcExporterDown)"
        f"{{{{ else if {absent} }}}}the exporter's scrape target has disappeared "
        "(RtcExporterAbsent)"
        f"{{{{ else if {source_down} }}}}refreshing realtime_quality fails"
        f"{{{{ with {reason} }}}} (reason: {{{{ (index . 0).Labels.reason }}}}){{{{ end }}}}"
        "{{ else }}the exporter refreshes fine but the vendor API returns no new data "
        "(a vendor data delay){{ end }}"
    )


def vendor_detail(cfg: MixinConfig, failures_record: str) -> str:
    """`` (reason: server), none since <time>; apps affected: 3 of 3 (Alpha, Beta, Gamma)``:
    why realtime quality calls fail, the last success, and which apps have no fresh data."""
    inst = "job=%q, instance=%q"
    ji = " $labels.job $labels.instance"
    failing = f'sum by (reason) ({failures_record}{{source="realtime_quality", {inst}}}) > 0'
    src = ", ".join(p for p in (cfg.selector, 'source="realtime_quality"', inst) if p)
    up = f"volcengine_rtc_exporter_source_up{{{src}}}"
    last = f"max(volcengine_rtc_exporter_source_last_success_timestamp_seconds{{{src}}})"
    info = ", ".join(p for p in (cfg.selector, inst) if p)
    names = f"topk(10, volcengine_rtc_app_info{{{info}}} and on (app_id) ({up} == 0))"

    def q(expr: str, args: str = ji) -> str:
        return f"printf `{expr}`{args} | query"

    first = "{{ (index . 0).Value }}"
    return (
        f"{{{{ with {q(f'topk(1, {failing})')} }}}} (reason: "
        "{{ (index . 0).Labels.reason }}){{ end }}"
        f"{{{{ with {q(last)} }}}}, none since {{{{ (index . 0).Value | humanizeTimestamp }}}}"
        "{{ end }}; apps affected: "
        f"{{{{ with {q(f'count({up} == 0)')} }}}}{first}{{{{ else }}}}0{{{{ end }}}} of "
        f"{{{{ with {q(f'count({up})')} }}}}{first}{{{{ end }}}}"
        f'{{{{ with {q(names, ji + ji)} | sortByLabel "app_name" }}}} ('
        "{{ range $i, $a := . }}{{ if $i }}, {{ end }}{{ $a.Labels.app_name }}{{ end }}"
        "{{ if ge (len .) 10 }}, ...{{ end }}){{ end }}"
    )

"""Scrape configurations generated from the same ``MixinConfig`` as the rules, so the job the
alerts watch (``exporter_job``) is the job Prometheus gives the exporter, by construction: the
Kubernetes ServiceMonitor sets it with a relabeling, the Compose stack's Prometheus names its
scrape job after it."""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig

__all__ = ["compose_prometheus", "service_monitor"]

SCRAPE_INTERVAL = "30s"
SCRAPE_TIMEOUT = "20s"  # below the interval


def service_monitor(cfg: MixinConfig) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "volc-rtc-exporter"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "volc-rtc-exporter"}},
            "endpoints": [
                {
                    "port": "http-metrics",
                    "interval": SCRAPE_INTERVAL,
                    "scrapeTimeout": SCRAPE_TIMEOUT,
                    # the job the rules watch (up{job=...}), whatever the Service is called
                    "relabelings": [
                        {
                            "action": "replace",
                            "targetLabel": "job",
                            "replacement": cfg.exporter_job,
                        }
                    ],
                }
            ],
        },
    }


def compose_prometheus(cfg: MixinConfig) -> dict[str, Any]:
    """Prometheus of the Compose stack: scrapes the exporter over TLS with basic auth. File
    names are relative to the config file's directory (/etc/prometheus in the container)."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": cfg.rule_interval},
        "rule_files": ["rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
        "scrape_configs": [
            {
                "job_name": cfg.exporter_job,
                "scrape_interval": SCRAPE_INTERVAL,
                "scrape_timeout": SCRAPE_TIMEOUT,
                "scheme": "https",
                "basic_auth": {"username": "prometheus", "password_file": "scrape-password"},
                "tls_config": {"ca_file": "tls/ca.crt", "server_name": "exporter"},
                "static_configs": [{"targets": ["exporter:9877"]}],
            }
        ],
    }

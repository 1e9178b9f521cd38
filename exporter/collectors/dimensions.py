"""Which ``Dimension`` values a distribution source sends, and what a refused one costs.

* A dimension the provider's page does not list for the action (BytePlus's
  ListQualityDistribution lists Country, OS and Access, not Province) is not sent by default;
  listed explicitly in ``sources.<source>.dimensions`` it is tried.
* A call refused by the vendor as a bad request (``reason="client"``, not a version refusal,
  which the client handles) costs that call only: it is counted
  (``points_skipped_total{reason="dimension_refused"}`` and ``api_request_failures_total``) and the
  refresh goes on. When another dimension of the same refresh answers, the refusal is the
  dimension's: it is dropped for this provider from then on (until a reload), logged once.
* When nothing of a refresh answered, the refusal is not the dimension's: the first error fails
  the refresh as before.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from exporter.errors import ApiClientError
from exporter.log import get_logger
from exporter.quotas import PROVIDERS, Provider
from exporter.versions import refuses_version

__all__ = ["API_DIMENSION", "DimensionPolicy", "DimensionRound"]

log = get_logger(__name__)
T = TypeVar("T")

# the ``dimension`` label -> the API's Dimension value (always sent capitalised)
API_DIMENSION = {"os": "OS", "network": "Access", "province": "Province", "country": "Country"}
REFUSED = "dimension_refused"


def provider_of(client: Any) -> Provider:
    """The client's provider table (Volcengine for clients that do not say)."""
    provider = getattr(client, "provider", None)
    return provider if isinstance(provider, Provider) else PROVIDERS["volcengine"]


@dataclass
class DimensionPolicy:
    """One source's dimensions: configured, minus undocumented (unless explicit), minus dropped."""

    source: str
    action: str
    provider: Provider
    configured: Sequence[str]
    explicit: bool  # the user listed the dimensions
    dropped: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        skipped = [d for d in self.configured if not self._documented(d)]
        if skipped and not self.explicit:
            log.info("dimension not documented by the provider for this action; not queried",
                     source=self.source, action=self.action, dimension=",".join(skipped),
                     hint=f"list it in sources.{self.source}.dimensions to try it")  # fmt: skip

    def _documented(self, dimension: str) -> bool:
        return self.provider.documents(self.action, API_DIMENSION[dimension])

    def active(self) -> list[str]:
        with self.lock:
            dropped = set(self.dropped)
        return [
            d
            for d in self.configured
            if d not in dropped and (self.explicit or self._documented(d))
        ]

    def drop(self, dimension: str, exc: ApiClientError) -> None:
        with self.lock:
            if dimension in self.dropped:
                return
            self.dropped.add(dimension)
        log.warning("dimension refused by the vendor; not queried again until a reload",
                    source=self.source, action=self.action, dimension=dimension,
                    error=str(exc))  # fmt: skip

    def round(self) -> DimensionRound:
        return DimensionRound(self)


@dataclass
class DimensionRound:
    """The calls of one refresh of one app."""

    policy: DimensionPolicy
    answered: bool = False
    pending: dict[str, ApiClientError] = field(default_factory=dict)
    first: ApiClientError | None = None
    refused: int = 0

    def call(self, dimension: str, fn: Callable[[], T]) -> T | None:
        """``fn()``; None when the vendor refused this call as a bad request."""
        if dimension in self.policy.dropped:
            return None  # dropped earlier in this refresh
        try:
            result = fn()
        except ApiClientError as exc:
            if refuses_version(exc):
                raise
            self.refused += 1
            self.first = self.first or exc
            if self.answered:
                self.policy.drop(dimension, exc)
            else:
                self.pending.setdefault(dimension, exc)
            return None
        self.answered = True
        for pending, error in self.pending.items():
            if pending != dimension:
                self.policy.drop(pending, error)
        self.pending.clear()
        return result

    def finish(self, skipped: Counter[str]) -> None:
        """Count the refused calls; fail the refresh when nothing answered."""
        if self.refused:
            skipped[REFUSED] += self.refused
        if self.first is not None and not self.answered:
            raise self.first

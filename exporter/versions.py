"""Which API ``Version`` the client sends per action, and the fall-back when one is refused.

Per action the order comes from the provider's table (``exporter.quotas.Provider``): the
configured ``version`` when set (and the action exists in it), then the versions the provider's
pages document, then the others the action exists in. A version is *refused* when the answer
says so: the documented gateway code ``InvalidActionOrVersion`` (CodeN 100008, HTTP 404; under
the 2020-12-01 wording it may come with HTTP 200), or any HTTP 404. The client then sends the
same request with the next version at once, and the version that answers is kept for that
action from then on; a refused version is not tried again (until a reload builds a new client).
Each switch is logged once. When every version is refused, the action keeps failing with the
first one only (one call per request, not one per version), logged once.

The two versions' answers have the same shape (volc-sdk-golang's v20201201 and v20231101 models
differ in integer widths and optional fields only), and ``exporter.client`` treats a non-200
status *or* ``ResponseMetadata.Error`` as a failure, which covers both versions' wording.
"""

from __future__ import annotations

import threading

from exporter.errors import ApiError
from exporter.log import get_logger
from exporter.quotas import Provider

__all__ = ["Versions", "refuses_version"]

log = get_logger(__name__)

_REFUSAL_CODES = {"InvalidActionOrVersion"}


def refuses_version(exc: ApiError) -> bool:
    """Whether a failed call says the action does not exist in the version sent."""
    return exc.code in _REFUSAL_CODES or exc.status == 404


class Versions:
    """Thread-safe per-action version choice for one client."""

    def __init__(self, provider: Provider, configured: str | None = None) -> None:
        self._provider = provider
        self._configured = configured
        self._lock = threading.Lock()
        self._refused: dict[str, set[str]] = {}
        self._logged: set[tuple[str, str]] = set()

    def order(self, action: str) -> tuple[str, ...]:
        """The versions to try for one request, best first (never empty)."""
        full = self._provider.version_order(action, self._configured)
        with self._lock:
            refused = self._refused.get(action, set())
        left = tuple(v for v in full if v not in refused)
        return left or full[:1]

    def refused(self, action: str, version: str, exc: ApiError, next_version: str | None) -> None:
        with self._lock:
            self._refused.setdefault(action, set()).add(version)
            first = (action, version) not in self._logged
            self._logged.add((action, version))
        if not first:
            return
        if next_version is not None:
            log.warning("API version refused; trying the next documented one", action=action,
                        version=version, next_version=next_version, error=str(exc))  # fmt: skip
        else:
            log.warning("every API version of this action is refused", action=action,
                        version=version, error=str(exc))  # fmt: skip

    def answered(self, action: str, version: str) -> None:
        """A version answered: log once when it is not the first choice."""
        full = self._provider.version_order(action, self._configured)
        if version == full[0]:
            return
        with self._lock:
            first = (action, "ok:" + version) not in self._logged
            self._logged.add((action, "ok:" + version))
        if first:
            log.info("using a fall-back API version", action=action, version=version)

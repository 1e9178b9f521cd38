"""How the active data scenarios, the product type and the audience segments shape a value.

A quality value is computed as a *badness* (failure share for success rates, the rate itself for
stall rates): web traffic is worse than native, a segment's badness is the app's times its
multiplier (:mod:`segments`), a scenario replaces the affected share of the traffic by its value,
and a partly filled bucket (``partial_bucket``) looks much worse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from exporter.simulator.data import SimApp
from exporter.simulator.scenarios import ActiveScenario
from exporter.simulator.segments import (
    SCENARIO_DIMENSION,
    Attributes,
    affected_fraction,
    multiplier,
)

__all__ = ["Effect", "Model", "PEER_PENALTY"]

# data scenario -> base indicators it replaces
SCENARIO_INDICATORS = {
    "stall_spike": ("stall_rate",),
    "join_drop": ("join_room_success_rate",),
    "first_frame_failure": ("first_frame_send_success_rate", "first_frame_recv_success_rate"),
    "network_delay": ("network_trans_delay",),
}
# data scenario -> ListCallDetail metric suffix -> factor, for affected users ("{m}" = media)
CALL_DETAIL_EFFECT = {
    "stall_spike": {"{m}_stall_duration": 12.0, "{m}_down_loss": 6.0, "{m}_up_loss": 6.0},
    "network_delay": {"{m}_down_delay": 6.0, "{m}_up_delay": 6.0},
}
# a peer that sends badly: what its receivers see, per metric
PEER_PENALTY = {
    "audio_stall_duration": 8.0,
    "video_stall_duration": 8.0,
    "audio_down_loss": 4.0,
    "video_down_loss": 4.0,
    "audio_down_delay": 2.5,
    "video_down_delay": 2.5,
    "video_recv_fps": 0.6,
    "video_recv_bitrate": 0.7,
}
WEB_BADNESS = (1.6, 0.2)  # web badness = native * a + b
PARTIAL_BADNESS = (2.0, 5.0)


@dataclass(frozen=True)
class Effect:
    """One active data scenario, as the value model needs it."""

    name: str
    app_id: str
    indicators: tuple[str, ...]
    media: frozenset[str]
    value: float
    product: str  # "" = both
    limits: dict[str, str]  # dimension -> segment
    since: float

    @classmethod
    def of(cls, s: ActiveScenario) -> Effect:
        limits = {
            SCENARIO_DIMENSION[k]: str(s.params[k]) for k in SCENARIO_DIMENSION if s.params.get(k)
        }
        return cls(
            s.name,
            str(s.params.get("app_id", "")),
            SCENARIO_INDICATORS.get(s.name, ()),
            frozenset(s.media()),
            float(s.params.get("value", 0.0)),
            str(s.params.get("product_type", "")),
            limits,
            s.since,
        )

    def hits(self, app_id: str, indicator: str, media: str, product: str, t: float) -> bool:
        return (
            self.app_id == app_id
            and indicator in self.indicators
            and (indicator == "join_room_success_rate" or media in self.media)
            and self.product in ("", product)
            and t >= self.since
        )

    def hits_user(self, app_id: str, attrs: Attributes, product: str, t: float) -> bool:
        return (
            self.app_id == app_id
            and self.product in ("", product)
            and attrs.matches(self.limits)
            and t >= self.since
        )


def _lower_is_better(indicator: str) -> bool:
    return indicator == "stall_rate"


def _clamp(v: float) -> float:
    return round(min(100.0, max(0.0, v)), 2)


class Model:
    """Values of one request: the active scenarios are a snapshot taken when it arrived."""

    def __init__(self, active: Mapping[str, ActiveScenario]) -> None:
        self.effects = [Effect.of(s) for s in active.values() if s.name in SCENARIO_INDICATORS]
        self.detail_effects = [e for e in self.effects if e.name in CALL_DETAIL_EFFECT]
        partial = active.get("partial_bucket")
        self.partial: tuple[str, float] | None = (
            (str(partial.params["app_id"]), float(partial.params["fill"])) if partial else None
        )
        crowd = active.get("crowded_rooms")
        self.crowd: tuple[str, int] | None = (
            (str(crowd.params["app_id"]), int(crowd.params["cap"])) if crowd else None
        )

    def room_cap(self, app_id: str) -> int | None:
        """``crowded_rooms``: the most calls one ListRoomInfo query lists for this app."""
        return self.crowd[1] if self.crowd and self.crowd[0] == app_id else None

    def partial_fill(self, app_id: str) -> float | None:
        """The fill factor when partial buckets are shown for this app, else None."""
        return self.partial[1] if self.partial and self.partial[0] == app_id else None

    def quality(
        self,
        app: SimApp,
        indicator: str,
        media: str,
        t: float,
        *,
        base: float | None = None,
        product: str = "native",
        selection: Mapping[str, Iterable[str]] | None = None,
        partial: bool = False,
    ) -> float:
        """Percent for ``indicator`` at bucket ``t``; ``base`` defaults to the live value."""
        v = app.quality(indicator, media, t) if base is None else base
        low = _lower_is_better(indicator)
        bad = v if low else 100.0 - v
        if product == "web":
            bad = bad * WEB_BADNESS[0] + WEB_BADNESS[1]
        for dim, segs in (selection or {}).items():
            bad *= multiplier(dim, segs)
        v = bad if low else 100.0 - bad
        for e in self.effects:
            if e.hits(app.app_id, indicator, media, product, t):
                f = affected_fraction(e.limits, selection)
                v = (1 - f) * v + f * e.value
        if partial:
            bad = v if low else 100.0 - v
            bad = bad * PARTIAL_BADNESS[0] + PARTIAL_BADNESS[1]
            v = bad if low else 100.0 - bad
        return _clamp(v)

    def client_factor(
        self, app: SimApp, metric: str, attrs: Attributes, product: str, t: float
    ) -> float:
        """Factor of a ListCallDetail metric of a user, from the scenarios that hit the user."""
        factor = 1.0
        for e in self.detail_effects:
            if not e.hits_user(app.app_id, attrs, product, t):
                continue
            for media in e.media:
                for pattern, f in CALL_DETAIL_EFFECT[e.name].items():
                    if metric == pattern.format(m=media):
                        factor *= f
        return factor

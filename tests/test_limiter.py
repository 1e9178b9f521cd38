"""The per-action limiter in virtual time: spacing, windows, penalties, shards, the wire."""

from __future__ import annotations

import threading

import pytest

from exporter.limiter import ActionLimiter, Cancelled, Limiters, Quota, Waiter
from tests.conftest import VirtualClock, VirtualWaiter


def limiter(
    quota: Quota, *, headroom: float = 1.0, shards: int = 1
) -> tuple[ActionLimiter, VirtualClock]:
    clock = VirtualClock(1000.0)
    lim = ActionLimiter("ListQuality", quota, headroom=headroom, shards=shards, clock=clock)
    WAITERS[id(lim)] = VirtualWaiter(clock)
    return lim, clock


WAITERS: dict[int, Waiter] = {}


def send(lim: ActionLimiter, n: int) -> list[float]:
    times = []
    for _ in range(n):
        with lim.slot(WAITERS[id(lim)]) as slot:
            pass
        assert slot.sent_at is not None
        times.append(slot.sent_at)
    return times


def max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


def test_sends_are_spaced_at_the_rate_with_headroom() -> None:
    lim, _ = limiter(Quota(per_second=2), headroom=0.9)
    times = send(lim, 10)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g == pytest.approx(1 / 1.8) for g in gaps)
    assert max_in_window(times, 1.0) == 2


def test_minute_and_day_windows_are_never_exceeded_and_spread_evenly() -> None:
    lim, clock = limiter(Quota(per_second=2, per_minute=10, per_day=60), headroom=0.9)
    start = clock.t
    times = send(lim, 54)
    assert max_in_window(times, 60.0) <= 10
    assert max_in_window(times, 86400.0) <= 60
    # the daily cap is spread over the day, not used up by morning
    assert times[-1] - start >= 0.95 * 53 * 86400 / 54
    assert lim.spacing == pytest.approx(86400 / 54)


def test_penalise_holds_every_caller_of_the_action() -> None:
    lim, clock = limiter(Quota(per_second=10))
    send(lim, 1)
    lim.penalise(5.0)
    held = clock.t
    (t,) = send(lim, 1)
    assert t >= held + 5.0


def test_shards_split_the_quota() -> None:
    lim, _ = limiter(Quota(per_second=10, per_day=10_000), shards=4)
    assert lim.caps == {"second": 2, "day": 2500}
    assert lim.rate == pytest.approx(2500 / 86400)  # the day's share is the tighter window
    lim, _ = limiter(Quota(per_second=10), shards=4)
    assert lim.rate == pytest.approx(10 / 4)
    times = send(lim, 20)
    assert max_in_window(times, 1.0) <= 3  # 2.5/s spacing: at most 3 in any closed second


def test_a_delayed_send_does_not_bunch_with_the_next_one() -> None:
    """The slot is granted at t but the request leaves later (GIL, rendering): the next slot
    counts from when it really went out, so the wire never sees two sends closer than the
    spacing (three in 0.92 s would be a 429 from a sliding one-second window)."""
    lim, clock = limiter(Quota(per_second=2), headroom=0.9)
    wire: list[float] = []
    for delay in (0.0, 0.4, 0.0, 0.3, 0.0):
        with lim.slot(WAITERS[id(lim)]) as slot:
            clock.advance(delay)  # the request is written only now
            slot.trace("http11.send_request_body.complete", None)
            wire.append(clock.t)
    gaps = [b - a for a, b in zip(wire, wire[1:], strict=False)]
    assert min(gaps) >= 1 / 1.8 - 1e-9
    assert max_in_window(wire, 1.0) <= 2


def test_remaining_counts_the_trailing_window() -> None:
    lim, clock = limiter(Quota(per_second=2, per_minute=10, per_day=600))
    assert lim.remaining("minute") == 10 and lim.remaining("day") == 600
    send(lim, 3)  # 144 s apart: the day window is the tighter one
    assert lim.remaining("minute") == 9 and lim.remaining("day") == 597
    clock.advance(61)
    assert lim.remaining("minute") == 10 and lim.remaining("day") == 597
    lim, clock = limiter(Quota(per_second=2, per_minute=10))
    send(lim, 3)  # 6 s apart
    assert lim.remaining("minute") == 7
    plain, _ = limiter(Quota(per_second=2))
    assert plain.remaining("minute") == 120 and plain.remaining("day") is None


def test_cancel_interrupts_a_wait() -> None:
    clock = VirtualClock(0.0)
    waiter = Waiter()
    lim = ActionLimiter("A", Quota(per_day=1), clock=clock)
    WAITERS[id(lim)] = waiter
    send(lim, 1)  # the next slot is a day away
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            send(lim, 1)
        except Cancelled as exc:
            errors.append(exc)

    t = threading.Thread(target=blocked)
    t.start()
    waiter.cancel()
    t.join(5)
    assert not t.is_alive() and errors


def test_fairness_across_apps_each_call_waits_its_turn() -> None:
    """Calls for many apps share the action's slots in arrival order within a cycle: with
    one action paced at 2/s, 100 sequential calls finish in ~50 s, evenly."""
    clock = VirtualClock(0.0)
    lims = Limiters({}, Quota(per_second=2), headroom=1.0, clock=clock)
    lim = lims["ListRealTimeQuality"]
    WAITERS[id(lim)] = VirtualWaiter(clock)
    times = send(lim, 100)
    assert times[-1] - times[0] == pytest.approx(99 * 0.5)
    assert lims.quota("Other") == Quota(per_second=2)

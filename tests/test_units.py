from __future__ import annotations

from decimal import Decimal

import pytest

from exporter.units import (
    UNITS,
    Kind,
    OutOfRange,
    UnknownUnit,
    conversion_help,
    convert,
    format_threshold,
    parse_indicator_name,
)


@pytest.mark.parametrize(
    ("name", "base", "media", "threshold"),
    [
        ("5s_join_room_success_rate", "join_room_success_rate", "", "5"),
        ("join_room_success_rate", "join_room_success_rate", "", None),
        ("80ms_audio_stall_rate", "stall_rate", "audio", "0.08"),
        ("500ms_video_stall_rate", "stall_rate", "video", "0.5"),
        ("audio_80ms_stall_rate", "stall_rate", "audio", "0.08"),
        ("audio_stall_rate", "stall_rate", "audio", None),
        ("video_stall_rate", "stall_rate", "video", None),
        ("stall_rate", "stall_rate", "", None),
        ("audio_first_frame_send_success_rate", "first_frame_send_success_rate", "audio", None),
        ("video_first_frame_send_success_rate", "first_frame_send_success_rate", "video", None),
        ("audio_first_frame_recv_success_rate", "first_frame_recv_success_rate", "audio", None),
        ("video_first_frame_recv_success_rate", "first_frame_recv_success_rate", "video", None),
        ("400ms_audio_network_trans_delay", "network_trans_delay", "audio", "0.4"),
        ("400ms_video_network_trans_delay", "network_trans_delay", "video", "0.4"),
        ("video_400ms_network_trans_delay", "network_trans_delay", "video", "0.4"),
        ("400ms_network_trans_delay", "network_trans_delay", "", "0.4"),
        ("audio_network_trans_delay", "network_trans_delay", "audio", None),
        ("1000ms_audio_stall_rate", "stall_rate", "audio", "1"),
        ("2.5s_join_room_success_rate", "join_room_success_rate", "", "2.5"),
    ],
)
def test_name_grammar(name: str, base: str, media: str, threshold: str | None) -> None:
    parsed = parse_indicator_name(name)
    assert parsed is not None
    assert parsed.base == base
    assert parsed.media == media
    got = format_threshold(parsed.threshold) if parsed.threshold is not None else None
    assert got == threshold


@pytest.mark.parametrize("name", ["", "80ms_audio_5s_stall_rate", "Stall-Rate", "80xs_stall_rate"])
def test_name_grammar_rejects(name: str) -> None:
    parsed = parse_indicator_name(name)
    assert parsed is None or parsed.base != "stall_rate"


def test_threshold_formatting() -> None:
    assert format_threshold(Decimal("80") / 1000) == "0.08"
    assert format_threshold(Decimal("5")) == "5"
    assert format_threshold(Decimal("100")) == "100"


@pytest.mark.parametrize(
    ("value", "unit", "kind", "expected"),
    [
        (99.5, "%", Kind.RATIO, 0.995),
        (98.81, "%", Kind.RATIO, 0.9881),
        (250.0, "ms", Kind.SECONDS, 0.25),
        (3.0, "s", Kind.SECONDS, 3.0),
        (7.5, "min", Kind.SECONDS, 450.0),
        (2.0, "分钟", Kind.SECONDS, 120.0),
        (48.0, "Kbps", Kind.BYTES_PER_SECOND, 6000.0),
        (48.0, "kbps", Kind.BYTES_PER_SECOND, 6000.0),
        (8000.0, "bps", Kind.BYTES_PER_SECOND, 1000.0),
        (30.0, "fps", Kind.FRAMES_PER_SECOND, 30.0),
        (12.0, "", Kind.PLAIN, 12.0),
        (12.0, "个", Kind.PLAIN, 12.0),
        (12.0, "人", Kind.PLAIN, 12.0),
        (12.0, "次", Kind.PLAIN, 12.0),
        (12.0, "count", Kind.PLAIN, 12.0),
        (12.0, "——", Kind.PLAIN, 12.0),
        # aliases that mean the same unit: full width, Chinese, case variants
        (99.5, "％", Kind.RATIO, 0.995),
        (250.0, "毫秒", Kind.SECONDS, 0.25),
        (3.0, "秒", Kind.SECONDS, 3.0),
        (30.0, "FPS", Kind.FRAMES_PER_SECOND, 30.0),
        (48.0, "kb/s", Kind.BYTES_PER_SECOND, 6000.0),
        (48.0, "Kb/s", Kind.BYTES_PER_SECOND, 6000.0),
        (48.0, " Kbps ", Kind.BYTES_PER_SECOND, 6000.0),  # surrounding white space
    ],
)
def test_every_unit_conversion(value: float, unit: str, kind: Kind, expected: float) -> None:
    assert convert(value, unit, "", kind) == expected


def test_empty_unit_falls_back_to_seed_unit() -> None:
    assert convert(7.5, "", "min", Kind.SECONDS) == 450.0
    assert convert(99.0, "", "%", Kind.RATIO) == 0.99


@pytest.mark.parametrize(
    ("unit", "kind"),
    [
        ("Mbps", Kind.BYTES_PER_SECOND),
        ("KBps", Kind.BYTES_PER_SECOND),  # kilobytes: 8x off if read as kilobits
        ("KB/s", Kind.BYTES_PER_SECOND),
        ("KBPS", Kind.BYTES_PER_SECOND),
        ("MS", Kind.SECONDS),
        ("Fps ", Kind.FRAMES_PER_SECOND),
        ("ms", Kind.RATIO),
        ("%", Kind.SECONDS),
        ("h", Kind.SECONDS),
    ],
)
def test_unknown_or_mismatched_unit_is_refused(unit: str, kind: Kind) -> None:
    with pytest.raises(UnknownUnit) as e:
        convert(1.0, unit, "", kind)
    assert e.value.unit == unit


@pytest.mark.parametrize(
    ("value", "unit", "kind"),
    [
        (float("nan"), "%", Kind.RATIO),
        (float("inf"), "ms", Kind.SECONDS),
        (-1.0, "%", Kind.RATIO),
        (100.5, "%", Kind.RATIO),  # a ratio over 1 after conversion
        (1e308, "%", Kind.RATIO),
        (-5.0, "", Kind.PLAIN),
        (1e300, "Kbps", Kind.BYTES_PER_SECOND),
    ],
)
def test_values_outside_their_kinds_range_are_refused(value: float, unit: str, kind: Kind) -> None:
    with pytest.raises(OutOfRange):
        convert(value, unit, "", kind)


def test_help_wording_comes_from_the_unit_table() -> None:
    assert conversion_help(Kind.RATIO, "%") == UNITS["%"].wording == "percent / 100"
    assert conversion_help(Kind.BYTES_PER_SECOND, "Kbps") == UNITS["Kbps"].wording
    assert conversion_help(Kind.SECONDS, "min") == "minutes x 60"
    assert "x 125" in conversion_help(Kind.BYTES_PER_SECOND)


def test_every_spelling_in_the_table_is_exact() -> None:
    # no case folding anywhere: each accepted spelling is listed as such
    for spelling, unit in UNITS.items():
        assert convert(1.0, spelling or "", "", unit.kind) == float(f"{unit.factor:.12g}")

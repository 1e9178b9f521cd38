"""Prometheus exporter for Volcengine / BytePlus RTC data APIs."""

from functools import cache
from pathlib import Path

__version__ = "0.2.0"


@cache
def revision() -> str:
    """The source revision, written to ``exporter/REVISION`` by ``make install`` or the image
    build (``--build-arg REVISION=...``); "unknown" when neither did. Read on first use, not at
    import."""
    try:
        text = Path(__file__).with_name("REVISION").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return text[:40] if text.isalnum() else "unknown"


__all__ = ["__version__", "revision"]

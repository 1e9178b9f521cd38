"""The sources, one module per vendor API area, found and registered on import.

Every module of this package that defines a source decorates it with ``@register``; importing
the package imports them all, so adding a source needs no edit here. ``SOURCES`` is the one
list every other part of the exporter reads (settings, telemetry, docs, planner, landing page).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from exporter.collectors.base import Source, registered

__all__ = ["SOURCES", "actions", "all_specs", "source_class"]

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

SOURCES: tuple[type[Source[Any]], ...] = tuple(registered())


def source_class(name: str) -> type[Source[Any]]:
    for cls in SOURCES:
        if cls.name == name:
            return cls
    raise KeyError(name)


def actions() -> list[str]:
    """Every API action some source calls, in source order."""
    return list(dict.fromkeys(a for cls in SOURCES for a in cls.actions))


def all_specs() -> list[tuple[str, Any]]:
    """(source name, spec) for every vendor family, in documentation order."""
    return [(cls.name, spec) for cls in SOURCES for spec in cls.specs]

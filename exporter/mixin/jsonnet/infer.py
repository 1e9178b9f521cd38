"""Infer the template of the rendered mixin from the Python generator itself.

1. Render with the defaults: the template's literal JSON.
2. Per value knob (numbers, durations, text): render with two probe values; every string that
   changed gets holes (``align``), every number a reference. A knob that changes the structure
   (a list's length, a key) is an error: give it a facet kind instead.
3. Per facet knob (choices, flags, optional strings) and alternative: render with it; every node
   that differs becomes ``if knob == value`` over the two templates, the alternative's inferred
   like step 2 in its own world.
4. Per-app overrides: the rules that split when an app overrides the traffic gate become
   ``PerApp`` rules whose app matcher is one more (pseudo) facet.

The Python generator stays the only source of every number and string: nothing here knows what
a rule or a panel says.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.jsonnet.align import Hole, align, number_transform
from exporter.mixin.jsonnet.ir import MATCHER, Arr, Cond, Lit, Node, Num, Obj, PerApp, Ref, Str
from exporter.mixin.jsonnet.knobs import Knob, config_with, knobs

__all__ = ["InferenceError", "Render", "Template", "infer", "render_parts"]

Path = tuple[Any, ...]
Values = dict[tuple[str, ...], Any]
Render = Callable[[Values, frozenset[str]], dict[str, Any]]
PARTS = frozenset({"rules", "dashboards"})
OVERRIDE_GATE = 12345.0  # an override's traffic gate: differs from every default and probe


class InferenceError(ValueError):
    """The generator's output depends on a knob in a way the template cannot express."""


def render_parts(cfg: MixinConfig, parts: frozenset[str] = PARTS) -> dict[str, Any]:
    from exporter.mixin.dashboards import build_dashboards
    from exporter.mixin.rules import build_rules

    out: dict[str, Any] = {}
    if "rules" in parts:
        out["rules"] = build_rules(cfg)
    if "dashboards" in parts:
        out["dashboards"] = build_dashboards(cfg)
    return out


def _render(values: Values, parts: frozenset[str]) -> dict[str, Any]:
    return render_parts(config_with(values), parts)


def changes(a: Any, b: Any, path: Path = ()) -> Iterator[tuple[Path, bool]]:
    """Paths where ``b`` differs from ``a``: (path, True) where the structure differs."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            yield path, True
            return
        for k in a:
            yield from changes(a[k], b[k], (*path, k))
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield path, True
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from changes(x, y, (*path, i))
    elif type(a) is not type(b) and not {type(a), type(b)} <= {int, float}:
        yield path, True
    elif a != b:
        yield path, False


def get(tree: Any, path: Path) -> Any:
    for part in path:
        tree = tree[part]
    return tree


@dataclass
class Template:
    tree: Any
    holes: dict[Path, list[Hole]] = field(default_factory=dict)
    nums: dict[Path, Ref] = field(default_factory=dict)
    decisions: dict[Path, Callable[[], Node]] = field(default_factory=dict)
    per_app: dict[Path, str] = field(default_factory=dict)
    _prefixes: set[Path] | None = None

    def node(self, path: Path = (), skip_cond: bool = False) -> Node:
        value = get(self.tree, path)
        if not skip_cond and path in self.decisions:
            return self.decisions[path]()
        if not self._templated(path):
            return Lit(value)
        if isinstance(value, dict):
            return Obj(tuple((k, self.node((*path, k))) for k in value))
        if isinstance(value, list):
            return Arr(tuple(self._item((*path, i)) for i in range(len(value))))
        if isinstance(value, str) and path in self.holes:
            return Str(_parts(value, self.holes[path]))
        return Num(self.nums[path]) if path in self.nums else Lit(value)

    def _item(self, path: Path) -> Node:
        name = self.per_app.get(path)
        return PerApp(name, self.node(path)) if name else self.node(path)

    def _templated(self, path: Path) -> bool:
        """Whether anything at or under ``path`` is templated (prefixes computed once, when
        the inference is done and the nodes are built)."""
        if self._prefixes is None:
            self._prefixes = {
                p[:n]
                for table in (self.holes, self.nums, self.decisions, self.per_app)
                for p in table
                for n in range(len(p) + 1)
            }
        return path in self._prefixes


def _parts(text: str, holes: list[Hole]) -> tuple[str | Ref, ...]:
    out: list[str | Ref] = []
    pos = 0
    for h in sorted(holes, key=lambda h: h.start):
        if h.start < pos:
            raise InferenceError(f"knobs overlap in {text!r}")
        if h.start > pos:
            out.append(text[pos : h.start])
        out.append(Ref(tuple(h.knob.split("\x1f")), h.transform))
        pos = h.end
    if pos < len(text):
        out.append(text[pos:])
    return tuple(out)


def _parts_of(within: list[Path]) -> frozenset[str]:
    return frozenset(p[0] for p in within) if all(within) else PARTS


def substitute(
    render: Render, values: Values, tpl: Template, value_knobs: list[Knob], within: list[Path]
) -> None:
    """Step 2: holes and references of every value knob, in ``tpl`` (rendered with
    ``values``), only under the paths ``within`` (``[()]``: everywhere)."""
    parts = _parts_of(within)
    for knob in value_knobs:
        base = values.get(knob.path, knob.default)
        probes = knob.probes(base)
        trees = [render({**values, knob.path: p}, parts) for p in probes]
        changed: dict[Path, None] = {}
        for tree in trees:
            for path, structural in changes(tpl.tree, tree):
                if not any(path[: len(w)] == w for w in within):
                    continue
                if structural:
                    raise InferenceError(f"{knob.name} changes the structure at {path}")
                changed[path] = None
        for path in changed:
            _leaf(knob, tpl, path, [base, *probes], [get(t, path) for t in (tpl.tree, *trees)])


def _leaf(knob: Knob, tpl: Template, path: Path, values: list[Any], seen: list[Any]) -> None:
    if isinstance(seen[0], str):
        holes = align("\x1f".join(knob.path), knob.kind, seen, values)
        if holes is None:
            raise InferenceError(f"{knob.name}: no format explains {seen} at {path}")
        tpl.holes.setdefault(path, []).extend(holes)
        return
    transform = number_transform(knob.kind, seen, values)
    if transform is None or path in tpl.nums:
        raise InferenceError(f"{knob.name}: the number at {path} is not the knob's value")
    tpl.nums[path] = Ref(knob.path, transform)


class _Matcher(Knob):
    """The app matcher of a per-app rule's default variant (``app_id!~"a|b"``): rendered by
    letting one app override the traffic gate (``_with_override``)."""

    def alternatives(self) -> list[Any]:
        return ['app_id!~"zqa"']

    def probes(self, base: Any) -> list[Any]:
        return ['app_id!~"zqb"', 'app_id!~"zqcc"']


MATCHER_KNOB = _Matcher(MATCHER, "optional", "")


def rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    """What a rule's per-app copies share: the alert's name, or the recorded name and the
    rule's own labels (several rules may record one name for different label sets)."""
    if "alert" in rule:
        return ("alert", rule["alert"])
    return ("record", rule["record"], tuple(sorted(rule.get("labels", {}).items())))


def _probe_override(app_id: str) -> dict[str, Any]:
    """An override that changes the traffic gate and every threshold (a little), so every rule
    that has per-app copies gets them."""
    from exporter.mixin.config import Thresholds

    defaults = Thresholds().model_dump()
    thresholds = {k: v * 0.99 for k, v in defaults.items() if isinstance(v, float) and 0 < v < 1}
    return {"app_id": app_id, "min_online_users": OVERRIDE_GATE, "thresholds": thresholds}


def _with_override(values: Values, parts: frozenset[str]) -> dict[str, Any]:
    """Rendered with one app overriding the gate and thresholds; each rule's per-app copies
    dropped (only the default variant, with its matcher, stays where the rule was)."""
    values = dict(values)
    m = re.fullmatch(r'app_id!~"(.*)"', values.pop(MATCHER))
    assert m, "the matcher's probes are app_id!~ matchers"
    cfg = config_with(values, overrides=[_probe_override(m[1])])
    tree = render_parts(cfg, parts | {"rules"})
    for group in tree["rules"]["groups"]:
        seen: set[tuple[Any, ...]] = set()
        kept = []
        for rule in group["rules"]:
            if rule_key(rule) in seen:
                continue
            seen.add(rule_key(rule))
            kept.append(rule)
        group["rules"] = kept
    return {k: v for k, v in tree.items() if k in parts}


class Inference:
    """Worlds (facet values) and their templates, with every render cached."""

    def __init__(self) -> None:
        self.every = knobs()
        self.value_knobs = [k for k in self.every if not k.facet]
        self.facets = [k for k in self.every if k.facet] + [MATCHER_KNOB]
        self._renders: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.worlds: dict[frozenset[tuple[tuple[str, ...], Any]], Template] = {}

    def render(self, values: Values, parts: frozenset[str] = PARTS) -> dict[str, Any]:
        key = (tuple(sorted(values.items(), key=repr)), parts)
        if key not in self._renders:
            if MATCHER in values:
                self._renders[key] = _with_override(values, parts)
            else:
                self._renders[key] = render_parts(config_with(values), parts)
        return self._renders[key]  # never changed: templates only read their tree

    def world(self, values: Values, within: list[Path]) -> Template:
        """The template in the world where the facet knobs hold ``values``, under ``within``."""
        tpl = Template(self.render(values, _parts_of(within)))
        mine = [k for k in self.facets if k.kind == "optional" and values.get(k.path)]
        substitute(self.render, values, tpl, self.value_knobs + mine, within)
        return tpl

    def facet_nodes(self, base: Template) -> dict[Path, list[Knob]]:
        """Each node that some facet changes (the outermost ones), with the facets that do."""
        touched: dict[Path, set[tuple[str, ...]]] = {}
        for knob in self.facets:
            for alt in knob.alternatives():
                for path, _ in changes(base.tree, self.render({knob.path: alt})):
                    touched.setdefault(path, set()).add(knob.path)
        nodes = {p for p in touched if not any(q != p and p[: len(q)] == q for q in touched)}
        out: dict[Path, list[Knob]] = {}
        for node in sorted(nodes, key=repr):
            paths = set().union(*(k for p, k in touched.items() if p[: len(node)] == node))
            out[node] = [k for k in self.facets if k.path in paths]
        return out


def _combos(facets: list[Knob]) -> list[Values]:
    out: list[Values] = [{}]
    for knob in facets:
        out = [{**v, knob.path: alt} for v in out for alt in [knob.default, *knob.alternatives()]]
    return [{p: v for p, v in combo.items() if v != _default(facets, p)} for combo in out]


def _default(facets: list[Knob], path: tuple[str, ...]) -> Any:
    return next(k.default for k in facets if k.path == path)


def decide(inf: Inference, base: Template, path: Path, facets: list[Knob], got: Values) -> Node:
    """``if`` over the facets that change ``path``: the world of each combination."""
    if not facets:
        key = frozenset(got.items())
        return (inf.worlds[key] if key else base).node(path, skip_cond=True)
    knob, rest = facets[0], facets[1:]
    out = decide(inf, base, path, rest, got)
    for alt in knob.alternatives():
        branch = decide(inf, base, path, rest, {**got, knob.path: alt})
        if branch == out:
            continue  # this facet does not change this node where the others stand
        out = (
            Cond(knob.path, "", out, branch)
            if knob.kind == "optional"
            else Cond(knob.path, alt, branch, out)
        )
    return out


def infer() -> Template:
    """The template of ``render_parts`` for every configuration (``.node()``: its tree)."""
    inf = Inference()
    base = inf.world({}, [()])
    nodes = inf.facet_nodes(base)
    needed: dict[frozenset[tuple[tuple[str, ...], Any]], list[Path]] = {}
    for node, facets in nodes.items():
        for combo in _combos(facets):
            if combo:
                needed.setdefault(frozenset(combo.items()), []).append(node)
    for key, paths in needed.items():
        inf.worlds[key] = inf.world(dict(key), paths)
    for node, facets in nodes.items():
        base.decisions[node] = functools.partial(decide, inf, base, node, facets, {})
    _mark_per_app(base)
    return base


def _mark_per_app(tpl: Template) -> None:
    """The rules that get per-app copies when an app overrides them."""
    cfg = config_with({}, overrides=[_probe_override("zqa")])
    full = render_parts(cfg, frozenset({"rules"}))["rules"]["groups"]
    for gi, group in enumerate(full):
        keys = [rule_key(r) for r in group["rules"]]
        split = {k for k in keys if keys.count(k) > 1}
        for ri, rule in enumerate(tpl.tree["rules"]["groups"][gi]["rules"]):
            if rule_key(rule) in split:
                name = rule.get("alert") or rule["record"].replace(":", "_")
                tpl.per_app[("rules", "groups", gi, "rules", ri)] = f"{name}_{gi}_{ri}"

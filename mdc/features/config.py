"""Which features to compute: seed item 10's list format, from TOML or YAML, checked strictly.

```yaml
features:
  - name: rolling_vwap
    type: VWAP
    windows: [5m, 15m, 1h]
  - name: order_imbalance
    type: OrderImbalance
    depth_levels: 5
```
TOML: the same entries as `[[features]]` tables. Types: VWAP, OrderFlow (aggressor_side),
OrderImbalance (depth_levels), SpreadStatistics (percentiles), Microprice, OrderFlowImbalance,
RealizedVolatility; every windowed type takes `windows` (default 5m, 15m, 1h).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from mdc.configfile import read_config_text
from mdc.features.base import UNITS_NS, FeatureName, PointExtractor, WindowedExtractor
from mdc.features.errors import FeatureConfigError
from mdc.features.flow import TradeFlow
from mdc.features.imbalance import OrderImbalance
from mdc.features.microprice import Microprice
from mdc.features.ofi import OrderFlowImbalance
from mdc.features.rv import RealizedVolatility
from mdc.features.spread import SpreadStatistics
from mdc.features.vwap import Vwap

DEFAULT_WINDOWS = ("5m", "15m", "1h")
_DURATION = re.compile(r"(\d+)([smhd])")


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of the list, validated; `extractor()` builds the object that computes it."""

    name: str
    type: str
    windows_ns: tuple[int, ...] = ()
    depth_levels: int = 5
    percentiles: tuple[Decimal, ...] = (Decimal(50), Decimal(90), Decimal(99))
    aggressor_side: bool = True

    @property
    def windowed(self) -> bool:
        return "windows" in _KINDS[self.type][0]

    def extractor(self) -> WindowedExtractor | PointExtractor:
        return _KINDS[self.type][1](self)


_KINDS: dict[str, tuple[frozenset[str], Callable[[FeatureSpec], Any]]] = {
    "VWAP": (frozenset({"windows"}), lambda s: Vwap(s.windows_ns)),
    "OrderFlow": (
        frozenset({"windows", "aggressor_side"}),
        lambda s: TradeFlow(s.windows_ns, s.aggressor_side),
    ),
    "OrderImbalance": (frozenset({"depth_levels"}), lambda s: OrderImbalance(s.depth_levels)),
    "SpreadStatistics": (
        frozenset({"windows", "percentiles"}),
        lambda s: SpreadStatistics(s.windows_ns, s.percentiles),
    ),
    "Microprice": (frozenset(), lambda s: Microprice()),
    "OrderFlowImbalance": (frozenset({"windows"}), lambda s: OrderFlowImbalance(s.windows_ns)),
    "RealizedVolatility": (frozenset({"windows"}), lambda s: RealizedVolatility(s.windows_ns)),
}

_DEFAULT_ENTRIES: tuple[dict[str, Any], ...] = (
    {"name": "rolling_vwap", "type": "VWAP", "windows": list(DEFAULT_WINDOWS)},
    {"name": "order_imbalance", "type": "OrderImbalance", "depth_levels": 5},
    {"name": "spread_stats", "type": "SpreadStatistics", "percentiles": [50, 90, 99]},
    {"name": "trade_flow", "type": "OrderFlow", "aggressor_side": True},
    {"name": "microprice", "type": "Microprice"},
    {"name": "ofi", "type": "OrderFlowImbalance"},
    {"name": "rv", "type": "RealizedVolatility"},
)


@dataclass(frozen=True)
class FeatureConfig:
    specs: tuple[FeatureSpec, ...]
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        named: list[FeatureName] = []
        for spec in self.specs:
            named += _names_of(spec)
        seen: set[str] = set()
        for n in named:
            if n.name in seen:
                raise FeatureConfigError(f"features: feature {n.name!r} is configured twice")
            seen.add(n.name)
        object.__setattr__(self, "names", tuple(n.name for n in sorted(named, key=_order)))

    @classmethod
    def default(cls) -> FeatureConfig:
        """Seed item 10's list plus microprice, ofi and rv: the 51 reference features."""
        return cls.from_entries(_DEFAULT_ENTRIES)

    @classmethod
    def from_entries(cls, entries: object) -> FeatureConfig:
        if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
            raise FeatureConfigError("features: expected a non-empty list of feature entries")
        return cls(tuple(_parse_entry(i, entry) for i, entry in enumerate(entries)))

    def windowed(self) -> list[WindowedExtractor]:
        return [s.extractor() for s in self.specs if s.windowed]  # type: ignore[misc]

    def points(self) -> list[PointExtractor]:
        return [s.extractor() for s in self.specs if not s.windowed]  # type: ignore[misc]

    def book_depth(self) -> int:
        """Levels per side the book features need (order imbalance depth, at least 1)."""
        return max([s.depth_levels for s in self.specs if s.type == "OrderImbalance"] or [1])


def load_feature_config(path: str | Path) -> FeatureConfig:
    """A TOML (`[[features]]` tables) or YAML (`features:` list) file; bad -> FeatureConfigError."""
    path = Path(path)
    text = read_config_text(path, "feature config", FeatureConfigError)
    document = _parse_document(path, text)
    if not isinstance(document, Mapping) or "features" not in document:
        raise FeatureConfigError(f"{path}: missing top-level key 'features'")
    extra = sorted(set(document) - {"features"})
    if extra:
        raise FeatureConfigError(f"{path}: unknown top-level key {extra[0]!r}")
    return FeatureConfig.from_entries(document["features"])


def _parse_document(path: Path, text: str) -> object:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FeatureConfigError(f"{path}: not valid TOML: {exc}") from exc
    if suffix in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise FeatureConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from exc
    raise FeatureConfigError(f"{path}: feature config must end in .toml, .yaml or .yml")


def parse_duration_ns(text: object, where: str = "duration") -> int:
    """'5m' -> 300e9; whole seconds, minutes, hours or days ('30s', '15m', '1h', '1d')."""
    match = _DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise FeatureConfigError(
            f"{where}: bad duration {text!r}; use a positive whole number with s, m, h or d "
            "(e.g. 30s, 5m, 1h)"
        )
    return int(match.group(1)) * UNITS_NS[match.group(2)]


def _parse_entry(index: int, entry: object) -> FeatureSpec:
    where = f"features[{index}]"
    if not isinstance(entry, Mapping):
        raise FeatureConfigError(f"{where}: expected a table with 'name' and 'type'")
    for key in ("name", "type"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise FeatureConfigError(f"{where}.{key}: required, a non-empty string")
    where = f"{where} ({entry['name']})"
    kind = entry["type"]
    if kind not in _KINDS:
        raise FeatureConfigError(
            f"{where}.type: unknown feature type {kind!r}; valid: {', '.join(_KINDS)}"
        )
    allowed = _KINDS[kind][0]
    for key in entry:
        if key not in allowed | {"name", "type"}:
            valid = ", ".join(sorted(allowed | {"name", "type"}))
            raise FeatureConfigError(f"{where}: unknown key {key!r} for {kind}; valid: {valid}")
    params: dict[str, Any] = {}
    if "windows" in allowed:
        params["windows_ns"] = _windows(entry.get("windows", list(DEFAULT_WINDOWS)), where)
    if "depth_levels" in entry:
        params["depth_levels"] = _positive_int(entry["depth_levels"], f"{where}.depth_levels")
    if "percentiles" in entry:
        params["percentiles"] = _percentiles(entry["percentiles"], f"{where}.percentiles")
    if "aggressor_side" in entry:
        if not isinstance(entry["aggressor_side"], bool):
            raise FeatureConfigError(f"{where}.aggressor_side: expected true or false")
        params["aggressor_side"] = entry["aggressor_side"]
    return FeatureSpec(entry["name"], kind, **params)


def _windows(value: object, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise FeatureConfigError(f"{where}.windows: expected a non-empty list like [5m, 15m, 1h]")
    widths = [parse_duration_ns(v, f"{where}.windows") for v in value]
    if len(set(widths)) != len(widths):
        raise FeatureConfigError(f"{where}.windows: the same window is listed twice")
    return tuple(widths)


def _positive_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FeatureConfigError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _percentiles(value: object, where: str) -> tuple[Decimal, ...]:
    if not isinstance(value, list) or not value:
        raise FeatureConfigError(f"{where}: expected a non-empty list like [50, 90, 99]")
    out: list[Decimal] = []
    for item in value:
        try:
            p = None if isinstance(item, bool) else Decimal(str(item))
        except InvalidOperation:
            p = None
        if p is None or not p.is_finite() or not 0 <= p <= 100 or p in out:
            raise FeatureConfigError(f"{where}: bad or repeated percentile {item!r} (0..100)")
        out.append(p)
    return tuple(out)


def _names_of(spec: FeatureSpec) -> list[FeatureName]:
    extractor: Any = spec.extractor()
    if spec.windowed:
        return [n for w in spec.windows_ns for n in extractor.names(w)]
    return extractor.names()


def _order(name: FeatureName) -> tuple[Any, ...]:
    return name.order

"""`mdc train`: build a dataset from stored or simulated events, fit, export ONNX, write a card."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from mdc.errors import CollectorError

if TYPE_CHECKING:
    from mdc.events import Event
    from mdc.features import FeatureConfig
    from mdc.store.store import Store

DEFAULT_FEATURES = (
    "spread_bps",
    "l1_imbalance",
    "order_imbalance_l5",
    "flow_imbalance_5m",
    "net_flow_5m",
    "trade_intensity_5m",
    "ofi_5m",
    "rv_5m",
    "spread_bps_p50_5m",
    "flow_imbalance_15m",
    "ofi_15m",
    "rv_15m",
)
"""Scale-free or small-scale features that are known five to fifteen minutes after start."""

_UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_VERSION = re.compile(r"v[1-9][0-9]*")

DESCRIPTION = f"""\
Train a model that predicts whether the mid price will be higher at the next sample.

Events come from an event store (--data-dir, optionally limited by --from/--to on receive time)
or from the built-in market simulator (--synthetic-seconds N, reproducible with --seed). They are
fed through the feature tracker the live system uses; every --sample-every of event time each
instrument's feature vector is sampled and labelled 1 if the mid at the next sample is above the
current mid, else 0. The earlier 75% of rows train the model, the later 25% test it (never
shuffled). The model is exported to ONNX and written with its card to OUT/NAME-VERSION/
(model.onnx, card.json); the card records the features in input order, null fills, the sha256 of
the events trained on, and the test metrics.

Model inputs: the features --features-config enables (it must also enable 'mid', which gives the
labels and is not an input), or by default:
{textwrap.fill(", ".join(DEFAULT_FEATURES), 96, initial_indent="  ", subsequent_indent="  ")}.
Times (--from/--to): RFC 3339, a UTC date or integer ns. The range must include each
instrument's book snapshot (a collector stores one at every book (re)sync): rows start once the
book, and so the mid, is known.
"""


class TrainArgumentError(CollectorError):
    """A `mdc train` option value that cannot be used."""


def register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the mid-direction model and export it to ONNX with a model card",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", metavar="DIR", help="train on the events stored in DIR")
    source.add_argument(
        "--synthetic-seconds",
        type=int,
        metavar="N",
        help="train on N seconds of simulated binance BTC-USDT and ETH-USDT (no network)",
    )
    parser.add_argument("--from", dest="start", metavar="T", help="with --data-dir: ts_recv >= T")
    parser.add_argument("--to", dest="end", metavar="T", help="with --data-dir: ts_recv < T")
    parser.add_argument("--seed", type=int, default=1, help="simulator and model seed (default: 1)")
    parser.add_argument(
        "--kind",
        choices=("logreg", "gbc"),
        default="logreg",
        help="logreg: scaled logistic regression (default); gbc: 50 boosted trees of depth 3",
    )
    parser.add_argument(
        "--features-config", metavar="FILE", help="feature config (TOML or YAML); see above"
    )
    parser.add_argument(
        "--sample-every",
        default="1s",
        metavar="DURATION",
        help="sampling interval and prediction horizon, e.g. 500ms, 1s, 1m (default: 1s)",
    )
    parser.add_argument("--name", default="direction", help="model name (default: direction)")
    parser.add_argument("--version", default="v1", metavar="vN", help="model version (default: v1)")
    parser.add_argument(
        "--out",
        default="models-out",
        metavar="DIR",
        help="parent directory of the model directory (default: ./models-out)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing model directory of that name"
    )
    parser.set_defaults(func=run)


def parse_duration_ns(text: str) -> int:
    """'1s', '500ms', '1.5m', '2h' -> positive integer nanoseconds, exactly."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text.strip())
    value = Decimal(match.group(1)) * _UNITS_NS[match.group(2)] if match else Decimal(0)
    if value < 1 or value != value.to_integral_value():
        raise TrainArgumentError(
            f"bad duration {text!r}: use a positive number with a unit (ns, us, ms, s, m, h), "
            "e.g. 1s or 500ms"
        )
    return int(value)


def run(args: argparse.Namespace) -> int:
    import time

    from models.card import write_model_dir
    from models.dataset import build_dataset
    from models.train import ModelIdentity, train_model

    target = _target_dir(args)
    sample_every_ns = parse_duration_ns(args.sample_every)
    config, features = _features(args.features_config)
    events, source = _events(args)
    dataset = build_dataset(events, config, features, sample_every_ns, _progress)
    if dataset.data.events == 0:
        raise TrainArgumentError(f"no events in {source}; record some first or widen --from/--to")
    _say(
        f"dataset: {dataset.data.events} events, {len(dataset.y)} rows, "
        f"{float(dataset.y.mean()) if len(dataset.y) else 0:.3f} up, sha256 {dataset.data.sha256}"
    )
    identity = ModelIdentity(args.name, args.version, args.kind, args.seed, source, sample_every_ns)
    trained = train_model(dataset, identity, time.time_ns())
    metrics = trained.card["metrics"]
    _say("metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()))
    write_model_dir(target, trained.onnx_bytes, trained.card)
    _say(f"wrote {target} ({len(trained.onnx_bytes)} bytes of ONNX)")
    return 0


def _target_dir(args: argparse.Namespace) -> Path:
    if not _NAME.fullmatch(args.name):
        raise TrainArgumentError(f"bad --name {args.name!r}: use lowercase letters, digits and _")
    if not _VERSION.fullmatch(args.version):
        raise TrainArgumentError(f"bad --version {args.version!r}: use v1, v2, ...")
    if args.synthetic_seconds is not None and (args.start or args.end):
        raise TrainArgumentError("--from/--to select stored events: use them with --data-dir")
    target = Path(args.out) / f"{args.name}-{args.version}"
    if target.exists() and not args.force:
        raise TrainArgumentError(f"{target} exists; pick another --version or pass --force")
    return target


def _features(path: str | None) -> tuple[FeatureConfig, tuple[str, ...]]:
    from mdc.features import FeatureConfig, load_feature_config
    from models.dataset import LABEL_FEATURE

    if path is None:
        return FeatureConfig.default(), DEFAULT_FEATURES
    config = load_feature_config(path)
    return config, tuple(n for n in config.names if n != LABEL_FEATURE)


def _events(args: argparse.Namespace) -> tuple[Iterator[Event], str]:
    if args.synthetic_seconds is not None:
        from models.synthetic import synthetic_events

        if args.synthetic_seconds <= 0:
            raise TrainArgumentError("--synthetic-seconds must be a positive number of seconds")
        source = f"synthetic: --synthetic-seconds {args.synthetic_seconds} --seed {args.seed}"
        return synthetic_events(args.seed, args.synthetic_seconds), source
    from mdc.store.replay import parse_time
    from mdc.store.store import Store

    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    if start is not None and end is not None and end <= start:
        raise TrainArgumentError(f"--to ({args.end}) must be after --from ({args.start})")
    store = Store.open(args.data_dir, readonly=True)
    bounds = "".join(
        f" {flag} {value}" for flag, value in (("--from", args.start), ("--to", args.end)) if value
    )
    return _closing(store, store.iter_events(start, end)), f"event store {args.data_dir}{bounds}"


def _closing(store: Store, events: Iterator[Event]) -> Iterator[Event]:
    with store:
        yield from events


def _progress(events: int, rows: int) -> None:
    _say(f"consumed {events} events, {rows} rows")


def _say(line: str) -> None:
    print(f"mdc train: {line}", file=sys.stderr, flush=True)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

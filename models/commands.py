"""`mdc train`: build a dataset from stored, snapshotted or simulated events, fit, export ONNX,
write a card; `mdc dataset`: snapshot stored events as a DVC-versioned dataset, list them."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from mdc.errors import CollectorError
from mdc.store.cliargs import add_data_dir, default_data_dir, open_readonly

if TYPE_CHECKING:
    from mdc.events import Event
    from mdc.features import FeatureConfig
    from mdc.store.store import Store
    from models.dvc_repo import Resolved
    from models.snapshot import Manifest, Selection

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

Events come from an event store (--data-dir, optionally limited by --from/--to on receive time),
from a dataset version (--dataset NAME[@REV], see `mdc dataset --help`: pulled from its DVC
remote when not local, it must hash to its manifest's sha256) or from the built-in market
simulator (--synthetic-seconds N, reproducible with --seed). They are fed through the feature
tracker the live system uses; every --sample-every of event time each instrument's feature
vector is sampled and labelled 1 if the mid at the next sample is above the current mid, else 0.
The earlier 75% of rows train the model, the later 25% test it (never shuffled). The model is
exported to ONNX and written with its card to OUT/NAME-VERSION/ (model.onnx, card.json); the
card records the features in input order, null fills, the sha256 of the events trained on (and
the dataset version they came from), and the test metrics.

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
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="train on the events stored in DIR; with --dataset: the data dir holding it "
        "(default there: $MDC_DATA_DIR or ./data)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--synthetic-seconds",
        type=int,
        metavar="N",
        help="train on N seconds of simulated binance BTC-USDT and ETH-USDT (no network)",
    )
    source.add_argument(
        "--dataset",
        metavar="NAME[@REV]",
        help="train on a dataset snapshot: its newest version, version REV, or the newest at "
        "git revision REV",
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
    events, source, snapshot = _events(args)
    dataset = build_dataset(events, config, features, sample_every_ns, _progress)
    if dataset.data.events == 0:
        raise TrainArgumentError(f"no events in {source}; record some first or widen --from/--to")
    _say(
        f"dataset: {dataset.data.events} events, {len(dataset.y)} rows, "
        f"{float(dataset.y.mean()) if len(dataset.y) else 0:.3f} up, sha256 {dataset.data.sha256}"
    )
    if snapshot is not None:
        _check_snapshot(snapshot, dataset.data.sha256)
    identity = ModelIdentity(
        args.name,
        args.version,
        args.kind,
        args.seed,
        source,
        sample_every_ns,
        None if snapshot is None else {"ref": snapshot.manifest.ref, "commit": snapshot.commit},
    )
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
    if args.synthetic_seconds is None and args.dataset is None and args.data_dir is None:
        raise TrainArgumentError("name the data: --data-dir, --dataset or --synthetic-seconds")
    if args.synthetic_seconds is not None and args.data_dir is not None:
        raise TrainArgumentError("--synthetic-seconds trains on simulated events: drop --data-dir")
    if args.synthetic_seconds is not None and (args.start or args.end):
        raise TrainArgumentError("--from/--to select stored events: use them with --data-dir")
    if args.dataset is not None and (args.start or args.end):
        raise TrainArgumentError(
            "--from/--to cannot narrow --dataset (a snapshot is trained on whole, so its hash "
            "holds): take a snapshot of that range with `mdc dataset snapshot`"
        )
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


def _events(args: argparse.Namespace) -> tuple[Iterator[Event], str, Resolved | None]:
    """The events to train on, their description, and the dataset version they come from."""
    if args.synthetic_seconds is not None:
        from models.synthetic import synthetic_events

        if args.synthetic_seconds <= 0:
            raise TrainArgumentError("--synthetic-seconds must be a positive number of seconds")
        source = f"synthetic: --synthetic-seconds {args.synthetic_seconds} --seed {args.seed}"
        return synthetic_events(args.seed, args.synthetic_seconds), source, None
    if args.dataset is not None:
        return _snapshot_events(args)
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
    source = f"event store {args.data_dir}{bounds}"
    return _closing(store, store.iter_events(start, end)), source, None


def _snapshot_events(args: argparse.Namespace) -> tuple[Iterator[Event], str, Resolved]:
    """The events of a dataset version, pulled from its remote when not in the workspace."""
    from models.dvc_repo import Workspace, require_dvc
    from models.snapshot import parse_ref, read_events

    ref = parse_ref(args.dataset)
    require_dvc()
    workspace = Workspace.existing(_workspace_dir(args.data_dir), _say)
    resolved = workspace.resolve(ref)
    path = workspace.events_file(resolved)
    source = f"dataset {resolved.manifest.ref} in {workspace.root}"
    return read_events(path), source, resolved


def _check_snapshot(snapshot: Resolved, sha256: str) -> None:
    """Training on a version must see exactly the events its manifest hashed."""
    from models.snapshot import DatasetError

    manifest = snapshot.manifest
    if sha256 != manifest.sha256:
        raise DatasetError(
            f"dataset {manifest.ref}: the events hash to {sha256[:12]}, its manifest says "
            f"{manifest.sha256[:12]}; its local copy was changed: delete {manifest.name}/"
            f"{manifest.version}/events.parquet in the workspace and train again"
        )


def _closing(store: Store, events: Iterator[Event]) -> Iterator[Event]:
    with store:
        yield from events


def _progress(events: int, rows: int) -> None:
    _say(f"consumed {events} events, {rows} rows")


def _say(line: str) -> None:
    print(f"mdc train: {line}", file=sys.stderr, flush=True)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# -- `mdc dataset` ------------------------------------------------------------------------------

DATASET_DESCRIPTION = """\
Dataset versions: frozen selections of stored events that `mdc train --dataset NAME[@REV]`
trains on again exactly (the model card records the data's sha256 and the version).

snapshot writes the events of --data-dir's store that match the selection (receive time in
[--from, --to), one --venue, one --symbol; every event type, in stored order) to a Parquet file
with exact decimals, versions it with DVC and pushes it to the DVC remote. Versions are
numbered per name (NAME@1, NAME@2, ...) and never change. They live in DATA_DIR/datasets, a git
repository with DVC inside (each version a commit tagged NAME@K); the remote is a local folder,
DATA_DIR/dvc-remote, unless --remote URL or $MDC_DVC_REMOTE names any DVC remote (for cloud
remotes install DVC's plugin, e.g. pip install 'dvc[s3]'). REV is a version number or a git
revision of the workspace (the newest version of NAME at that commit).

Needs the optional extra: pip install 'mdc[datasets]' (or: bash scripts/setup datasets).
"""


def register_dataset(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dataset",
        help="versioned dataset snapshots (DVC) for reproducible training",
        description=DATASET_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    snapshot = actions.add_parser(
        "snapshot", help="snapshot a selection of stored events as the next version of NAME"
    )
    snapshot.add_argument("--name", required=True, help="dataset name, e.g. btc_jan")
    snapshot.add_argument("--from", dest="start", metavar="T", help="ts_recv >= T")
    snapshot.add_argument("--to", dest="end", metavar="T", help="ts_recv < T")
    snapshot.add_argument("--venue", metavar="V", help="only this venue's events")
    snapshot.add_argument("--symbol", metavar="S", help="only this symbol's events")
    snapshot.add_argument(
        "--remote",
        metavar="URL",
        help="DVC remote to push to, kept as the default (default: $MDC_DVC_REMOTE, the "
        "one set before, or DATA_DIR/dvc-remote)",
    )
    add_data_dir(snapshot)
    snapshot.set_defaults(func=run_snapshot)
    listing = actions.add_parser("list", help="one line per dataset version")
    listing.add_argument("--json", action="store_true", help="a JSON array, one object a version")
    add_data_dir(listing)
    listing.set_defaults(func=run_list)


def _workspace_dir(data_dir: str | None) -> Path:
    return Path(data_dir or default_data_dir()) / "datasets"


def run_snapshot(args: argparse.Namespace) -> int:
    import os

    from models.dvc_repo import REMOTE_ENV, Workspace, remote_url, require_dvc
    from models.snapshot import check_name

    name = check_name(args.name)
    require_dvc()
    selection, source = _selection(args)
    data_dir = args.data_dir or default_data_dir()
    chosen = args.remote or os.environ.get(REMOTE_ENV)
    remote = None if chosen is None else remote_url(chosen)
    with open_readonly(args) as store:
        first_remote = remote or remote_url(os.path.join(data_dir, "dvc-remote"))
        workspace = Workspace.create(_workspace_dir(data_dir), _dataset_say, first_remote)
        write = _VersionWriter(store, name, selection, source)
        manifest = workspace.add_version(name, write, remote)
    print(f"{manifest.ref}\t{manifest.events} events\tsha256 {manifest.sha256}")
    return 0


def _selection(args: argparse.Namespace) -> tuple[Selection, str]:
    """The snapshot's selection, and the words that describe it (as the user typed them)."""
    from mdc.store.replay import parse_time
    from models.snapshot import Selection

    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    if start is not None and end is not None and end <= start:
        raise TrainArgumentError(f"--to ({args.end}) must be after --from ({args.start})")
    flags = (("--from", args.start), ("--to", args.end), ("--venue", args.venue))
    chosen = " ".join(f"{f} {v}" for f, v in (*flags, ("--symbol", args.symbol)) if v)
    source = f"event store {args.data_dir or default_data_dir()} {chosen}".strip()
    return Selection(start, end, args.venue, args.symbol), source


@dataclass(frozen=True)
class _VersionWriter:
    """Writes the selected events of `store` as version K of `name` (a `Writer`)."""

    store: Store
    name: str
    selection: Selection
    source: str

    def __call__(self, folder: Path, version: int) -> Manifest:
        import importlib.metadata
        import time

        from models.snapshot import SnapshotHead, write_snapshot

        _dataset_say(f"{self.name}@{version}: reading {self.source}")
        mdc_version = importlib.metadata.version("mdc")
        head = SnapshotHead(
            self.name, version, self.selection, self.source, time.time_ns(), mdc_version
        )
        s = self.selection
        events = self.store.iter_events(s.start_ns, s.end_ns, s.venue, s.symbol)
        return write_snapshot(events, folder, head)


def run_list(args: argparse.Namespace) -> int:
    import json

    from models.dvc_repo import Workspace, require_dvc
    from models.snapshot import format_listing

    require_dvc()
    root = _workspace_dir(args.data_dir)
    if not (root / ".dvc").is_dir():
        _dataset_say(f"no datasets in {root} yet; take one with `mdc dataset snapshot`")
        listed = []
    else:
        listed = Workspace.existing(root, _dataset_say).listed()
    if args.json:
        print(json.dumps([item.as_json() for item in listed], indent=2))
    elif listed:
        print("\n".join(format_listing(listed)))
    return 0


def _dataset_say(line: str) -> None:
    print(f"mdc dataset: {line}", file=sys.stderr, flush=True)

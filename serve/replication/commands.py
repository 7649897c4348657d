"""`mdc replicate` and `mdc promote`: a follower store in another region, and its promotion."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import textwrap

from mdc.errors import ConfigError

EPILOG = """\
examples:
  # in the second region: copy the primary's log, then follow it live
  export MDC_API_KEY=...
  mdc replicate --from grpc://primary.example:50051 --data-dir /data/mdc
  # failover: stop mdc replicate there (Ctrl-C), then
  mdc promote --data-dir /data/mdc && mdc run --data-dir /data/mdc
  # the old primary, once back, rejoins as a follower of the new one:
  mdc replicate --from grpc://new-primary.example:50051 \\
    --data-dir /data/mdc
"""


def register_replicate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replicate",
        help="keep a follower store: tail a primary's log over gRPC",
        description=textwrap.fill(
            "Copy a primary collector's write-ahead log into DIR record for record, then follow "
            "it live (the primary serves it on its gRPC port; the API key comes from "
            "$MDC_API_KEY). Idempotent and resumable: the follower's position is its log's end, "
            "made durable by the same fsync as the data. Projections (Parquet, bars, book "
            "checkpoints) are rebuilt here, so mdc query, book and replay work on DIR. Lag is in "
            "DIR/replica-status.json and on stderr. A primary that refuses the key or is "
            "unreachable is retried with backoff; a primary that no longer holds the position "
            "asked for is followed again from its first retained record (unless "
            "--no-rebootstrap). A primary older than the epoch DIR knows is refused (exit 1). "
            "A store that was a primary becomes a follower: what it wrote after the failover "
            "is moved to DIR/diverged/, not mixed in. Ctrl-C stops after the current chunk."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="the primary's gRPC address: grpc://HOST:PORT or HOST:PORT",
    )
    parser.add_argument("--data-dir", required=True, metavar="DIR", help="the follower's store")
    parser.add_argument(
        "--name",
        default="replica",
        metavar="NAME",
        help="this follower's name at the primary (its saved cursor); default %(default)s",
    )
    parser.add_argument(
        "--no-rebootstrap",
        action="store_true",
        help="when the primary dropped our position, keep retrying instead of re-bootstrapping",
    )
    parser.add_argument(
        "--silence",
        type=float,
        default=10.0,
        metavar="S",
        help="reconnect after S seconds without a chunk or heartbeat (default %(default)s)",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=5.0,
        metavar="S",
        help="rebuild the projections every S seconds (default %(default)s)",
    )
    parser.add_argument(
        "--progress",
        type=float,
        default=5.0,
        metavar="S",
        help="a progress line on stderr every S seconds (default %(default)s)",
    )
    parser.add_argument(
        "--exit-when-caught-up",
        action="store_true",
        help="stop (exit 0) once the follower holds everything the primary reported",
    )
    parser.set_defaults(func=_replicate)


def register_promote(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="make a follower store the primary, with a new epoch",
        description=(
            "Make the follower store in DIR a primary at the next epoch, beginning at its log's "
            "end (stop its mdc replicate first). Followers then follow it; the old primary's "
            "records and followers from an older epoch are refused (fencing). There is no "
            "automatic failover: with two regions and no third arbiter, deciding which one is "
            "primary is an operator's call."
        ),
    )
    parser.add_argument("--data-dir", required=True, metavar="DIR")
    parser.set_defaults(func=_promote)


def target_of(url: str) -> str:
    """HOST:PORT from grpc://HOST:PORT or HOST:PORT."""
    target = url.removeprefix("grpc://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or "/" in target:
        raise ConfigError(f"--from {url!r}: expected grpc://HOST:PORT or HOST:PORT")
    return target


def _replicate(args: argparse.Namespace) -> int:
    from mdc.client import api_key_or_default
    from mdc.store.follow import FollowerState
    from serve.replication.follower import FollowerConfig, ReplicaFollower

    FollowerState.named(args.data_dir, args.name)  # refuses a name that is no file name

    config = FollowerConfig(
        target=target_of(args.source),
        data_dir=args.data_dir,
        name=args.name,
        api_key=api_key_or_default(),
        rebootstrap=not args.no_rebootstrap,
        silence_s=args.silence,
        refresh_s=args.refresh,
        progress_s=args.progress,
        exit_when_caught_up=args.exit_when_caught_up,
    )
    os.makedirs(args.data_dir, exist_ok=True)
    return asyncio.run(_until_signal(ReplicaFollower(config)))


async def _until_signal(follower) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    follower.say(f"following {follower.config.target} into {follower.config.data_dir}")
    return await follower.run(stop)


def _promote(args: argparse.Namespace) -> int:
    from mdc.replication.epochs import ReplicationState, Role
    from mdc.store import Store
    from mdc.store.errors import StoreLocked
    from serve.replication.server import dirnames

    state = ReplicationState.load(args.data_dir)
    if state.role is Role.PRIMARY:
        raise ConfigError(f"{args.data_dir} is already a primary (epoch {state.epoch})")
    try:
        store = Store.open(args.data_dir)
    except StoreLocked as exc:
        raise ConfigError(f"{exc}: stop its mdc replicate (or collector) first") from exc
    with store:
        promoted = state.promoted(dirnames(store.wal.positions()))
        promoted.save(args.data_dir)
    print(
        f"mdc promote: {args.data_dir} is the primary now, epoch {promoted.epoch} (it followed "
        f"{state.primary}); start the collector there: mdc run --data-dir {args.data_dir}",
        file=sys.stderr,
    )
    return 0

"""`mdc dlq list|show|replay|purge`: inspect and drain the dead letter queue of a data directory."""

from __future__ import annotations

import argparse
import os
import sys
import time

from mdc.store.cliargs import add_data_dir, default_data_dir

CAUSE_HELP = "storage_failure, parse_failure, backpressure_overflow or unstorable_event"
STATE_HELP = "pending, parked (permanent failure) or replayed"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dlq",
        help="inspect, replay or purge the dead letter queue",
        description=(
            "The dead letter queue (DATA_DIR/dlq) keeps events that could not be stored and raw "
            "venue messages that could not be parsed, until they are retried, replayed or purged. "
            "Replay is idempotent: the store drops events it already holds. TIME: RFC 3339, a "
            "date or integer ns. Needs the DLQ's lock, which a running collector holds: stop it "
            "first (the admin API needs it too)."
        ),
    )
    actions = parser.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    _list_parser(actions)
    show = actions.add_parser("show", help="one entry: error, state and payload")
    add_data_dir(show)
    show.add_argument("id", type=int, metavar="ID")
    show.set_defaults(func=run_show)
    _selection_parser(
        actions,
        "replay",
        "append the entries' events durably to the store and mark them replayed; raw messages "
        "are parsed again, and an entry that still fails stays with its new error (exit 1)",
        run_replay,
    )
    purge = _selection_parser(
        actions, "purge", "delete entries for good (asks first unless --yes)", run_purge
    )
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _add_filters(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    parser.add_argument("--cause", help=CAUSE_HELP)
    parser.add_argument("--venue")
    parser.add_argument("--state", help=STATE_HELP)
    parser.add_argument("--since", metavar="TIME", help="created at or after TIME")
    parser.add_argument("--until", metavar="TIME", help="created before TIME")


def _list_parser(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "list", help="entries, oldest first, one per line", description="List DLQ entries."
    )
    _add_filters(parser)
    parser.add_argument("--limit", type=int, default=None, metavar="N")
    parser.set_defaults(func=run_list)


def _selection_parser(actions, name: str, text: str, func) -> argparse.ArgumentParser:
    parser = actions.add_parser(
        name,
        help=text.split(";", maxsplit=1)[0],
        description=(
            f"{text[0].upper()}{text[1:]}. Select entries by ID, by filters, or --all. Filters "
            "without --state select pending and parked entries for replay, every state for purge."
        ),
    )
    _add_filters(parser)
    parser.add_argument("ids", nargs="*", type=int, metavar="ID")
    parser.add_argument("--all", action="store_true", help="every entry (subject to filters)")
    parser.set_defaults(func=func)
    return parser


def _data_dir(args: argparse.Namespace) -> str:
    return args.data_dir or default_data_dir()


def _open(args: argparse.Namespace):
    from mdc.dlq import DeadLetterQueue
    from mdc.dlq.errors import DLQError

    data_dir = _data_dir(args)
    if not os.path.isdir(os.path.join(data_dir, "dlq")):
        raise DLQError(f"no dead letter queue in {data_dir!r} (nothing has failed there yet)")
    return DeadLetterQueue.open(data_dir)


def _filter(args: argparse.Namespace):
    from mdc.dlq import Filter
    from mdc.store.replay import parse_time

    return Filter(
        cause=args.cause,
        venue=args.venue,
        state=args.state,
        since=None if args.since is None else parse_time(args.since),
        until=None if args.until is None else parse_time(args.until),
    )


def _selection(args: argparse.Namespace):
    from mdc.dlq.errors import BadFilter

    where = _filter(args)
    if args.ids:
        if args.all or not where.empty:
            raise BadFilter("ID", "give IDs or filters/--all, not both")
        return args.ids
    if where.empty and not args.all:
        raise BadFilter("selection", "give entry IDs, a filter, or --all")
    return where


def run_list(args: argparse.Namespace) -> int:
    from mdc.store.replay import BadArgument

    if args.limit is not None and args.limit < 1:
        raise BadArgument("--limit must be a positive integer")
    where = _filter(args)
    if not os.path.isdir(os.path.join(_data_dir(args), "dlq")):
        print("no entries (no dead letter queue yet)", file=sys.stderr)
    else:
        with _open(args) as dlq:
            entries = dlq.list(where, args.limit)
        for entry in entries:
            print(_summary(entry))
        print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", file=sys.stderr)
    _mention_undelivered_notifications(_data_dir(args))
    return 0


def _mention_undelivered_notifications(data_dir: str) -> None:
    """Alert notifications have their own dead letters (not events: they replay to channels)."""
    from mdc.alerts.undelivered import read_undelivered

    count = sum(1 for _ in read_undelivered(data_dir))
    if count:
        print(
            f"also {count} undelivered alert notification(s): `mdc alerts undelivered` lists "
            "them, `--replay --rules FILE` sends them again",
            file=sys.stderr,
        )


def _summary(entry) -> str:
    from mdc.timefmt import format_rfc3339_ns

    error = entry.error.splitlines()[0][:80] if entry.error else ""
    return (
        f"{entry.id}\t{entry.state}\t{entry.cause}\t{entry.venue}\t"
        f"{format_rfc3339_ns(entry.created_ns)}\tattempts={entry.attempts}\t"
        f"{entry.kind}:{entry.payload_bytes}B\t{error}"
    )


def run_show(args: argparse.Namespace) -> int:
    from mdc.events import to_json
    from mdc.timefmt import format_rfc3339_ns

    with _open(args) as dlq:
        entry = dlq.get(args.id)
    for name, value in [
        ("id", entry.id),
        ("state", entry.state),
        ("cause", entry.cause),
        ("venue", entry.venue),
        ("created", format_rfc3339_ns(entry.created_ns)),
        ("attempts", entry.attempts),
        (
            "next attempt",
            format_rfc3339_ns(entry.next_attempt_ns) if entry.next_attempt_ns else "-",
        ),
        ("error", entry.error),
    ]:
        print(f"{name}: {value}")
    if entry.raw is not None:
        text, encoding = entry.raw_text()
        print(f"raw ({len(entry.raw)} bytes, {encoding}):")
        print(text)
    else:
        print(f"events ({len(entry.events)}):")
        for event in entry.decoded_events():
            print(to_json(event).decode())
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from mdc.dlq.sinks import store_sink

    selection = _selection(args)
    with _open(args) as dlq, store_sink(_data_dir(args)) as sink:
        report = dlq.replay(selection, sink, time.time_ns())
    for entry_id, error in report.failed.items():
        print(f"entry {entry_id}: still failing: {error}", file=sys.stderr)
    print(f"replayed {len(report.replayed)} entr(ies), {len(report.failed)} still failing")
    return 1 if report.failed else 0


def run_purge(args: argparse.Namespace) -> int:
    selection = _selection(args)
    with _open(args) as dlq:
        count = len(dlq.purge_selection(selection))
        if not args.yes and not _confirm(f"purge {count} DLQ entr(ies) for good? [y/N] "):
            print("nothing purged", file=sys.stderr)
            return 1
        purged = dlq.purge(selection, time.time_ns())
    print(f"purged {purged} entr(ies)")
    return 0


def _confirm(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")

"""`mdc alerts`: check a rules file, and evaluate rules on stored data (`replay`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import orjson

from mdc.alerts.fields import FIELDS
from mdc.alerts.rules import load_rules
from mdc.events import Event
from mdc.store.cliargs import add_data_dir, open_readonly
from mdc.store.replay import BadArgument, parse_time

PROGRESS_EVERY = 1_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="alert rules: check a rules file, replay rules over stored data",
        description="Alert rules in YAML (an 'alerts:' list; see the README's Alerting section).",
    )
    commands = parser.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    replay = commands.add_parser(
        "replay",
        help="evaluate rules on stored events; one JSON line per transition",
        description=(
            "Evaluate the rules on the stored events with T1 <= ts_recv < T2 (default: all), in "
            "receive-time order, and print one JSON line per alert transition: alertname, "
            "labels, status (firing|resolved), startsAt, endsAt, value. The same events give "
            "the same transitions however streams interleave. TIME: RFC 3339, a date or "
            "integer ns."
        ),
    )
    replay.add_argument("--rules", required=True, metavar="FILE", help="the rules (YAML)")
    replay.add_argument("--from", dest="start", metavar="T1")
    replay.add_argument("--to", dest="end", metavar="T2")
    add_data_dir(replay)
    replay.set_defaults(func=run_replay)
    check = commands.add_parser(
        "check",
        help="load a rules file and list its rules, or say what is wrong",
        description="Load the rules and list them; a bad rule exits 2 naming rule and column.",
    )
    check.add_argument("--rules", required=True, metavar="FILE", help="the rules (YAML)")
    check.set_defaults(func=run_check)
    fields = commands.add_parser("fields", help="list the fields a condition may read")
    fields.set_defaults(func=run_fields)


def run_replay(args: argparse.Namespace) -> int:
    from mdc.alerts.evaluator import evaluate_stored

    rules = load_rules(args.rules)
    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    if start is not None and end is not None and end <= start:
        raise BadArgument(f"--to ({args.end}) must be after --from ({args.start})")
    out = sys.stdout.buffer
    transitions = 0
    with open_readonly(args) as store:
        events = _Counted(store.iter_events(start, end))
        for transition in evaluate_stored(rules, events, end):
            out.write(orjson.dumps(transition.to_dict()) + b"\n")
            out.flush()
            transitions += 1
    print(f"{events.count:,} events, {transitions:,} transitions", file=sys.stderr)
    return 0


class _Counted:
    """The events, counted, with a progress line on stderr every PROGRESS_EVERY."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.events, self.count = events, 0

    def __iter__(self) -> Iterator[Event]:
        for event in self.events:
            self.count += 1
            if self.count % PROGRESS_EVERY == 0:
                print(f"... {self.count:,} events", file=sys.stderr, flush=True)
            yield event


def run_check(args: argparse.Namespace) -> int:
    for rule in load_rules(args.rules):
        scope = "per venue" if rule.per_venue else "per instrument"
        where = f" symbols {','.join(rule.symbols.patterns)}" if rule.symbols.patterns else ""
        print(f"{rule.name}: {rule.severity}, {scope}{where}: {rule.condition.text}")
    return 0


def run_fields(args: argparse.Namespace) -> int:
    for field in FIELDS.values():
        print(f"{field.name:24} {field.spec.kind.value:12} {field.stream}\n    {field.doc}")
    return 0

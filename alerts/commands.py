"""`mdc alerts`: check a rules file, evaluate rules on stored data (`replay`), see what a
running collector has firing (`list`), silence alerts, and resend undelivered notifications."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator

import orjson

from mdc.alerts.config import load_alert_config
from mdc.alerts.expr import parse_duration
from mdc.alerts.fields import FIELDS
from mdc.alerts.files import ACTIVE_FILE
from mdc.alerts.rules import load_rules
from mdc.alerts.silences import SilenceFile, silence_state
from mdc.alerts.undelivered import read_undelivered
from mdc.events import Event
from mdc.store.cliargs import add_data_dir, default_data_dir, open_readonly
from mdc.store.replay import BadArgument, parse_time
from mdc.timefmt import NS, format_rfc3339_ns

PROGRESS_EVERY = 1_000_000
STALE_AFTER_S = 10


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
        description="Load the whole file (rules, routes, receivers and their channels, whose "
        "secrets must be in the environment) and list it; a fault exits 2 saying where.",
    )
    check.add_argument("--rules", required=True, metavar="FILE", help="the rules (YAML)")
    check.set_defaults(func=run_check)
    fields = commands.add_parser("fields", help="list the fields a condition may read")
    fields.set_defaults(func=run_fields)
    _register_live(commands)


def _register_live(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser(
        "list",
        help="what the collector has pending, firing and silenced",
        description="The alerts of `mdc run --alerts` as it last saved them (about every "
        "second), and the active silences.",
    )
    add_data_dir(listing)
    listing.set_defaults(func=run_list)
    silence = commands.add_parser(
        "silence",
        help="mute matching alerts for a while",
        description="Mute notifications of alerts whose labels match every --match "
        "(name=value, name!=value, name=~regex, name!~regex) for --for. Works whether or not "
        "a collector runs; a running one notices within a second.",
    )
    silence.add_argument("--match", action="append", required=True, metavar="K=V")
    silence.add_argument("--for", dest="duration", required=True, metavar="D", help="e.g. 1h")
    silence.add_argument("--comment", default="", help="why (shown in listings)")
    silence.add_argument("--author", default=os.environ.get("USER", ""), help="who")
    add_data_dir(silence)
    silence.set_defaults(func=run_silence)
    silences = commands.add_parser("silences", help="list the silences, active and ended")
    add_data_dir(silences)
    silences.set_defaults(func=run_silences)
    unsilence = commands.add_parser("unsilence", help="end a silence now")
    unsilence.add_argument("id", help="the silence's id (`mdc alerts silences`)")
    add_data_dir(unsilence)
    unsilence.set_defaults(func=run_unsilence)
    undelivered = commands.add_parser(
        "undelivered",
        help="notifications no channel took; --replay sends them again",
        description="List the notifications that could not be delivered (attempts spent, "
        "refused, or the channel's queue full). --replay sends each again through the channel "
        "of the same name in --rules and keeps only those that fail again.",
    )
    undelivered.add_argument(
        "--replay",
        action="store_true",
        help="send them again (needs --rules); those that fail again stay listed",
    )
    undelivered.add_argument("--rules", metavar="FILE", help="the alerting file (for --replay)")
    add_data_dir(undelivered)
    undelivered.set_defaults(func=run_undelivered)


def run_replay(args: argparse.Namespace) -> int:
    from mdc.alerts.evaluator import STREAMS, evaluate_stored

    rules = load_rules(args.rules)
    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    if start is not None and end is not None and end <= start:
        raise BadArgument(f"--to ({args.end}) must be after --from ({args.start})")
    out = sys.stdout.buffer
    transitions = 0
    with open_readonly(args) as store:
        events = _Counted(store.iter_events(start, end, families=STREAMS))
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
    config = load_alert_config(args.rules, os.environ)
    for rule in config.rules:
        scope = "per venue" if rule.per_venue else "per instrument"
        where = f" symbols {','.join(rule.symbols.patterns)}" if rule.symbols.patterns else ""
        print(f"{rule.name}: {rule.severity}, {scope}{where}: {rule.condition.text}")
    for receiver, integrations in config.routing.receivers.items():
        names = ", ".join(i.name for i in integrations) or "no channels"
        print(f"receiver {receiver}: {names}")
    return 0


def run_fields(args: argparse.Namespace) -> int:
    for field in FIELDS.values():
        print(f"{field.name:24} {field.spec.kind.value:12} {field.stream}\n    {field.doc}")
    return 0


def _data_dir(args: argparse.Namespace) -> str:
    return args.data_dir or default_data_dir()


def run_list(args: argparse.Namespace) -> int:
    path = os.path.join(_data_dir(args), ACTIVE_FILE)
    try:
        with open(path, "rb") as f:
            active = orjson.loads(f.read())
    except FileNotFoundError:
        raise BadArgument(
            f"no alert state in {_data_dir(args)}: run `mdc run --alerts FILE` first"
        ) from None
    age_s = (time.time_ns() - active["written"]) / NS
    if age_s > STALE_AFTER_S:
        print(f"(saved {age_s:.0f}s ago: is the collector running?)", file=sys.stderr)
    for alert in active["alerts"]:
        labels = dict(alert["labels"])
        name = labels.pop("alertname", "")
        labels.pop("severity", None)
        muted = " silenced" if alert["silenced"] else " inhibited" if alert["inhibited"] else ""
        where = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        since = format_rfc3339_ns(alert["since"])[:19]
        print(f"{alert['state']:8} {name} {where} since {since}Z{muted}")
    if not active["alerts"]:
        print("nothing pending or firing")
    for one in active["silences"]:
        print(_silence_line(one["id"], one["matchers"], one["endsAt"], one["comment"]))
    return 0


def _silence_line(silence_id: str, matchers: list[str], ends_ns: int, comment: str) -> str:
    until = format_rfc3339_ns(ends_ns)[:19]
    note = f" ({comment})" if comment else ""
    return f"silence {silence_id} until {until}Z: {', '.join(matchers)}{note}"


def run_silence(args: argparse.Namespace) -> int:
    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        raise BadArgument(f"--for: {exc}") from exc
    now = time.time_ns()
    store = SilenceFile.of(_data_dir(args))
    silence = store.add(args.match, now, now + duration, args.author, args.comment)
    print(silence.id)
    return 0


def run_silences(args: argparse.Namespace) -> int:
    now = time.time_ns()
    for s in SilenceFile.of(_data_dir(args)).load().values():
        state = silence_state(s, now)
        line = _silence_line(s.id, [str(m) for m in s.matchers], s.ends_at_ns, s.comment)
        print(f"{state:7} {line}")
    return 0


def run_unsilence(args: argparse.Namespace) -> int:
    SilenceFile.of(_data_dir(args)).expire(args.id, time.time_ns())
    print(f"silence {args.id} ended")
    return 0


def run_undelivered(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    records = list(read_undelivered(data_dir))
    if not args.replay:
        for r in records:
            n = r.notification
            when = format_rfc3339_ns(r.at_ns)[:19]
            print(f"{when}Z {n['receiver']}/{n['integration']} {n['group_key']}: {r.reason}")
        return 0
    if not args.rules:
        raise BadArgument("--replay needs --rules FILE (the channels to send through)")
    from alerts.redeliver import redeliver

    config = load_alert_config(args.rules, os.environ)
    sent, kept = redeliver(data_dir, config, records)
    print(f"{sent} sent again, {kept} still undelivered", file=sys.stderr)
    return 0 if kept == 0 else 1

"""The guarantees a chaos run is judged by, each a pure function of what the run observed.

They are separate from the runner so a test can hand them a run with a planted defect (a store
with a doubled or a missing trade) and see the matching check fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from chaos.scenarios.base import Slo
from mdc.alerts.evaluator import Transition
from mdc.store.streams import Stream
from mdc.verify import VerifyReport


@dataclass(frozen=True)
class InvariantResult:
    name: str
    ok: bool
    detail: str


def trades_exactly_once(report: VerifyReport, min_trades: int = 1) -> InvariantResult:
    ok = (
        report.trades_found >= min_trades
        and report.trades_missing == 0
        and report.trades_duplicated == 0
        and report.trades_wrong == 0
    )
    return InvariantResult(
        "every published trade stored exactly once",
        ok,
        f"{report.trades_found} of {report.trades_expected} found, "
        f"{report.trades_missing} missing, {report.trades_duplicated} duplicated, "
        f"{report.trades_wrong} wrong (at least {min_trades} needed)",
    )


def books_exact(report: VerifyReport, min_states: int = 1) -> InvariantResult:
    """In-sync states equal the venue's, the stored order breaks a book only at a recorded gap,
    and the book at sampled instants is in sync or after a recorded gap."""
    unmarked = sum(f.check == "book-at-not-in-sync" for f in report.findings)
    ok = (
        report.book_states_checked >= min_states
        and report.book_mismatches == 0
        and report.book_order_breaks == 0
        and unmarked == 0
    )
    return InvariantResult(
        "books exact outside recorded gaps",
        ok,
        f"{report.book_states_checked} in-sync states compared, {report.book_mismatches} "
        f"differed, {report.book_gaps} gaps recorded (at least {min_states} needed); "
        f"{report.book_order_breaks} breaks and {unmarked} instants out of sync without one",
    )


def nothing_acknowledged_lost(
    drained: Mapping[str, bool], dlq_by_state: Mapping[str, int]
) -> InvariantResult:
    """Every producer's batches were acknowledged (after fsync) by the stop, and nothing is left
    in the dead letter queue that retries have not brought into the store."""
    undrained = sorted(name for name, ok in drained.items() if not ok)
    waiting = {state: n for state, n in dlq_by_state.items() if state in ("pending", "parked")}
    return InvariantResult(
        "no acknowledged event lost, nothing left in the DLQ",
        bool(drained) and not undrained and not any(waiting.values()),
        f"producers not drained: {undrained or 'none'}; DLQ waiting: {waiting or 'none'}",
    )


def memory_bounded(peak_rss_mb: Mapping[str, float], slo: Slo) -> InvariantResult:
    over = {name: mb for name, mb in peak_rss_mb.items() if mb > slo.max_actor_rss_mb}
    top = max(peak_rss_mb.items(), key=lambda item: item[1], default=("none", 0.0))
    return InvariantResult(
        f"memory bounded (each actor under {slo.max_actor_rss_mb:g} MB RSS)",
        bool(peak_rss_mb) and not over,
        f"largest peak {top[0]} {top[1]:.0f} MB; over the limit: {over or 'none'}",
    )


def recovered_in_time(recovery_s: Mapping[str, float | None], slo: Slo) -> InvariantResult:
    late = {step: s for step, s in recovery_s.items() if s is None or s > slo.max_recovery_s}
    worst = max((s for s in recovery_s.values() if s is not None), default=0.0)
    return InvariantResult(
        f"recovered within {slo.max_recovery_s:g} s of every heal",
        not late,
        f"slowest recovery {worst:.1f} s; late or never: {late or 'none'}",
    )


def prediction_slo(
    requests: int, error_rate: float, p99_ms: float | None, slo: Slo
) -> InvariantResult:
    ok = requests > 0 and error_rate <= slo.max_error_rate and (p99_ms or 0.0) <= slo.max_p99_ms
    return InvariantResult(
        f"prediction API: errors <= {slo.max_error_rate:.1%}, p99 <= {slo.max_p99_ms:g} ms",
        ok,
        f"{requests} requests, error rate {error_rate:.2%}, p99 {p99_ms} ms",
    )


def subscribers_saw_trades_once(
    received: Mapping[Stream, list[bytes]],
    stored: Mapping[Stream, list[bytes]],
    min_trades: int = 1,
) -> InvariantResult:
    """A subscriber from the first event on, across faults and a server restart with resume,
    got each stream's stored trades in stored order, none twice, none skipped (a prefix: what
    became durable after the server stopped was not sent)."""
    wrong = sorted(str(s) for s, ids in received.items() if ids != stored.get(s, [])[: len(ids)])
    got = sum(map(len, received.values()))
    total = sum(map(len, stored.values()))
    ok = not wrong and got >= min_trades
    return InvariantResult(
        "live subscribers saw every trade exactly once",
        ok,
        f"{got} of {total} stored trades received in stored order"
        + (f"; out of order, doubled or skipped in {', '.join(wrong)}" if wrong else "")
        + f" (at least {min_trades} needed)",
    )


def subscriber_books_in_order(seqs: Mapping[str, list[int]], min_views: int = 1) -> InvariantResult:
    """Every book's depth views came in stored order (strictly increasing seqs)."""
    bad = sorted(s for s, q in seqs.items() if any(b <= a for a, b in pairwise(q)))
    views = sum(map(len, seqs.values()))
    return InvariantResult(
        "live subscribers saw each book in order",
        not bad and views >= min_views,
        f"{views} depth views of {len(seqs)} books"
        + (f"; out of order in {', '.join(bad)}" if bad else "")
        + f" (at least {min_views} needed)",
    )


@dataclass(frozen=True)
class Partition:
    venue: str
    injected_ns: int
    healed_ns: int


FIRE_WITHIN_NS = 5 * 10**9
RESOLVE_WITHIN_NS = 10 * 10**9
DELIVERY_SLACK_NS = 5 * 10**8
"""A notification flushed just before the dispatcher learned of the source may land this late."""


def partition_alerted(
    partitions: list[Partition],
    transitions: list[tuple[int, Transition]],
    notified: list[tuple[int, dict]],
    venues: tuple[str, ...],
    for_ns: int,
) -> InvariantResult:
    """For each partitioned venue: provider_disconnect fired within its `for` plus 5 s and
    resolved within 10 s of the heal; its data_gap fired meanwhile (their times overlap) but was
    not notified while the disconnect was known to fire (inhibited); no other venue's
    provider_disconnect fired during the partition."""
    problems = []
    for p in partitions:
        problems += _partition_problems(p, transitions, notified, venues, for_ns)
    return InvariantResult(
        "provider_disconnect fired and resolved for each partition, its data_gap inhibited",
        bool(partitions) and not problems,
        "; ".join(problems) or f"{len(partitions)} partition(s) alerted as expected",
    )


def _partition_problems(
    p: Partition,
    transitions: list[tuple[int, Transition]],
    notified: list[tuple[int, dict]],
    venues: tuple[str, ...],
    for_ns: int,
) -> list[str]:
    def of(name: str, venue: str, status: str) -> list[tuple[int, Transition]]:
        return [
            (at, t)
            for at, t in transitions
            if t.alertname == name and dict(t.labels).get("venue") == venue and t.status == status
        ]

    fired = [
        (at, t)
        for at, t in of("provider_disconnect", p.venue, "firing")
        if p.injected_ns <= t.starts_at_ns <= p.injected_ns + for_ns + FIRE_WITHIN_NS
    ]
    if not fired:
        return [f"{p.venue}: provider_disconnect did not fire within for + 5 s"]
    known_from, source = fired[0]
    resolved = [
        (at, t)
        for at, t in of("provider_disconnect", p.venue, "resolved")
        if t.starts_at_ns == source.starts_at_ns
    ]
    if not resolved or (resolved[0][1].ends_at_ns or 0) > p.healed_ns + RESOLVE_WITHIN_NS:
        return [f"{p.venue}: provider_disconnect did not resolve within 10 s of the heal"]
    known_until, began, ended = resolved[0][0], source.starts_at_ns, resolved[0][1].ends_at_ns or 0
    problems = []
    # in the events' time: a follower lagging under load may learn a whole gap, from firing to
    # resolved, before it learns of the disconnect from the status stream (a loaded run did)
    gap_ends = {t.starts_at_ns: t.ends_at_ns for _, t in of("data_gap", p.venue, "resolved")}
    overlapping = [
        t
        for _, t in of("data_gap", p.venue, "firing")
        if t.starts_at_ns <= ended and (gap_ends.get(t.starts_at_ns) or ended) >= began
    ]
    if not overlapping:
        problems.append(f"{p.venue}: data_gap never fired during the disconnect")
    leaked = [
        a
        for at, a in notified
        if a["labels"].get("alertname") == "data_gap"
        and a["labels"].get("venue") == p.venue
        and a["status"] == "firing"
        and known_from + DELIVERY_SLACK_NS <= at < known_until
    ]
    if leaked:
        problems.append(f"{p.venue}: data_gap notified while inhibited ({len(leaked)})")
    others = [
        t
        for v in venues
        if v != p.venue
        for _, t in of("provider_disconnect", v, "firing")
        if p.injected_ns <= t.starts_at_ns <= p.healed_ns
    ]
    if others:
        problems.append(f"provider_disconnect fired for other venues: {others[0].labels}")
    return problems


def replica_converged(
    differences: list[str], error: str, max_heartbeat_age_s: float, partition_s: float
) -> InvariantResult:
    """After the heal the follower holds exactly the primary's log, and its heartbeat age shows
    it lived through the partition (at least half of it without a word from the primary)."""
    saw = max_heartbeat_age_s >= partition_s / 2
    ok = not differences and not error and saw
    detail = "; ".join(differences[:5]) or error or "identical logs"
    return InvariantResult(
        "the follower in the other region converged to exactly the primary's log",
        ok,
        f"{detail}; longest silence {max_heartbeat_age_s:.1f} s (partition {partition_s:g} s)",
    )

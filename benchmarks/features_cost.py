"""CPU per event of the live feature tracker on recorded firehose frames (all four venues).

Usage: .venv/bin/python benchmarks/features_cost.py [--seconds S] [--rounds N]
Prints the median µs per event of `FeatureTracker.on_event` over N rounds, and a digest of every
feature vector computed at each book event, so a faster tracker can be checked for equal output.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

from capacity import stage_tapes
from pipeline import Load, sessions
from stages import connected_session, feed, payloads

from mdc.features import FeatureConfig, FeatureTracker


def events(seconds: float) -> list:
    load = Load(("binance", "coinbase", "kraken", "alpaca"), 6, 500.0)
    configs = sessions(load, load.simulator(seed=1))
    out = []
    for venue, tape in stage_tapes(load, seconds).items():
        session, handshake = connected_session(tape, configs[venue], True)
        out += handshake + [
            event for frame in payloads(tape) for event in feed(session, tape, frame)
        ]
    return out


def digest(evs: list) -> str:
    tracker = FeatureTracker(FeatureConfig.default())
    h = hashlib.sha256()
    for i, e in enumerate(evs):
        tracker.on_event(e)
        if i % 7 == 0:
            vector = tracker.vector(e.venue, e.symbol)
            if vector is not None:
                h.update(repr(sorted(vector.values.items())).encode())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    evs = events(args.seconds)
    took = []
    for _ in range(args.rounds):
        tracker = FeatureTracker(FeatureConfig.default())
        began = time.process_time()
        for e in evs:
            tracker.on_event(e)
        took.append((time.process_time() - began) / len(evs) * 1e6)
    print(
        f"events {len(evs):,}; µs per event: median {statistics.median(took):.2f} "
        f"(rounds: {', '.join(f'{t:.2f}' for t in took)}); output digest {digest(evs)}"
    )


if __name__ == "__main__":
    main()

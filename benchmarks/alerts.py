"""CPU per event of the alert evaluator with the seed's four rules, against the same events
with no rules (the loop, the dispatch and the clock alone), on recorded firehose frames of all
four venues in receive-time order, as `mdc alerts replay` feeds them.

Usage: .venv/bin/python benchmarks/alerts.py [--seconds S] [--rounds N]
Goal (issue 20): at most 2 µs per event per rule above the no-rule baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from features_cost import events

from mdc.alerts.evaluator import evaluate_stored
from mdc.alerts.rules import Rule, load_rules

RULES = Path(__file__).resolve().parents[1] / "alerts.yaml"


def cost(rules: list[Rule], evs: list, rounds: int) -> tuple[float, int]:
    """Median µs per event over `rounds`, and the transitions of one round."""
    took, transitions = [], 0
    for _ in range(rounds):
        began = time.process_time()
        transitions = sum(1 for _ in evaluate_stored(rules, evs))
        took.append((time.process_time() - began) / len(evs) * 1e6)
    return statistics.median(took), transitions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    evs = sorted(events(args.seconds), key=lambda e: e.ts_recv)
    kinds = Counter(type(e).__name__ for e in evs)
    print(f"events {len(evs):,}: " + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common()))
    rules = load_rules(RULES)
    base, _ = cost([], evs, args.rounds)
    print(f"{'no rules (baseline)':28} {base:6.2f} µs/event")
    for rule in rules:
        alone, fired = cost([rule], evs, args.rounds)
        print(f"{rule.name:28} {alone:6.2f} µs/event  +{alone - base:5.2f}  {fired} transitions")
    both, fired = cost(rules, evs, args.rounds)
    per_rule = (both - base) / len(rules)
    print(
        f"{'the four rules':28} {both:6.2f} µs/event  ratio {both / base:.2f}x baseline; "
        f"{per_rule:.2f} µs per event per rule (goal <= 2); {fired} transitions"
    )


if __name__ == "__main__":
    main()

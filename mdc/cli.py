"""`mdc` command line: a thin shell; each subcommand lives beside the code it drives."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mdc.errors import CollectorError
from mdc.plugins import load_variant, variant_names

# Subcommands are entry points too: `register(subparsers)` adds a parser with `func` set. This is
# how actors/, serve/ and chaos/ add theirs without the core importing them. Registering must be
# cheap: heavy imports (ray, onnxruntime) belong inside the command's `run`.
COMMANDS_GROUP = "mdc.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdc",
        description="Market data collector: record trades, quotes and order books without loss.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in variant_names(COMMANDS_GROUP):
        load_variant(COMMANDS_GROUP, name)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CollectorError as exc:
        print(f"mdc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""`mdc` command line: a thin shell; each subcommand lives beside the code it drives."""

from __future__ import annotations

import argparse
import os
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


GRPC_QUIET = {"GRPC_VERBOSITY": "ERROR"}
"""gRPC's core logs routine events (a peer's GOAWAY on a server restart) at INFO to stderr, over
our own lines; errors still show. Set before gRPC loads (commands import it lazily); a user's
own GRPC_VERBOSITY wins."""


def main(argv: Sequence[str] | None = None) -> int:
    for name, value in GRPC_QUIET.items():
        os.environ.setdefault(name, value)
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit, so a reader that went away is caught below
        return code
    except BrokenPipeError:
        return _reader_gone()
    except (CollectorError, OSError) as exc:
        # An OSError that got this far is the machine's answer to the user's request (a
        # read-only or full data dir, a missing permission): it names errno and file, so it is
        # reported in one line like our own errors, not as a traceback.
        print(f"mdc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


SIGPIPE_STATUS = 128 + 13
"""What a shell reports for a command killed by SIGPIPE (`yes | head`)."""


def _reader_gone() -> int:
    """The reader of stdout left (`mdc replay | head`): stop quietly, as SIGPIPE would. Python
    ignores SIGPIPE, so every write raised instead; stdout now points at /dev/null so that the
    interpreter's final flush of what is still buffered cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return SIGPIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())

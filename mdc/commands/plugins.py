"""`mdc plugins list|validate`: the installed venue plugins, and one venue's config checked.
(`reload` talks to a running collector: its shell adds it, actors.plugin_reload.)

Each action is one `_add_*` function in ACTIONS (its parser, its `run_*`), so an action is added
with one function and one row.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdc.venues.registry import PluginInfo

WIDTH = 80
MIN_LAST_WIDTH = 24
"""The capabilities column wraps to the room left within WIDTH, but never narrower than this."""
HEAD = ("ID", "VERSION", "DISTRIBUTION", "CAPABILITIES")


def register(
    subparsers: argparse._SubParsersAction, more: dict[str, Callable] | None = None
) -> None:
    """The command with ACTIONS, and `more` actions of shells (the collector's `reload`)."""
    parser = subparsers.add_parser(
        "plugins",
        help="list the installed venue plugins, or check a venue's configuration",
        description=(
            "Venues are plugins: classes registered in the `mdc.venues` entry-point group (the "
            "four built-in ones too). A third-party package adds a venue by registering its own "
            "there, and a simulator for it in `mdc.simulator_venues`."
        ),
    )
    actions = parser.add_subparsers(dest="plugins_action", metavar="ACTION", required=True)
    for add in (ACTIONS | (more or {})).values():
        add(actions)


def _add_list(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "list",
        help="every installed venue: id, version, distribution, capabilities",
        description=(
            "One row per installed venue plugin: its id (the [venues.ID] table), version and "
            "the distribution it comes from, and its capabilities: the streams it delivers "
            "(trades, quotes, book, bars), how a book's loss is seen (book:update_ids, "
            "book:sequence or book:checksum), how lost trades are fetched again "
            "(backfill:id, backfill:time or backfill:none) and `auth` when it needs a key and "
            "secret. A plugin that cannot be loaded is listed with its error. Read afresh from "
            "the installed metadata every time."
        ),
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON array with every field (display name, entry point, error) instead",
    )
    parser.set_defaults(func=run_list)


def _add_validate(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "validate",
        help="check one venue's table of a config file, one line per problem",
        description=(
            "Check the [venues.NAME] table of a collector config file with the same checks "
            "`mdc run` makes (keys, source, symbols, depth, URLs, key_env/secret_env when the "
            "venue needs auth and the variables they name), plus the venue's own. Prints one "
            "line per problem and exits 1, or `ok` and exits 0; exits 2 when the file cannot be "
            "read, has no such table, or NAME is not an installed venue."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="the venue id (see `mdc plugins list`)")
    parser.add_argument(
        "--config", required=True, metavar="FILE", help="the collector's TOML config file"
    )
    parser.set_defaults(func=run_validate)


ACTIONS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "list": _add_list,
    "validate": _add_validate,
}


def run_list(args: argparse.Namespace) -> int:
    from mdc.venues.registry import plugin_infos

    infos = plugin_infos()
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=1))
    else:
        print("\n".join(format_listing([_row(info) for info in infos])))
    return 0


def _row(info: PluginInfo) -> tuple[str, str, str, str]:
    last = f"error: {info.error}" if info.error else info.capabilities.summary()
    return (info.id, info.version, info.distribution, last)


def format_listing(rows: list[tuple[str, str, str, str]]) -> list[str]:
    """A table within WIDTH columns: the last column wraps onto lines of its own, indented to
    it, so capabilities and errors are never cut."""
    rows = [HEAD, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEAD) - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = max(MIN_LAST_WIDTH, WIDTH - indent)
    lines = []
    for row in rows:
        first, *more = textwrap.wrap(row[-1], room, break_on_hyphens=False) or [""]
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, first]).rstrip())
        lines.extend(" " * indent + line for line in more)
    return lines


def run_validate(args: argparse.Namespace) -> int:
    """Problems on stdout (they are the answer); a file or venue that cannot be checked is a
    ConfigError, which `mdc` reports in one line with exit status 2."""
    from mdc.config import read_config
    from mdc.venues.registry import venue_class

    venue = venue_class(args.name)
    table = _venue_table(read_config(args.config), args.name, args.config)
    problems = venue.validate_config(table)
    for problem in problems:
        print(f"{args.config}: {problem}")
    if problems:
        return 1
    print(f"{args.config}: venues.{args.name}: ok")
    return 0


def _venue_table(raw: dict[str, Any], name: str, path: str) -> object:
    from mdc.errors import ConfigError

    venues = raw.get("venues")
    if not isinstance(venues, dict):
        raise ConfigError(f"{path}: no [venues] tables")
    if name not in venues:
        named = ", ".join(venues) or "none"
        raise ConfigError(f"{path}: no [venues.{name}] table (the file configures: {named})")
    return venues[name]

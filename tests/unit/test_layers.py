"""Dependencies point one way: the core package `mdc` imports none of the shells (actors, serve,
chaos) and never Ray, so it runs and is tested without them (ARCHITECTURE.md, layout). And the
core is sans-I/O: no event loop, no clock, no threads, no network library (STYLE.md 1), except
in the few I/O shells that live inside the package for its layout's sake (the `mdc` CLI and its
commands, the simulator's servers)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "mdc"
BANNED = ("actors", "serve", "chaos", "ray")
IO_MODULES = {"asyncio", "ray", "websockets", "aiohttp", "time", "threading"}
SHELLS = ("mdc/cli.py", "mdc/commands/", "mdc/simulator/server.py", "mdc/client/")
"""Shells inside the package: they carry out what the core decides (argv, sockets, clocks)."""


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_imports_no_shell_and_no_ray():
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(imported_roots(path) & set(BANNED))
        for path in CORE.rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_the_check_sees_a_planted_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from serve.auth import parse_key_hash\n")
    assert imported_roots(planted) & set(BANNED) == {"serve"}


def test_the_core_outside_its_shells_does_no_io_of_its_own():
    offenders = {}
    for path in CORE.rglob("*.py"):
        name = path.relative_to(CORE.parent).as_posix()
        if not name.startswith(SHELLS):
            found = imported_roots(path) & IO_MODULES
            if found:
                offenders[name] = sorted(found)
    assert not offenders


def test_the_io_check_sees_a_planted_clock(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import time as clock\nfrom threading import Lock\n")
    assert imported_roots(planted) & IO_MODULES == {"time", "threading"}

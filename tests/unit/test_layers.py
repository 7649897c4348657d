"""Dependencies point one way: the core package `mdc` imports none of the shells (actors, serve,
chaos) and never Ray, so it runs and is tested without them (ARCHITECTURE.md, layout)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "mdc"
BANNED = ("actors", "serve", "chaos", "ray")


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

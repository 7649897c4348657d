"""The package's version and the one behaviour that differs between its versions.

Kept in one small file so an upgrade is easy to make and to see: the distribution's version is
read from `__version__` (pyproject.toml, `[tool.setuptools.dynamic]`), and every Trade the
parser builds carries `TRADE_CONDITIONS`. Conditions are not part of a trade's identity
(`mdc.events.identity`), so trades stored by two versions still deduplicate, while a reader can
tell which version stored each one. A version 2 sets `__version__ = "2.0.0"` and
`TRADE_CONDITIONS = ("v2",)`.
"""

__version__ = "1.0.0"

TRADE_CONDITIONS: tuple[str, ...] = ()

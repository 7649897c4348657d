"""Label matchers, as Alertmanager writes them: `name=value`, `name!=value`, `name=~regex`,
`name!~regex` (regexes anchored at both ends). Routes, inhibition rules and silences use them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mdc.errors import ConfigError

_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class BadMatcher(ConfigError):
    pass


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # =, !=, =~, !~
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        match = _MATCHER.fullmatch(text)
        if match is None:
            raise BadMatcher(
                f"bad matcher {text!r}: say name=value, name!=value, name=~regex or name!~regex"
            )
        name, op, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        matcher = cls(name, op, value)
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise BadMatcher(f"bad regex in matcher {text!r}: {exc}") from exc
        return matcher

    def matches(self, labels: Mapping[str, str]) -> bool:
        """A missing label is the empty string, as in Alertmanager."""
        have = labels.get(self.name, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        found = re.fullmatch(self.value, have) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(Matcher.parse(text) for text in texts)


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)

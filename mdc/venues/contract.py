"""What a venue plugin declares about itself, checked when it is built, and the typed errors of a
plugin that does not keep the contract.

A venue is a class registered in the `mdc.venues` entry-point group (see `mdc.venues.base.Venue`
for the rest of the contract: id, display name, `create`, `validate_config`). Its
`Capabilities` say what it can deliver, so listings (`mdc plugins list`) and the session rules
can tell venues apart without knowing their names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mdc.errors import ConfigError

STREAMS = ("trades", "quotes", "book", "bars")
"""Every stream a venue may deliver, in the order listings show them."""
BOOK_INTEGRITY = ("update_ids", "sequence", "checksum", "none")
"""How a book's loss is seen: update ids on every book event (Binance U/u), a message sequence
(Coinbase Advanced Trade `sequence_num`), a checksum of the book (Kraken CRC32), or no books."""
BACKFILL = ("id", "time", "none")
"""How lost trades are fetched again over REST: by trade id, by time, or not at all."""


class ContractError(ConfigError):
    """An installed venue plugin that does not keep the contract: the plugin's author must fix
    it (or the user install another version); nothing at run time can."""


class InvalidCapabilities(ContractError):
    """A `Capabilities` value out of its documented set; `field` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"capabilities.{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a venue delivers; checked when built, so a plugin with a typo fails on import."""

    streams: tuple[str, ...]
    """A non-empty subset of STREAMS, in STREAMS order."""
    book_integrity: str
    """One of BOOK_INTEGRITY; "none" exactly when "book" is not among the streams."""
    backfill: str
    """One of BACKFILL: REST trade history by trade id, by time, or none."""
    auth: bool
    """The venue needs a key and secret (key_env/secret_env in the config)."""

    def __post_init__(self) -> None:
        _check_streams(self.streams)
        _check_choice("book_integrity", self.book_integrity, BOOK_INTEGRITY)
        _check_choice("backfill", self.backfill, BACKFILL)
        if not isinstance(self.auth, bool):
            raise InvalidCapabilities("auth", f"must be True or False, not {self.auth!r}")
        if ("book" in self.streams) == (self.book_integrity == "none"):
            raise InvalidCapabilities(
                "book_integrity",
                f"{self.book_integrity!r} does not fit the streams {list(self.streams)}: "
                '"none" exactly when there is no "book" stream',
            )

    @property
    def books(self) -> bool:
        return "book" in self.streams

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (`mdc plugins list --json`)."""
        return {
            "streams": list(self.streams),
            "book_integrity": self.book_integrity,
            "backfill": self.backfill,
            "auth": self.auth,
        }

    def summary(self) -> str:
        """One short line for listings: `trades,quotes,book book:update_ids backfill:id auth`."""
        parts = [",".join(self.streams)]
        if self.books:
            parts.append(f"book:{self.book_integrity}")
        parts.append(f"backfill:{self.backfill}")
        if self.auth:
            parts.append("auth")
        return " ".join(parts)


def _check_streams(streams: object) -> None:
    if not isinstance(streams, tuple) or not streams:
        raise InvalidCapabilities("streams", f"must be a non-empty tuple, not {streams!r}")
    unknown = [s for s in streams if s not in STREAMS]
    if unknown:
        raise InvalidCapabilities("streams", f"unknown {unknown}; valid: {list(STREAMS)}")
    ordered = tuple(s for s in STREAMS if s in streams)
    if streams != ordered:
        raise InvalidCapabilities(
            "streams", f"{list(streams)} must name each stream once, in the order {list(ordered)}"
        )


def _check_choice(field: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise InvalidCapabilities(field, f"must be one of {list(valid)}, not {value!r}")

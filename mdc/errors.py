"""Typed errors with one root, grouped by who is at fault, so callers can decide what to do."""

from __future__ import annotations


class CollectorError(Exception):
    """Root of every error mdc raises on purpose."""


class LocalMisuse(CollectorError):
    """Our own bug or a caller's misuse of an API: never retried."""


class IllegalTransition(LocalMisuse):
    def __init__(self, machine: str, current: object, wanted: object) -> None:
        super().__init__(f"{machine}: illegal transition {current} -> {wanted}")
        self.current = current
        self.wanted = wanted


class ConfigError(CollectorError):
    """Bad configuration; the message names the offending key and what would be valid."""


class UnknownVenue(ConfigError):
    pass


class DuplicateVariant(ConfigError):
    """Two plugins registered the same name in one entry-point group."""


class VenueProtocolError(CollectorError):
    """The venue (or something posing as it) sent something we cannot use."""


class MalformedMessage(VenueProtocolError):
    """A message that does not decode into the venue's documented shape. Keeps the raw bytes."""

    def __init__(self, venue: str, reason: str, raw: bytes) -> None:
        super().__init__(f"{venue}: malformed message: {reason}")
        self.venue = venue
        self.reason = reason
        self.raw = raw


class VenueRejected(CollectorError):
    """The venue answered with an error (auth failed, too many connections, ...)."""

    def __init__(self, venue: str, code: int | None, message: str, *, permanent: bool) -> None:
        where = f" (code {code})" if code is not None else ""
        super().__init__(f"{venue}: venue rejected the request{where}: {message}")
        self.venue = venue
        self.code = code
        self.permanent = permanent


def is_retryable(error: BaseException) -> bool:
    """Whether reconnecting/retrying can help; decided from the error alone."""
    if isinstance(error, VenueRejected):
        return not error.permanent
    return isinstance(error, VenueProtocolError | OSError | TimeoutError)

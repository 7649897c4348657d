"""Toxiproxy's API errors as typed values, each tied to its HTTP status (like `api.go`)."""

from __future__ import annotations

from mdc.errors import CollectorError, ConfigError, DuplicateVariant


class ToxiproxyError(CollectorError):
    """An API error; `message` is the exact text Toxiproxy puts in `{"error": ...}`."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ToxiproxyError):
    status = 400


class MissingField(BadRequest):
    def __init__(self, field: str, suffix: str = "") -> None:
        super().__init__(f"missing required field: {field}{suffix}")


class InvalidStream(BadRequest):
    def __init__(self) -> None:
        super().__init__("stream was invalid, can be either upstream or downstream")


class InvalidToxicType(BadRequest):
    def __init__(self) -> None:
        super().__init__("invalid toxic type")


class InvalidToxicity(BadRequest):
    """Toxiproxy takes any float; we refuse what is not a probability (NaN, -1, 2.0)."""

    def __init__(self, value: float) -> None:
        super().__init__(f"toxicity must be a number from 0 to 1, not {value}")


class ProxyNotFound(ToxiproxyError):
    status = 404

    def __init__(self) -> None:
        super().__init__("proxy not found")


class ToxicNotFound(ToxiproxyError):
    status = 404

    def __init__(self) -> None:
        super().__init__("toxic not found")


class ProxyExists(ToxiproxyError):
    status = 409

    def __init__(self) -> None:
        super().__init__("proxy already exists")


class ToxicExists(ToxiproxyError):
    status = 409

    def __init__(self) -> None:
        super().__init__("toxic already exists")


class ListenFailed(ToxiproxyError):
    """A proxy or the API could not bind or resolve its address (Go's raw error text, 500)."""


class DuplicateToxic(DuplicateVariant):
    """Two different classes claim one toxic type name."""


class BadToxicPlugin(ConfigError):
    """An `mdc.toxics` entry point that is not a Toxic class named like its entry."""


class BadProxyConfig(ConfigError):
    """The `--config` file of `mdc chaos proxy` is unreadable or not a valid proxy list."""


class PopulateFailed(ToxiproxyError):
    """`/populate` stopped part-way: carries the cause's status and the proxies made so far."""

    def __init__(self, cause: ToxiproxyError, created: list[dict[str, object]] | None) -> None:
        super().__init__(cause.message)
        self.status = cause.status
        self.created = created

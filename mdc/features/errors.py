"""Errors of the feature package, under the project's one root."""

from __future__ import annotations

from mdc.errors import ConfigError, LocalMisuse


class FeatureConfigError(ConfigError):
    """A feature configuration that cannot be used; the message names the offending key."""


class QueryOrderError(LocalMisuse):
    """A query earlier than a previous one: streaming windows have already evicted that past."""

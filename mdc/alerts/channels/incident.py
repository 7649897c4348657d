"""The generic incident adapter: services that open an incident on a trigger and close it by a
key. The key is the notification's `dedup_key` (a hash of the group key), so the resolve closes
exactly the incident the trigger opened, whichever replica sends it.

A vendor is one subclass with `trigger` and `resolve`; swapping vendors (OpsGenie's ends support
on 2027-04-05) leaves routing, grouping and the delivery shell alone. Not a channel by itself:
it is not registered under `mdc.alert_channels`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from mdc.alerts.channels.base import Outgoing
from mdc.alerts.dispatch import Notification


class IncidentChannel(ABC):
    kind: ClassVar[str]
    rate_per_s: float

    def render(self, notification: Notification) -> list[Outgoing]:
        """A firing group (re)opens its incident; a resolved one closes it."""
        if notification.status == "firing":
            return self.trigger(notification)
        return self.resolve(notification)

    @abstractmethod
    def trigger(self, notification: Notification) -> list[Outgoing]:
        """Open (or re-open, deduplicated by `notification.dedup_key`) the incident."""

    @abstractmethod
    def resolve(self, notification: Notification) -> list[Outgoing]:
        """Close the incident whose key is `notification.dedup_key`."""

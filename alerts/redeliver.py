"""`mdc alerts undelivered --replay`: send kept notifications again, through today's channels
of the same name, and keep only the ones that fail again."""

from __future__ import annotations

import asyncio

from alerts.delivery import Delivery, DeliveryPolicy, Undeliverable
from mdc.alerts.config import AlertConfig
from mdc.alerts.dispatch import notification_from_dict
from mdc.alerts.undelivered import UndeliveredRecord, replace_undelivered

REPLAY_TIMEOUT_S = 600.0


def redeliver(
    data_dir: str, config: AlertConfig, records: list[UndeliveredRecord]
) -> tuple[int, int]:
    """(sent, still undelivered); the file then holds exactly the ones still undelivered."""
    kept: list[UndeliveredRecord] = []
    sendable = []
    for record in records:
        try:
            sendable.append((record, notification_from_dict(record.notification, config.routing)))
        except KeyError:
            kept.append(record)  # its receiver or channel is no longer configured
    failed: list[Undeliverable] = []
    asyncio.run(_send(config, [n for _, n in sendable], failed))
    lost = {id(f.notification) for f in failed}
    kept += [
        UndeliveredRecord(record.at_ns, f.reason, f.attempts, record.notification)
        for record, n in sendable
        for f in failed
        if f.notification is n
    ]
    replace_undelivered(data_dir, kept)
    return len(sendable) - len(lost), len(kept)


async def _send(config: AlertConfig, notifications: list, failed: list[Undeliverable]) -> None:
    policy = DeliveryPolicy(queue_size=max(1, len(notifications)))
    delivery = Delivery(config.channels, failed.append, policy)
    await delivery.start()
    try:
        for notification in notifications:
            delivery.submit(notification)
        await delivery.drain(REPLAY_TIMEOUT_S)
    finally:
        await delivery.close()

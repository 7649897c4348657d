"""The dead letters of alert notifications (DATA_DIR/alerts/undelivered.jsonl): kept when a
channel gives up, sent again by `mdc alerts undelivered --replay` through today's channels of the
same name, keeping only the ones that fail again."""

from __future__ import annotations

import asyncio
import logging
import time

from alerts.delivery import Delivery, DeliveryPolicy, Undeliverable
from mdc.alerts.config import AlertConfig
from mdc.alerts.dispatch import notification_from_dict
from mdc.alerts.undelivered import UndeliveredRecord, append_undelivered, replace_undelivered

REPLAY_TIMEOUT_S = 600.0
log = logging.getLogger(__name__)


def keep_undelivered(data_dir: str, lost: Undeliverable) -> None:
    """Append a notification a channel gave up on; a full disk loses it, in the log at least."""
    record = UndeliveredRecord(
        time.time_ns(), lost.reason, lost.attempts, lost.notification.to_dict()
    )
    try:
        append_undelivered(data_dir, record)
    except OSError as exc:
        log.error("undelivered notification not kept (%s): %s", exc, record.to_line())


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

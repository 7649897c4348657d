"""Delivering notifications: the I/O shell around the channels.

One bounded queue and one worker per channel, so a slow or failing service holds back only its
own notifications. Each send is retried by `classify` (429 honouring Retry-After, 5xx, network
errors and timeouts) with the shared backoff; another 4xx is not retried. What cannot be
delivered (attempts spent, not retryable, or the channel's queue full) goes to the dead-letter
callback with the reason, never to the floor. A token bucket keeps each channel under its rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import smtplib
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from mdc.alerts.channels.base import Channel, HttpPost, Outcome, Outgoing, SmtpMail, classify
from mdc.alerts.dispatch import Notification
from mdc.backoff import Backoff

log = logging.getLogger(__name__)

ChannelKey = tuple[str, str]  # receiver, integration name ("slack/0")
RETRY_BACKOFF = Backoff(initial=1.0, maximum=60.0, floor=0.5)
STOPPED = "not delivered before the alerting stopped"
MAX_RETRY_AFTER_S = 300.0
"""A Retry-After longer than this is capped (a service asking for an hour would stall the
channel's queue; the backoff continues from there)."""


@dataclass(frozen=True)
class Undeliverable:
    channel: ChannelKey
    notification: Notification
    outgoing: Outgoing | None  # None when it never got rendered (queue full)
    attempts: int
    reason: str


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    queue_size: int = 256
    timeout_s: float = 10.0
    backoff: Backoff = RETRY_BACKOFF


class Delivery:
    def __init__(
        self,
        channels: Mapping[ChannelKey, Channel],
        dead_letter: Callable[[Undeliverable], None],
        policy: DeliveryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.channels = dict(channels)
        self.dead_letter = dead_letter
        self.policy = policy or DeliveryPolicy()
        self.rng = rng or random.Random()
        self.sent: Counter[ChannelKey] = Counter()
        self.failed: Counter[ChannelKey] = Counter()
        self.retried: Counter[ChannelKey] = Counter()
        self._queues: dict[ChannelKey, asyncio.Queue[Notification]] = {}
        self._workers: list[asyncio.Task] = []
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.policy.timeout_s)
        for key in self.channels:
            self._queues[key] = asyncio.Queue(self.policy.queue_size)
            self._workers.append(asyncio.create_task(self._work(key), name=f"deliver {key}"))

    def submit(self, notification: Notification) -> None:
        """Queue it for its channel; a full queue dead-letters it at once (bounded memory)."""
        key = (notification.receiver, notification.integration.name)
        try:
            self._queues[key].put_nowait(notification)
        except asyncio.QueueFull:
            self._give_up(key, notification, None, 0, "the channel's queue is full")

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued notification was delivered or dead-lettered."""
        joins = [queue.join() for queue in self._queues.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*joins), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop now: whatever is still queued or being retried is dead-lettered, not lost."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        for key, queue in self._queues.items():
            while not queue.empty():
                self._give_up(key, queue.get_nowait(), None, 0, STOPPED)
                queue.task_done()
        if self._client is not None:
            await self._client.aclose()

    async def _work(self, key: ChannelKey) -> None:
        queue, channel = self._queues[key], self.channels[key]
        spacing = 1.0 / channel.rate_per_s if channel.rate_per_s > 0 else 0.0
        next_send = 0.0
        while True:
            notification = await queue.get()
            try:
                for outgoing in channel.render(notification):
                    await asyncio.sleep(max(0.0, next_send - time.monotonic()))
                    next_send = time.monotonic() + spacing
                    await self._deliver(key, notification, outgoing)
            except asyncio.CancelledError:
                self._give_up(key, notification, None, 0, STOPPED)
                raise
            except Exception as exc:  # a channel's bug must not stop its worker
                log.exception("alert channel %s failed on a notification", key)
                self._give_up(key, notification, None, 0, f"channel error: {exc}")
            finally:
                queue.task_done()

    async def _deliver(self, key: ChannelKey, notification: Notification, item: Outgoing) -> None:
        outcome = Outcome(False, True, None, "not sent")
        attempt = 0
        for attempt in range(1, self.policy.max_attempts + 1):
            outcome = await self._send(item)
            if outcome.delivered:
                self.sent[key] += 1
                return
            if not outcome.retry or attempt == self.policy.max_attempts:
                break
            self.retried[key] += 1
            wait = outcome.retry_after_s
            if wait is None:
                wait = self.policy.backoff.delay(attempt - 1, self.rng)
            await asyncio.sleep(min(wait, MAX_RETRY_AFTER_S))
        self._give_up(key, notification, item, attempt, outcome.detail)

    async def _send(self, item: Outgoing) -> Outcome:
        try:
            if isinstance(item, HttpPost):
                return await self._post(item)
            await asyncio.to_thread(_send_mail, item, self.policy.timeout_s)
            return Outcome(True, False)
        except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
            permanent = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
            return Outcome(False, not permanent, None, f"{type(exc).__name__}: {exc}")

    async def _post(self, post: HttpPost) -> Outcome:
        assert self._client is not None, "start() first"
        response = await self._client.post(post.url, content=post.body, headers=dict(post.headers))
        return classify(response.status_code, response.headers, response.content)

    def _give_up(
        self,
        key: ChannelKey,
        notification: Notification,
        item: Outgoing | None,
        attempts: int,
        reason: str,
    ) -> None:
        self.failed[key] += 1
        log.error("alert notification to %s not delivered: %s", key, reason)
        self.dead_letter(Undeliverable(key, notification, item, attempts, reason))


def _send_mail(mail: SmtpMail, timeout_s: float) -> None:
    """Blocking SMTP (run in a thread): STARTTLS when asked, then AUTH when a user is set."""
    with smtplib.SMTP(mail.host, mail.port, timeout=timeout_s) as smtp:
        if mail.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if mail.username:
            smtp.login(mail.username, mail.password or "")
        smtp.sendmail(mail.sender, list(mail.to), mail.message)

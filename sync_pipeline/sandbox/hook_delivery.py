"""Hook delivery: every change of a WebCRM record is POSTed to each enabled hook for its entity
and event type, from one background thread, so an API answer never waits for a receiver.

The payload is our assumption (`core.hook_payload.build_payload`). A delivery succeeds on any
2xx answer; a refused connection, a timeout or another status is retried after `first_delay`
seconds, doubling up to `max_delay`, until `give_up_after` seconds after the change (ASSUMED:
WebCRM's own retry policy is undocumented; defaults 1 s, 60 s, 5 min). Tests scale the three
down to meet a receiver outage in seconds. Deliveries go one at a time, oldest due first; the
counts are in the sandbox stats (`hook_deliveries`).
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from sync_pipeline.core.hook_payload import HOOK_ENTITIES, EventType, HookEvent, build_payload
from sync_pipeline.sandbox.stats import RequestStats
from sync_pipeline.sandbox.webcrm_hooks import HookBook


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard delivery tries: seconds before the first retry, the longest pause, when to
    give up (counted from the change), and each POST's timeout."""

    first_delay: float = 1.0
    max_delay: float = 60.0
    give_up_after: float = 300.0
    timeout: float = 5.0


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    started: float = field(compare=False)
    attempts: int = field(default=0, compare=False)


class HookDeliverer:
    """Queues a delivery per matching hook on each record change and sends them in a thread."""

    def __init__(
        self, book: HookBook, stats: RequestStats, policy: DeliveryPolicy | None = None
    ) -> None:
        self._book = book
        self._stats = stats
        self._policy = policy or DeliveryPolicy()
        self._queue: list[_Delivery] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="hook-delivery", daemon=True)

    def record_changed(self, entity: str, record_id: int, event_type: EventType) -> None:
        """Queue the event for every enabled hook that wants it (never blocks on the network)."""
        targets = self._book.targets(entity, event_type) if entity in HOOK_ENTITIES else []
        if not targets:
            return
        event = HookEvent(entity, str(record_id), event_type, datetime.now(UTC))
        now = time.monotonic()
        with self._wake:
            for hook_id, url in targets:
                body = json.dumps(build_payload(event, hook_id)).encode()
                heapq.heappush(self._queue, _Delivery(now, next(self._seq), url, body, now))
            self._stats.set_hook_pending(len(self._queue))
            self._wake.notify()

    def start(self) -> None:
        """Start the delivery thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the delivery in flight, waiting at most 2 s for it (a daemon thread);
        queued deliveries are dropped, as on a restart."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=min(self._policy.timeout, 2.0))

    def _run(self) -> None:
        with httpx.Client(timeout=self._policy.timeout) as client:
            while (delivery := self._next()) is not None:
                self._attempt(client, delivery)

    def _next(self) -> _Delivery | None:
        with self._wake:
            while not self._stopping:
                wait = self._queue[0].due - time.monotonic() if self._queue else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._queue)
                self._wake.wait(wait)
            return None

    def _attempt(self, client: httpx.Client, delivery: _Delivery) -> None:
        delivery.attempts += 1
        try:
            answer = client.post(
                delivery.url, content=delivery.body, headers={"Content-Type": "application/json"}
            )
            ok = answer.is_success
        except httpx.HTTPError:
            ok = False
        if ok:
            self._stats.count_hook("delivered")
        else:
            self._stats.count_hook("failed_attempts")
            self._retry_or_give_up(delivery)
        with self._wake:
            self._stats.set_hook_pending(len(self._queue))

    def _retry_or_give_up(self, delivery: _Delivery) -> None:
        policy = self._policy
        pause = min(policy.max_delay, policy.first_delay * 2 ** (delivery.attempts - 1))
        delivery.due = time.monotonic() + pause
        if delivery.due - delivery.started > policy.give_up_after:
            self._stats.count_hook("given_up")
            return
        with self._wake:
            heapq.heappush(self._queue, delivery)

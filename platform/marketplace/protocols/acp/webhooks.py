"""ACP order events (`order_create`, `order_update`) delivered to the agent's webhook.

Delivery never holds up a request: events are queued and sent by one background thread with
httpx, each tried a bounded number of times with a growing pause, then dropped and counted. Each
body is signed with HMAC-SHA256 under the webhook's secret (`Merchant-Signature`, hex), as the
ACP webhook spec asks; the receiver recomputes it over the raw body.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

MAX_QUEUED = 1000
KEPT_OUTCOMES = 200


def sign_body(secret: str, body: bytes) -> str:
    """The `Merchant-Signature` of a body: hex HMAC-SHA256 under the webhook's secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one URL."""

    url: str
    secret: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What became of a delivery: its last status (None: no answer) and how many tries it took."""

    url: str
    type: str
    status: int | None
    attempts: int
    delivered: bool


class OrderEventSender:
    """A queue and one sending thread, started with the first event, stopped by `close()`."""

    def __init__(
        self,
        *,
        attempts: int = 3,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0
        self.outcomes: deque[Outcome] = deque(maxlen=KEPT_OUTCOMES)

    def send(self, url: str, secret: str, event: dict[str, Any]) -> bool:
        """Queue one event; False when the queue is full or the sender closed (it is dropped)."""
        if self._closed:
            return False
        try:
            self._queue.put_nowait(Delivery(url, secret, event))
        except queue.Full:
            self.dropped += 1
            log.warning("order event for %s dropped: the webhook queue is full", url)
            return False
        self._start()
        return True

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="acp-order-events", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Stop after the event being sent; what is still queued is dropped (shutdown hook)."""
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.timeout_s + 1)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while True:
                delivery = self._queue.get()
                if delivery is None or self._closed:
                    return
                self.outcomes.append(self._deliver(client, delivery))

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> Outcome:
        body = json.dumps(delivery.event, separators=(",", ":")).encode("utf-8")
        headers = {
            "content-type": "application/json",
            "merchant-signature": sign_body(delivery.secret, body),
            "request-id": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        status: int | None = None
        kind = str(delivery.event.get("type", ""))
        for attempt in range(1, self.attempts + 1):
            try:
                status = client.post(delivery.url, content=body, headers=headers).status_code
            except httpx.HTTPError as exc:
                status = None
                log.info("order event to %s failed (try %d): %s", delivery.url, attempt, exc)
            if status is not None and 200 <= status < 300:
                return Outcome(delivery.url, kind, status, attempt, True)
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                break  # the receiver refuses this event; sending it again changes nothing
            if attempt < self.attempts and not self._closed:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
        log.warning("order event to %s not delivered (last status %s)", delivery.url, status)
        return Outcome(delivery.url, kind, status, attempt, False)

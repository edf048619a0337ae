"""A background thread that runs a batch job every few hundred milliseconds, only while needed.

Write-behind queues (history rows, the gate's decision log) drain on such a tick. The thread
starts with the first queued item and stops by itself after a while without work, so an app that
is dropped without a shutdown leaves no thread polling a database that may be gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

IDLE_STOP_S = 5.0


class BackgroundTick:
    """Calls `job()` (which returns how many items it handled) every `interval_s`."""

    def __init__(
        self,
        name: str,
        job: Callable[[], int],
        *,
        interval_s: float,
        has_work: Callable[[], bool],
        on_idle_stop: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._job = job
        self._has_work = has_work
        self._on_idle_stop = on_idle_stop
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def ensure_running(self) -> None:
        """Start the thread unless it runs (or the tick was closed)."""
        if self._thread is not None or self._closed:
            return
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Run the job now rather than at the next interval (e.g. a batch filled up)."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and wait for its last job; the owner then does the final one."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        idle = 0.0
        try:
            while not self._closed:
                self._wake.wait(self.interval_s)
                self._wake.clear()
                try:
                    done = self._job()
                except Exception:
                    log.exception("%s: the background job failed, will retry", self.name)
                    done = 0
                idle = 0.0 if done else idle + self.interval_s
                if idle >= IDLE_STOP_S:
                    if self._on_idle_stop is not None:
                        self._on_idle_stop()
                    break
        finally:
            with self._lock:
                self._thread = None
            if self._has_work() and not self._closed:
                self.ensure_running()  # work arrived while the thread was stopping

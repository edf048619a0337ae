"""Run async code from synchronous code, whatever event loop the caller already runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio

T = TypeVar("T")


def run_in_own_loop(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` to completion on an event loop of a thread of its own.

    `asyncio.run` refuses to start in a thread whose loop is running, which is the case under a
    notebook, Playwright's sync API or the scenario runner; a fresh thread has none.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="own-loop") as runner:
        return runner.submit(anyio.run, work).result()

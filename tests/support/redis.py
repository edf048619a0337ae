"""A throwaway redis-server on a free loopback port, for the Redis-backed shared state."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox.liveserver import free_port


def find_redis_server() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server(folder: Path, executable: str) -> Iterator[str]:
    """Start redis-server (no persistence) in `folder`; yields its URL, stops it on exit."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [executable, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

"""Serve an ASGI app over real HTTP on a free loopback port, in a background thread."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from marketplace.core.server import BoundedHttpToolsProtocol, bounded_protocol


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(
    url: str,
    process: subprocess.Popen[Any],
    *,
    timeout_s: float = 60,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Wait until the server `process` started answers `GET {url}/healthz` with 200.

    Raises RuntimeError, with the tail of `output()` (its log), when the process exits first or
    `timeout_s` passes; a process that did not come up in time is stopped first, so reading its
    output cannot block.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited: {output()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"the server at {url} was not up after {timeout_s:g} s: {output()[-2000:]}"
            )
        time.sleep(0.2)


def proxy_options(trusted_proxies: Sequence[str]) -> dict[str, Any]:
    """uvicorn's options for `SANDBOX_TRUSTED_PROXIES`: forwarded headers from those peers only.

    uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, which would let any
    local client pick its own address (and so its own rate-limit bucket).
    """
    if not trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted_proxies)}


class LiveServer:
    """uvicorn in a thread; `with LiveServer(app) as server: httpx.get(server.url + "/healthz")`.

    Served like `sandbox serve` serves it: with the protocol that bounds request heads, at the
    app's `max_header_bytes` (default: the settings from the environment).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        trusted_proxies: Sequence[str] = (),
        max_header_bytes: int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            http=bounded_protocol(max_header_bytes)
            if max_header_bytes
            else BoundedHttpToolsProtocol,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
            **proxy_options(trusted_proxies),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server on {self.url} did not start in {timeout_s}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""How uvicorn serves the platform: its HTTP protocol with a bound on the request head.

uvicorn's httptools protocol keeps no limit on the request line and headers, and both httptools
(a header value) and uvicorn (the URL) grow them by concatenation, chunk after chunk, so a head of
tens of megabytes costs seconds of the event loop before the app sees the request. The bounded
protocol stops reading a head at `HEAD_READ_FACTOR` times `SANDBOX_MAX_HEADER_BYTES` and answers
the same 431 problem the app gives (core/bounds.py) for heads between the limit and that cap, so
the configured limit is the one a client reads either way.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from marketplace.core.bounds import HEADERS_TOO_LARGE, headers_too_large_detail
from marketplace.core.errors import PROBLEM_JSON, clip, problem_body
from marketplace.core.settings import get_settings

# The app answers heads up to this multiple of its limit itself, with the request's own path.
HEAD_READ_FACTOR = 4
# After refusing a head, what the client still sends is dropped until it stops for this long.
DRAIN_IDLE_S = 1.0


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over the cap with 431."""

    # The app's limit; None reads it from the settings (as `sandbox serve`'s workers do).
    max_header_bytes: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.max_header_bytes or get_settings().max_header_bytes
        self._limit = limit
        self._head_cap = limit * HEAD_READ_FACTOR
        self._head_bytes = 0
        self._in_head = True
        self._head_ended = False
        self._refused = False
        self._drain_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._drain(data)
            return
        self._head_ended = False
        super().data_received(data)
        # Bytes of a chunk in which a head ended are not counted: at most one chunk of slack.
        if self._in_head and not self._head_ended:
            self._head_bytes += len(data)
            if self._head_bytes > self._head_cap:
                self._refuse_when_idle()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_ended = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._head_ended = True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._head_bytes > self._head_cap:
            self._refuse_when_idle()  # a pipelined head grew too large meanwhile

    def connection_lost(self, exc: Exception | None) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        super().connection_lost(exc)

    def _refuse_when_idle(self) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.flow.pause_reading()  # answer once the response in flight is written
            return
        self._refuse()

    def _refuse(self) -> None:
        """Answer 431 now, then drop the rest of the head and close once the client stops."""
        self._refused = True
        url = getattr(self, "url", b"") or b"/"
        instance = clip(url.split(b"?", 1)[0].decode("latin-1"))
        body = problem_body(
            431,
            HEADERS_TOO_LARGE,
            headers_too_large_detail(self._limit),
            type_slug="headers-too-large",
            instance=instance,
        )
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            + f"content-type: {PROBLEM_JSON}\r\ncontent-length: {len(content)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + content
        )
        self._drain(b"")

    def _drain(self, data: bytes) -> None:
        # Closing while the client still sends would reset the connection before it reads the
        # answer; dropping its bytes costs nothing, and the connection closes once it is quiet.
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        self._drain_timer = self.loop.call_later(DRAIN_IDLE_S, self.transport.close)


def bounded_protocol(max_header_bytes: int) -> type[BoundedHttpToolsProtocol]:
    """The bounded protocol for an explicit limit (an app built from its own `Settings`)."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes},
    )


# `sandbox serve` names the protocol by import path, so every worker process can load it.
PROTOCOL_PATH = f"{__name__}:BoundedHttpToolsProtocol"

"""Bounded requests: the outermost layer refuses oversized heads, bodies and JSON before parsing.

Nothing behind it (the gate, cookie parsing, routing, JSON decoding, validation) ever sees a request
line plus headers over `max_header_bytes` (431), a body over `max_body_bytes` (413, refused by its
Content-Length before a byte of it is read, or as soon as a chunked body passes the limit), or a
JSON body nested deeper than `max_json_depth` or with more than `max_json_members` members and
items (413). The JSON check scans the bytes with a few C-speed passes and builds no Python object,
so a hostile body costs the event loop about as much as copying it.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.core.errors import problem_response

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SAME_BRACKETS = bytes.maketrans(b"{}", b"[]")
_JSON_WHITESPACE = b" \t\r\n"
HEADERS_TOO_LARGE = "Request headers too large"


def headers_too_large_detail(limit: int) -> str:
    return (
        f"The request line and headers are larger than {limit:,} bytes; send a shorter URL, "
        "fewer or shorter headers (cookies included)."
    )


@dataclass(frozen=True)
class Limits:
    """The bounds one app enforces (from `Settings`)."""

    header_bytes: int
    body_bytes: int
    json_depth: int
    json_members: int


def header_bytes(scope: Scope) -> int:
    """Bytes of the request line and headers as they were on the wire (give or take a space)."""
    total = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + 12
    total += len(scope.get("query_string", b"")) + 1
    for name, value in scope.get("headers", ()):
        total += len(name) + len(value) + 4  # ": " and CRLF
    return total


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """The Content-Length (None when absent) and whether a body may follow at all."""
    length: int | None = None
    may_have_body = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            digits = value.strip()
            # uvicorn refuses any other value; elsewhere the body is read up to the limit.
            length = (int(digits) if len(digits) <= 18 else 2**63) if digits.isdigit() else None
            may_have_body = may_have_body or length != 0
        elif name == b"transfer-encoding":
            may_have_body = True
    return length, may_have_body


def _is_json(scope: Scope) -> bool:
    """True when FastAPI may decode the body as JSON: a JSON content type, or none at all
    (read as JSON unless FastAPI's strict content-type check is on)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return True


def json_shape_problem(body: bytes, *, max_depth: int, max_members: int) -> str | None:
    """A sentence when `body`, read as JSON, is too deep or has too many members; else None.

    Counted on the bytes alone: strings are cut out, then commas and brackets are counted and
    matched pairs peeled off level by level. Malformed JSON is left for the JSON parser to
    report, unless it already looks too large.
    """
    opens = body.count(b"{") + body.count(b"[")
    if opens <= max_depth and body.count(b",") + opens <= max_members:
        return None  # bounds on the raw bytes, strings included, are already low enough
    # Without its escaped backslashes and quotes, every string is a plain "..." span: the parts
    # of a split at the quotes alternate between outside and inside a string.
    flat = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = b"0".join(flat.split(b'"')[::2]).translate(None, _JSON_WHITESPACE)
    brackets = skeleton.translate(_SAME_BRACKETS, _NOT_BRACKETS)
    too_deep = b"[" * (max_depth + 1) in brackets
    empties = skeleton.count(b"[]") + skeleton.count(b"{}")
    members = skeleton.count(b",") + brackets.count(b"[") - empties
    if members > max_members and not too_deep:
        return (
            f"The JSON body has more than {max_members:,} object members and array items "
            "(all levels together); send fewer."
        )
    if not too_deep:
        # Each round removes every innermost container, so depth d empties in d rounds.
        for _ in range(max_depth):
            if not brackets:
                break
            brackets = brackets.replace(b"[]", b"")
        too_deep = bool(brackets) and brackets.count(b"[") == brackets.count(b"]")
    if too_deep:
        return f"The JSON body nests deeper than {max_depth} levels; flatten it."
    return None


class RequestBounds:
    """ASGI layer, outermost: refuse what is too large before anything else reads it."""

    def __init__(self, app: ASGIApp, *, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        if header_bytes(scope) > limits.header_bytes:
            await _refuse(
                scope,
                receive,
                send,
                431,
                HEADERS_TOO_LARGE,
                headers_too_large_detail(limits.header_bytes),
                type_slug="headers-too-large",
            )
            return
        length, may_have_body = _declared_length(scope)
        if not may_have_body:
            await self.app(scope, receive, send)
            return
        too_large = (
            f"The request body is larger than {limits.body_bytes:,} bytes; send a smaller one."
        )
        # Refused by its declared length before a byte is read, or once the limit is passed.
        declared_too_large = length is not None and length > limits.body_bytes
        body = None if declared_too_large else await _read_body(receive, limits.body_bytes)
        if body is None:
            await _refuse(
                scope,
                receive,
                send,
                413,
                "Request too large",
                too_large,
                type_slug="body-too-large",
            )
            return
        if body and _is_json(scope):
            problem = json_shape_problem(
                body, max_depth=limits.json_depth, max_members=limits.json_members
            )
            if problem is not None:
                await _refuse(
                    scope,
                    receive,
                    send,
                    413,
                    "Request too large",
                    problem,
                    type_slug="json-too-large",
                )
                return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` (nothing more is kept)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees what arrived
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body that was read in one message, then the server's own messages (disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    title: str,
    detail: str,
    type_slug: str,
) -> None:
    # Only what the answer needs: never hand the oversized headers to anything else.
    small = {
        **scope,
        "headers": [(n, v) for n, v in scope.get("headers", ()) if n == b"accept" and len(v) < 512],
    }
    response = problem_response(Request(small), status, title, detail, type_slug)
    await response(small, receive, send)

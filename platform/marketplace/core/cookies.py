"""Reading the Cookie header in linear time, the same way in the gate and in the app.

Python before 3.11.10 / 3.12.6 unquotes cookie values in quadratic time (CVE-2024-7592), and
Starlette's `request.cookies` goes through that unquoting: one request with a long quoted cookie
held the event loop for seconds. This parser follows RFC 6265: a value is a run of cookie octets,
optionally inside one pair of double quotes, so unquoting is dropping that pair; backslash escapes
(RFC 2109) are not decoded. Otherwise it reads a header exactly as Starlette does (pairs split on
`;`, the later of two equal names wins), so `install()` can hand it to Starlette for every
`request.cookies` in the process, FastAPI's cookie parameters included.

A request that carries the session cookie twice (`nile_session=a; nile_session=b`) is refused by
`DuplicateCookieGuard`: which copy counts would otherwise depend on who reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

import starlette.requests
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from marketplace.core.errors import problem_response
from marketplace.core.security import SESSION_COOKIE

# Cookies whose value decides who a request belongs to: present at most once per request.
SINGLE_COOKIES = (SESSION_COOKIE,)


def unquote(value: str) -> str:
    """The value inside one pair of surrounding double quotes, else the value itself."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def parse_cookie_header(cookie_string: str) -> dict[str, str]:
    """`a=1; b="2"` -> {"a": "1", "b": "2"}, in time linear in the header's length."""
    # The parameter is named as in Starlette's `cookie_parser`, which this replaces.
    cookies: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        if "=" in chunk:
            name, value = chunk.split("=", 1)
        else:
            # A bare token: a nameless cookie, as browsers and Starlette read it.
            name, value = "", chunk
        name, value = name.strip(), value.strip()
        if name or value:
            cookies[name] = unquote(value)
    return cookies


def cookie_values(headers: Iterable[str], name: str) -> list[str]:
    """Every value of cookie `name` across the Cookie headers, in order."""
    prefix = name + "="
    values: list[str] = []
    for header in headers:
        if prefix not in header:
            continue
        for chunk in header.split(";"):
            key, sep, value = chunk.partition("=")
            if sep and key.strip() == name:
                values.append(unquote(value.strip()))
    return values


def install() -> None:
    """Make Starlette (and so FastAPI) read every Cookie header with `parse_cookie_header`."""
    # Starlette looks `cookie_parser` up in its module on each call; this is the one place to
    # replace the quadratic unquoting for every Request object, whoever creates it.
    starlette.requests.cookie_parser = parse_cookie_header


def duplicated_cookie(scope: Scope) -> str | None:
    """The first of `SINGLE_COOKIES` that the request carries more than once, or None."""
    headers = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name.lower() == b"cookie"
    ]
    if not headers:
        return None
    for name in SINGLE_COOKIES:
        if len(cookie_values(headers, name)) > 1:
            return name
    return None


class DuplicateCookieGuard:
    """Pure ASGI middleware: a request with two session cookies gets 400 before any handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = duplicated_cookie(scope)
            if name is not None:
                response = problem_response(
                    Request(scope),
                    400,
                    "One session cookie per request",
                    f"This request carries the cookie '{name}' more than once. Send it once: "
                    "clear this site's cookies in the browser, or keep one copy in the Cookie "
                    "header.",
                    "duplicate-cookie",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

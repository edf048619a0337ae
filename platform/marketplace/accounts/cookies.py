"""Sets the session cookie that a request asked for, whatever kind of response it returns."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.core.security import SESSION_COOKIE


class SessionCookieMiddleware:
    """Pure ASGI middleware: HTML pages and JSON routes alike get the cookie they asked for."""

    def __init__(self, app: ASGIApp, *, max_age_s: int, secure: bool) -> None:
        self.app = app
        self.max_age_s = max_age_s
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = scope.get("state", {}).get("session_cookie")
                if value is not None:
                    headers = MutableHeaders(scope=message)
                    headers.append("set-cookie", self._cookie(value))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, value: str) -> str:
        parts = [f"{SESSION_COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={self.max_age_s if value else 0}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

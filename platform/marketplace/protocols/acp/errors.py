"""Every ACP error in ACP's flat shape `{type, code, message, param}`, never problem+json.

ACP's routes use `AcpRoute`: whatever their handler raises (the core's problems, a body that does
not validate, an HTTP error) is raised again as `AcpFailure`. Raising, rather than answering
inside the route, lets the request's session roll back first, idempotency claim included; the
app's handler for `AcpFailure` (installed by `install_acp_errors`) then writes the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from marketplace.core.errors import OWN_ERROR_SHAPE, ProblemError, clip

# The core's problem types, by the ACP code an agent can act on.
CODES = {
    "protocol-checkout-not-found": "not_found",
    "protocol-checkout-closed": "checkout_closed",
    "protocol-out-of-stock": "out_of_stock",
    "protocol-insufficient-stock": "out_of_stock",
    "protocol-item-not-found": "invalid",
    "protocol-checkout-invalid": "invalid",
    "protocol-payment-declined": "payment_declined",
    "protocol-idempotency-key-invalid": "invalid",
    "acp-test-token-required": "invalid",
}
PARAMS = {
    "protocol-item-not-found": "$.items",
    "protocol-insufficient-stock": "$.items",
    "protocol-payment-declined": "$.payment_data.token",
    "acp-test-token-required": "$.payment_data.token",
}


class AcpFailure(Exception):
    """An ACP error answer: status, ACP error object, extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        error_type: str = "invalid_request",
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": error_type, "code": code, "message": message}
        if param is not None:
            self.body["param"] = param
        self.body.update(extra or {})
        self.headers = headers or {}


def json_path(loc: Sequence[Any]) -> str:
    """A pydantic error location as an RFC 9535 JSONPath (`$.items[0].quantity`)."""
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def from_validation(errors: Sequence[Any]) -> AcpFailure:
    first = dict(errors[0]) if errors else {"loc": (), "msg": "is invalid", "type": ""}
    loc = [p for p in first.get("loc", ()) if p != "body"]
    code = "missing" if first.get("type") == "missing" else "invalid"
    where = json_path(loc)
    more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return AcpFailure(
        400, code, f"{where}: {clip(str(first.get('msg', '')), 200)}.{more}", param=where
    )


def from_problem(exc: ProblemError) -> AcpFailure:
    status = exc.status
    error_type = "processing_error" if status >= 500 else "invalid_request"
    return AcpFailure(
        status,
        CODES.get(exc.type_slug, exc.type_slug.replace("-", "_")),
        exc.detail,
        param=PARAMS.get(exc.type_slug),
        error_type=error_type,
        headers=dict(exc.headers or {}),
    )


class AcpRoute(APIRoute):
    """A route whose every error leaves as an AcpFailure (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # /openapi.json documents this route's errors as ACP error objects, not problem+json.
        self.openapi_extra = {**(self.openapi_extra or {}), OWN_ERROR_SHAPE: True}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def acp_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except AcpFailure:
                raise
            except RequestValidationError as exc:
                raise from_validation(exc.errors()) from None
            except ValidationError as exc:
                raise from_validation(exc.errors()) from None
            except ProblemError as exc:
                raise from_problem(exc) from None
            except HTTPException as exc:
                raise AcpFailure(
                    exc.status_code, "invalid", str(exc.detail), headers=dict(exc.headers or {})
                ) from None

        return acp_handler


def install_acp_errors(app: FastAPI) -> None:
    """Answer AcpFailure in ACP's shape (the app factory calls this once)."""

    async def _acp_failure(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AcpFailure)
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    app.add_exception_handler(AcpFailure, _acp_failure)

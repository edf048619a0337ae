"""Errors as RFC 9457 problem details, with a sentence a person can act on."""

from __future__ import annotations

import html
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# An answer to an invalid request stays a few KiB, whatever the request held.
MAX_LISTED_ERRORS = 20
MAX_ECHO_CHARS = 200


def clip(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`text`, cut to `limit` characters (with an ellipsis) when it echoes what a client sent."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProblemError(Exception):
    """An error that becomes a problem+json response; raise it from services and routes."""

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        type_slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if type_slug is not None:
            self.type_slug = type_slug
        self.headers = headers or {}
        self.extra = extra


class NotFound(ProblemError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class Unauthorized(ProblemError):
    status = 401
    type_slug = "unauthorized"
    title = "Log in first"


class Forbidden(ProblemError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class Unprocessable(ProblemError):
    status = 422
    type_slug = "invalid-request"
    title = "Invalid request"


def problem_body(
    status: int, title: str, detail: str, type_slug: str, instance: str, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 body; `type` is a stable relative URI clients can branch on."""
    body: dict[str, Any] = {
        "type": f"/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": clip(instance),
    }
    body.update(extra)
    return body


def wants_html(request: Request) -> bool:
    """Browsers get an HTML page; API clients and everything under /api get problem+json."""
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    type_slug: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response, or the same message as an HTML page for a browser."""
    if wants_html(request):
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><link rel='stylesheet' href='/static/store.css'>"
            "</head><body><main class='container problem'>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p>"
            "<p><a href='/'>Back to the store</a></p></main></body></html>"
        )
        return HTMLResponse(page, status_code=status, headers=headers)
    body = problem_body(status, title, detail, type_slug, request.url.path, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def install_error_handlers(app: FastAPI) -> None:
    """Map every error, expected or not, to a problem response: no request ends in a bare 500."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            request, exc.status, exc.title, exc.detail, exc.type_slug, exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        found = exc.errors()
        errors = [
            {
                "field": clip(_field_path(err.get("loc", ()))),
                "message": clip(str(err.get("msg", "")), 2 * MAX_ECHO_CHARS),
            }
            for err in found[:MAX_LISTED_ERRORS]
        ]
        first = errors[0] if errors else {"field": "request", "message": "is invalid"}
        detail = f"Field '{first['field']}': {first['message']}."
        extra: dict[str, Any] = {"errors": errors}
        if len(found) > MAX_LISTED_ERRORS:
            extra["errors_not_listed"] = len(found) - MAX_LISTED_ERRORS
            detail += (
                f" ({len(found) - 1} more problem(s): the first {MAX_LISTED_ERRORS} are listed "
                "in 'errors', 'errors_not_listed' counts the rest.)"
            )
        elif len(found) > 1:
            detail += f" ({len(found) - 1} more problem(s) listed in 'errors'.)"
        return problem_response(request, 422, "Invalid request", detail, "invalid-request", **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found" and wants_html(request):
            detail = (
                "There is no such page in the store. Search for what you need, or go back home."
            )
        elif exc.status_code == 404 and detail == "Not Found":
            detail = f"There is nothing at {clip(request.url.path)}. The API lives under /api/v1."
        elif exc.status_code == 405:
            detail = f"{clip(request.method, 16)} is not supported on {clip(request.url.path)}."
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(
            request, exc.status_code, _title_for(exc.status_code), detail, "http-error", headers
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> Response:
        log.warning("database unavailable: %s", exc.orig)
        return problem_response(
            request,
            503,
            "Service unavailable",
            "The store's database is unavailable right now; try again in a few seconds.",
            "database-unavailable",
            {"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> Response:
        log.error("database error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem_response(
            request,
            503,
            "Service unavailable",
            "The store could not complete this request; nothing was changed. Try again.",
            "database-error",
            {"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            "Internal error",
            "Something went wrong on our side and nothing was changed; try again.",
            "internal-error",
        )


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `detail` says what to change.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Stable relative URI to branch on."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "A sentence a person can act on."},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


# An operation that answers its errors in its protocol's own shape (the ACP door) says so with
# this OpenAPI extension; its declared 4xx content then stands instead of problem+json.
OWN_ERROR_SHAPE = "x-own-error-shape"


def _own_error_content(responses: dict[str, Any]) -> dict[str, Any] | None:
    for code, response in responses.items():
        content = response.get("content") if isinstance(response, dict) else None
        if code[:1] == "4" and code != "422" and content:
            return dict(content)
    return None


def document_problems(app: FastAPI) -> None:
    """Describe error responses in /openapi.json as they are sent: problem+json, on every route.

    FastAPI documents its own 422 body (`HTTPValidationError`, application/json), which this app
    never sends; and any route can answer 4xx (the gate refuses with 402/403/429) or 503 when the
    database is down. Clients generated from the schema must be able to parse all of them.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses")
                if not isinstance(responses, dict):
                    continue
                refused = content
                if operation.pop(OWN_ERROR_SHAPE, False):
                    refused = _own_error_content(responses) or content
                for code, response in responses.items():
                    if code[:1] == "4":
                        response["content"] = refused
                    elif code[:1] == "5":
                        response["content"] = content
                responses.setdefault("4XX", {"description": "Refused; see the problem's detail."})
                responses["4XX"]["content"] = refused
                responses.setdefault(
                    "503", {"description": "The database is unavailable; retry shortly."}
                )["content"] = content
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _title_for(status: int) -> str:
    return {
        400: "Bad request",
        401: "Log in first",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Request too large",
        415: "Unsupported media type",
        422: "Invalid request",
        429: "Too many requests",
    }.get(status, "Error")

"""/problems and /problems/<slug>: what each problem `type` means, as HTML or JSON.

Browsers (Accept: text/html) get a page; every other client gets JSON. The gate lets every visitor
read these pages under every preset (route class `robots`, with robots.txt and the public rules).
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from marketplace.core.errors import NotFound
from marketplace.core.problem_types import PROBLEM_TYPES, PROBLEMS_PATH, ProblemType

router = APIRouter(tags=["problems"])

_HEADERS = {"Cache-Control": "public, max-age=3600", "Vary": "Accept"}
_HTML_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}}
}


class ProblemTypeOut(BaseModel):
    type: str
    slug: str
    title: str
    status: int | None
    when: str
    what_to_do: str


class ProblemTypeList(BaseModel):
    items: list[ProblemTypeOut]
    total: int


def _out(problem: ProblemType) -> ProblemTypeOut:
    return ProblemTypeOut(
        type=problem.uri,
        slug=problem.slug,
        title=problem.title,
        status=problem.status,
        when=problem.when,
        what_to_do=problem.what_to_do,
    )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(title: str, body: str) -> HTMLResponse:
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><link rel='stylesheet' href='/static/store.css'>"
        f"</head><body><main class='container problem'>{body}</main></body></html>"
    )
    return HTMLResponse(page, headers=_HEADERS)


@router.get(
    PROBLEMS_PATH,
    summary="Every problem type the API answers with",
    description="The `type` of every problem+json answer is `/problems/<slug>`; this lists them "
    "all with their status, when each happens and what to do. HTML for browsers "
    "(Accept: text/html), JSON otherwise.",
    response_model=ProblemTypeList,
    responses=_HTML_OR_JSON,
)
def list_problem_types(request: Request) -> Response:
    problems = sorted(PROBLEM_TYPES.values(), key=lambda p: p.slug)
    if _wants_html(request):
        rows = "".join(
            f"<li><a href='{html.escape(p.uri)}'><code>{html.escape(p.slug)}</code></a> "
            f"({p.status or 'varies'}): {html.escape(p.title)}</li>"
            for p in problems
        )
        return _page(
            "Problem types",
            "<h1>Problem types</h1><p>Every error answer of this store is "
            "<code>application/problem+json</code> (RFC 9457); its <code>type</code> is one of "
            f"these.</p><ul>{rows}</ul>",
        )
    listing = ProblemTypeList(items=[_out(p) for p in problems], total=len(problems))
    return JSONResponse(listing.model_dump(), headers=_HEADERS)


@router.get(
    PROBLEMS_PATH + "/{slug}",
    summary="What one problem type means and what to do about it",
    description="HTML for browsers (Accept: text/html), JSON otherwise.",
    response_model=ProblemTypeOut,
    responses=_HTML_OR_JSON,
)
def get_problem_type(
    request: Request, slug: Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9-]+$")]
) -> Response:
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise NotFound(f"There is no problem type {slug!r}; {PROBLEMS_PATH} lists them all.")
    if _wants_html(request):
        status = str(problem.status) if problem.status else "varies (the problem's status says)"
        return _page(
            problem.title,
            f"<h1>{html.escape(problem.title)}</h1>"
            f"<p><code>type: {html.escape(problem.uri)}</code> · status {html.escape(status)}</p>"
            f"<h2>When it happens</h2><p>{html.escape(problem.when)}</p>"
            f"<h2>What to do</h2><p>{html.escape(problem.what_to_do)}</p>"
            f"<p><a href='{PROBLEMS_PATH}'>Every problem type</a> · "
            "<a href='/api/v1/policy/public'>The store's rules</a> · <a href='/'>The store</a></p>",
        )
    return JSONResponse(_out(problem).model_dump(), headers=_HEADERS)

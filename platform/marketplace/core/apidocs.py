"""/docs (Swagger UI) and /redoc (ReDoc) served with their scripts from the installed package.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank offline, in a closed
classroom network, or wherever the CDN is blocked. The `fastapi-offline` package ships the same
assets; they are mounted under /static so the gate classes them as assets.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/static/api-docs"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
# Both pages start their viewer with an inline script. Everything else comes from this store: the
# browser itself refuses any outside fetch, e.g. the Redocly logo ReDoc would load from its CDN.
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _assets_dir() -> Path:
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install_api_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from local assets; mount before any broader /static mount."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_PATH}/favicon.png"

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            # No badge fetched from the public validator: the page makes no outside request.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = PAGE_CSP
        return page

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title}: ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = PAGE_CSP
        return page

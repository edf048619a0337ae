"""The page a browser refused with `challenge` gets: the refusal, and a way through for a person.

Its script (`/static/challenge.js`) solves the page's proof and posts it; on success it reloads a
page that was fetched with GET, or goes back to the form that was sent. Without JavaScript the
page stays what it says: a refusal, with what to do.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from marketplace.gate.identity.challenge import CHALLENGE_PATH, DIFFICULTY_BITS

CHALLENGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def challenge_page(*, title: str, detail: str, token: str, method: str) -> HTMLResponse:
    """The 403 challenge page for a browser, with the token its script proves work for."""
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><link rel='stylesheet' href='/static/store.css'>"
        "</head><body><main class='container problem challenge'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p>"
        # The script replaces this sentence as it starts, so it stays only without JavaScript.
        "<p id='challenge-status' role='status' aria-live='polite'>"
        "This check needs JavaScript: turn it on and reload the page.</p>"
        "<p><a href='/'>Back to the store</a></p></main>"
        f"<script src='/static/challenge.js' data-token='{html.escape(token)}' "
        f"data-bits='{DIFFICULTY_BITS}' data-endpoint='{CHALLENGE_PATH}' "
        f"data-method='{html.escape(method)}' defer></script>"
        "</body></html>"
    )
    response = HTMLResponse(page, status_code=403)
    response.headers["Content-Security-Policy"] = CHALLENGE_CSP
    response.headers["Cache-Control"] = "no-store"
    return response

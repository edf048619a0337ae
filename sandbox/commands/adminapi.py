"""Calling a running platform's admin API from the CLI: the token, the options, one POST."""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

err_console = Console(stderr=True)

TargetOption = Annotated[str, typer.Option(help="The running platform (sandbox serve).")]
AdminTokenOption = Annotated[
    str | None, typer.Option(help="The platform's admin token (default: SANDBOX_ADMIN_TOKEN).")
]


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(2)


def admin_token(given: str | None) -> str:
    token = given or os.environ.get("SANDBOX_ADMIN_TOKEN")
    if not token:
        fail("give --admin-token or set SANDBOX_ADMIN_TOKEN (the platform's admin token)")
    return str(token)


def post(url: str, token: str, payload: dict[str, Any] | None, expected: int) -> dict[str, Any]:
    """POST to the admin API; a refusal or an unreachable platform ends the command (exit 2)."""
    target = url.split("/api/", 1)[0]
    try:
        response = httpx.post(
            url, json=payload, headers={"authorization": f"Bearer {token}"}, timeout=120
        )
    except httpx.HTTPError as exc:
        fail(f"could not reach {target}: {exc}; is `sandbox serve` running there?")
        raise  # unreachable
    if response.status_code != expected:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.reason_phrase
        fail(f"the platform refused ({response.status_code}): {detail}")
    body: dict[str, Any] = response.json()
    return body

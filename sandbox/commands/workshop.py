"""`sandbox workshop`: start a workshop on a running platform and print the teams' handout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(2)


def handout_markdown(target: str, body: dict[str, Any]) -> str:
    """The sheet to hand each team: the challenge, how to reach the store, its credentials."""
    product = body["product"]
    lines = [
        "# Workshop handout",
        "",
        f"Store: {target}  ·  scoreboard: {target}/workshop",
        "",
        f"**The challenge:** get an outside agent to order *{product['title']}* "
        f"(product {product['id']}) without being refused by the gate.",
        "",
        "Log in as your team (POST /api/v1/sessions with the email and password, or send the "
        "token as `Authorization: Bearer <token>`). Every request your team makes is in the gate's "
        "log; `sandbox probe --target URL --user-agent UA` shows what the gate answers to an "
        "identity. docs/agent-developers.md explains signing with Web Bot Auth.",
        "",
        "| team | email | password | token |",
        "|---|---|---|---|",
    ]
    for team in body["teams"]:
        lines.append(
            f"| {team['team']} | {team['email']} | `{team['password']}` | "
            f"`{team['access_token']}` |"
        )
    return "\n".join(lines) + "\n"


def workshop(
    teams: Annotated[int, typer.Option(min=1, max=200, help="How many teams.")],
    target: Annotated[
        str, typer.Option(help="The running platform (sandbox serve).")
    ] = "http://127.0.0.1:8000",
    admin_token: Annotated[
        str | None, typer.Option(help="The platform's admin token (default: SANDBOX_ADMIN_TOKEN).")
    ] = None,
    product: Annotated[
        int | None, typer.Option(help="Challenge product id (default: the most reviewed).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the handout (Markdown).")] = Path(
        "workshop-handout.md"
    ),
) -> None:
    """Create team accounts and tokens on a running platform and print the handout.

    Example: sandbox workshop --teams 10 --target http://127.0.0.1:8000
    The scoreboard is then at TARGET/workshop; `GET /api/v1/decisions?team=team-01` filters the
    gate's log by team.
    """
    token = admin_token or os.environ.get("SANDBOX_ADMIN_TOKEN")
    if not token:
        _fail("give --admin-token or set SANDBOX_ADMIN_TOKEN (the platform's admin token)")
    target = target.rstrip("/")
    payload: dict[str, Any] = {"teams": teams}
    if product is not None:
        payload["product_id"] = product
    try:
        response = httpx.post(
            f"{target}/api/v1/admin/workshop",
            json=payload,
            headers={"authorization": f"Bearer {token}"},
            timeout=120,
        )
    except httpx.HTTPError as exc:
        _fail(f"could not reach {target}: {exc}; is `sandbox serve` running there?")
        raise  # unreachable
    if response.status_code != 201:
        detail = response.json().get("detail") if response.content else response.reason_phrase
        _fail(f"the platform refused ({response.status_code}): {detail}")
    body = response.json()
    table = Table(title=f"Workshop: order product {body['product']['id']} through an agent")
    for column in ("Team", "Email", "Password", "Token"):
        table.add_column(column)
    for team in body["teams"]:
        table.add_row(team["team"], team["email"], team["password"], team["access_token"])
    console.print(table)
    out.write_text(handout_markdown(target, body), encoding="utf-8")
    console.print(f"Handout written to [bold]{out}[/]; scoreboard at {target}/workshop")


def register(app: typer.Typer) -> None:
    """Add `workshop` to the `sandbox` CLI."""
    app.command(name="workshop")(workshop)

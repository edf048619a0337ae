"""`sandbox workshop`: start a workshop on a running platform and print the handout; reinstate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sandbox.commands import adminapi
from sandbox.commands.adminapi import AdminTokenOption, TargetOption, fail, post
from sandbox.network import is_loopback, lan_addresses, with_host

console = Console()

workshop_app = typer.Typer(
    name="workshop",
    help="Start a workshop (team accounts, tokens, the challenge) or reinstate a team.",
)


def participants_url(target: str, public_url: str | None) -> str:
    """The store's address for the handout: `public_url`, or `target` as the network sees it."""
    if public_url:
        return public_url.rstrip("/")
    host = urlsplit(target).hostname or ""
    if is_loopback(host):
        addresses = lan_addresses()
        if addresses:
            return with_host(target, addresses[0])
    return target


def handout_markdown(target: str, body: dict[str, Any]) -> str:
    """The sheets to hand out: one per team, each with only that team's credentials.

    Nobody should see another team's token or password: with them, anyone can act as that team.
    """
    product = body["product"]
    sheets = []
    for team in body["teams"]:
        sheets.append(
            "\n".join(
                [
                    f"# Workshop handout: {team['team']}",
                    "",
                    f"Store: {target}  ·  scoreboard: {target}/workshop",
                    "",
                    f"**The challenge:** get an outside agent to order *{product['title']}* "
                    f"(product {product['id']}) without being refused by the gate.",
                    "",
                    "Log in as your team (POST /api/v1/sessions with the email and password, or "
                    "send the token as `Authorization: Bearer <token>`). Every request your team "
                    "makes is in the gate's log; `sandbox probe --target URL --user-agent UA` "
                    "shows what the gate answers to an identity. docs/agent-developers.md "
                    "explains signing with Web Bot Auth.",
                    "",
                    "| team | email | password | token |",
                    "|---|---|---|---|",
                    f"| {team['team']} | {team['email']} | `{team['password']}` | "
                    f"`{team['access_token']}` |",
                    "",
                    "Keep this sheet within your team: whoever holds the token or the password "
                    "can act as your team.",
                    "",
                ]
            )
        )
    # A page break between sheets when the Markdown is printed through HTML.
    return '\n<div style="page-break-after: always"></div>\n\n'.join(sheets)


@workshop_app.callback(invoke_without_command=True)
def workshop(
    ctx: typer.Context,
    teams: Annotated[int | None, typer.Option(min=1, max=200, help="How many teams.")] = None,
    target: TargetOption = "http://127.0.0.1:8000",
    admin_token: AdminTokenOption = None,
    product: Annotated[
        int | None, typer.Option(help="Challenge product id (default: the most reviewed).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Where to write the handout (Markdown, one sheet per team).")
    ] = Path("workshop-handout.md"),
    suspend: Annotated[
        bool,
        typer.Option(
            "--suspend/--no-suspend",
            help="Whether strikes may suspend team accounts (ordering refused). Off by default: "
            "teams are warned, never locked out.",
        ),
    ] = False,
    evict_squatters: Annotated[
        bool,
        typer.Option(
            "--evict-squatters",
            help="Move shopper accounts that sit on a team's address to another address and log "
            "them out, instead of refusing to start.",
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="The store's address as participants reach it, printed on the handout. "
            "Default: TARGET, with a loopback host (127.0.0.1, localhost) replaced by this "
            "machine's first address on the local network.",
        ),
    ] = None,
) -> None:
    """Create team accounts and tokens on a running platform and print the handout.

    Example: sandbox workshop --teams 10 --target http://127.0.0.1:8000
    The store must listen on the network for that (sandbox serve --host 0.0.0.0).
    Starting again gives every team a new password and token, ends their earlier sessions and
    reinstates them. The scoreboard is then at TARGET/workshop; `GET /api/v1/decisions?team=
    team-01` filters the gate's log by team; `sandbox workshop reinstate team-03` lifts a
    team's suspension.
    """
    if ctx.invoked_subcommand is not None:
        return
    if teams is None:
        fail("give --teams N to start a workshop (or `sandbox workshop reinstate TEAM`)")
    token = adminapi.admin_token(admin_token)
    target = target.rstrip("/")
    payload: dict[str, Any] = {
        "teams": teams,
        "suspend_accounts": suspend,
        "evict_squatters": evict_squatters,
    }
    if product is not None:
        payload["product_id"] = product
    body = post(f"{target}/api/v1/admin/workshop", token, payload, 201)
    table = Table(title=f"Workshop: order product {body['product']['id']} through an agent")
    for column in ("Team", "Email", "Password", "Token"):
        table.add_column(column)
    for team in body["teams"]:
        table.add_row(team["team"], team["email"], team["password"], team["access_token"])
    console.print(table)
    public = participants_url(target, public_url)
    out.write_text(handout_markdown(public, body), encoding="utf-8")
    suspensions = "may suspend" if suspend else "warn but never suspend"
    console.print(
        f"Handout written to [bold]{escape(str(out))}[/] (one sheet per team: give each team "
        f"only its own); strikes {suspensions} team accounts; scoreboard at {public}/workshop"
    )
    if is_loopback(urlsplit(public).hostname or ""):
        console.print(
            f"[bold yellow]Note:[/] {escape(public)} is this machine only; participants need "
            "--public-url with an address they can reach"
        )


@workshop_app.command("reinstate")
def reinstate(
    team: Annotated[str, typer.Argument(help="The team, e.g. team-03.")],
    target: TargetOption = "http://127.0.0.1:8000",
    admin_token: AdminTokenOption = None,
) -> None:
    """Set a team's account back to active and forget its strikes.

    Example: sandbox workshop reinstate team-03 --target http://127.0.0.1:8000
    """
    token = adminapi.admin_token(admin_token)
    target = target.rstrip("/")
    url = f"{target}/api/v1/admin/workshop/teams/{quote(team, safe='')}/reinstate"
    body = post(url, token, None, 200)
    console.print(
        f"{escape(body['team'])}: {body['previous_status']} -> {body['status']} "
        f"({body['strikes_cleared']} strikes forgotten)"
    )


def register(app: typer.Typer) -> None:
    """Add `workshop` (and `workshop reinstate`) to the `sandbox` CLI."""
    app.add_typer(workshop_app)

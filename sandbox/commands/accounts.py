"""`sandbox accounts`: administer shopper accounts on a running platform (reinstate)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape

from sandbox.commands import adminapi
from sandbox.commands.adminapi import AdminTokenOption, TargetOption, post

console = Console()

accounts_app = typer.Typer(
    name="accounts",
    help="Administer shopper accounts on a running platform: reinstate a warned or suspended one.",
    no_args_is_help=True,
)


@accounts_app.command("reinstate")
def reinstate(
    email: Annotated[str, typer.Argument(help="The account's email, e.g. shopper@example.com.")],
    target: TargetOption = "http://127.0.0.1:8000",
    admin_token: AdminTokenOption = None,
) -> None:
    """Lift a warning or a suspension and forget the account's strikes.

    Example: sandbox accounts reinstate shopper@example.com --admin-token TOKEN

    The step is recorded in the account's escalation history; see "Escalation" in
    docs/agent-developers.md.
    """
    token = adminapi.admin_token(admin_token)
    url = f"{target.rstrip('/')}/api/v1/admin/accounts/{quote(email, safe='@')}/reinstate"
    body = post(url, token, None, 200)
    console.print(
        f"{escape(body['email'])}: {body['previous_status']} -> {body['status']} "
        f"({body['strikes_cleared']} strikes forgotten)"
    )


def register(app: typer.Typer) -> None:
    """Add `accounts` (and `accounts reinstate`) to the `sandbox` CLI."""
    app.add_typer(accounts_app)

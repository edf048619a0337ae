"""`sandbox policy validate|show|set`: check a policy file, print its decision table, switch it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.model import (
    PRESET_NAMES,
    ROUTE_CLASSES,
    VISITOR_CLASSES,
    Policy,
    PolicyError,
    load_policy,
    resolve_policy_source,
)
from marketplace.gate.policy.tables import cell
from sandbox.terminal import print_fitting

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # a path in an error never breaks

policy_app = typer.Typer(
    name="policy",
    help="Check, show and switch the gate's policy (a preset name or a YAML file)."
    f"\n\nPresets: {', '.join(PRESET_NAMES)}.",
    no_args_is_help=True,
)

ACTION_STYLE = {
    "allow": "green",
    "block": "red",
    "challenge": "yellow",
    "throttle": "magenta",
    "pay": "cyan",
}


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _load(spec: str) -> Policy:
    try:
        return load_policy(spec)
    except PolicyError as exc:
        _fail(str(exc), 1)
        raise  # unreachable: _fail exits


def decision_table(policy: Policy) -> Table:
    """The policy as a rich table: visitor class x route class -> action."""
    compiled = CompiledPolicy(policy)
    table = Table(
        title=f"Policy {policy.name} ({policy.mode})", title_justify="left", show_lines=False
    )
    table.add_column("visitor class", no_wrap=True)
    for route in ROUTE_CLASSES:
        table.add_column(route)
    for visitor in VISITOR_CLASSES:
        cells = []
        for route in ROUTE_CLASSES:
            text = cell(compiled, visitor, route)
            style = ACTION_STYLE.get(text.split()[0].rstrip(","), "")
            cells.append(f"[{style}]{escape(text)}[/]" if style else escape(text))
        table.add_row(visitor, *cells)
    return table


def decision_list(policy: Policy) -> Table:
    """The same decisions for a narrow terminal: per visitor class, the route classes by action."""
    compiled = CompiledPolicy(policy)
    table = Table(
        title=f"Policy {policy.name} ({policy.mode})",
        title_justify="left",
        show_header=False,
        show_lines=True,
    )
    table.add_column("visitor class", no_wrap=True)
    table.add_column("route classes by action", overflow="fold")
    for visitor in VISITOR_CLASSES:
        by_text: dict[str, list[str]] = {}
        for route in ROUTE_CLASSES:
            by_text.setdefault(cell(compiled, visitor, route), []).append(route)
        lines = []
        for text, routes in by_text.items():
            style = ACTION_STYLE.get(text.split()[0].rstrip(","), "")
            action = f"[{style}]{escape(text)}[/]" if style else escape(text)
            where = "everywhere" if len(routes) == len(ROUTE_CLASSES) else ", ".join(routes)
            lines.append(f"{action}: {where}")
        table.add_row(visitor, "\n".join(lines))
    return table


@policy_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The YAML policy file to check.")],
) -> None:
    """Check a policy file; print each problem with its line and field, exit 1 when invalid.

    Example: sandbox policy validate my-policy.yaml
    """
    if not file.is_file():
        _fail(f"there is no file at {file}")
    policy = _load(str(file))
    console.print(
        f"[green]{escape(str(file))} is a valid policy:[/] {escape(policy.name)} "
        f"({policy.mode}, {len(policy.rules)} rules + default)"
    )


@policy_app.command("show")
def show(
    spec: Annotated[
        str, typer.Argument(help="A preset name or a YAML policy file (default: closed).")
    ] = "closed",
) -> None:
    """Print a policy's decision table (visitor class x route class -> action).

    Example: sandbox policy show pay-per-crawl
    """
    policy = _load(spec)
    if policy.description:
        console.print(escape(policy.description))
    print_fitting(decision_table(policy), decision_list(policy))
    console.print(
        "Cells show the action for GET (HEAD is GET); 'GET: allow / POST: block' when methods "
        "differ; '≤N/Ss' is the class's rate limit."
    )


@policy_app.command("set")
def set_policy(
    spec: Annotated[str, typer.Argument(help="A preset name or a YAML policy file.")],
    target: Annotated[str, typer.Option(help="Base URL of a running platform.")],
    admin_token: Annotated[
        str | None,
        typer.Option(help="Admin token (default: SANDBOX_ADMIN_TOKEN).", envvar=None),
    ] = None,
) -> None:
    """Switch a running platform's policy (all its workers follow within a second).

    Example: sandbox policy set open --target http://127.0.0.1:8000
    """
    import httpx

    from marketplace.core.settings import get_settings

    token = admin_token or get_settings().admin_token
    if spec in PRESET_NAMES:
        body: dict[str, str] = {"preset": spec}
    else:
        try:
            text, _ = resolve_policy_source(spec)
        except PolicyError as exc:
            _fail(str(exc), 1)
            raise
        _load(spec)  # refuse locally first, with the file's line numbers
        body = {"yaml": text}
    url = target.rstrip("/") + "/api/v1/policy"
    try:
        response = httpx.put(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
        )
    except httpx.HTTPError as exc:
        _fail(f"could not reach {url}: {exc}")
        raise
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        _fail(f"{url} answered {response.status_code}: {detail}", 1)
    data = response.json()
    console.print(
        f"[green]Policy {escape(data['name'])} is active[/] at {escape(target)} "
        f"(version {data['version']}, {data['mode']})."
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `sandbox` CLI."""
    app.add_typer(policy_app, name="policy")

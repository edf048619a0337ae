"""`sandbox agent NAME`: run one outside agent against a running platform, step by step."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from langchain_core.messages import AIMessage
from rich.console import Console
from rich.markup import escape

from shopbots.client import Step
from shopbots.roster import PROTOCOL_AGENTS, ROSTER, RunOptions, run_agent

console = Console()
err_console = Console(stderr=True)

_DECISION_STYLE = {
    "allow": "green",
    "block": "bold red",
    "challenge": "red",
    "throttle": "yellow",
    "pay": "magenta",
}


def print_step(step: Step) -> None:
    """One request and the gate's answer, on one line (and the reason under refusals)."""
    answer = step.answer
    style = _DECISION_STYLE.get(answer.decision or "", "white")
    signed = " [cyan]signed[/]" if step.signed else ""
    console.print(
        f"  [dim]#{step.index:>3}[/] {step.method:<6} {escape(step.path)} "
        f"[{style}]{escape(answer.summary())}[/]{signed}"
    )
    if answer.refused and answer.reason:
        console.print(f"        [dim]{escape(answer.reason)}[/]")


def print_thought(message: AIMessage) -> None:
    calls = ", ".join(
        f"{call['name']}({', '.join(f'{k}={v!r}' for k, v in call['args'].items())})"
        for call in message.tool_calls
        if call["name"] != "browser_login" and call["name"] != "login"
    )
    calls += ", ".join(
        f"{call['name']}(email={call['args'].get('email')!r}, password=***)"
        for call in message.tool_calls
        if call["name"] in ("login", "browser_login")
    )
    text = message.text.strip()
    if message.tool_calls:
        console.print(f"[blue]→[/] {escape(text)} [dim]{escape(calls)}[/]")
    elif text:
        console.print(f"[bold blue]●[/] {escape(text)}")


def default_key_file(name: str) -> Path:
    """Where an agent keeps its signing key between runs: in the data folder, like the platform."""
    data_dir = Path(os.environ.get("SANDBOX_DATA_DIR", "data"))
    return data_dir / "agent-keys" / f"{name}.pem"


def resolve_shopper(email: str | None, password: str | None) -> tuple[str | None, str | None]:
    """`--as student` means the seeded persona; its documented password is filled in."""
    if email is None:
        return None, password
    from sandbox.persona import PERSONA_PASSWORD, load_personas

    personas = load_personas()
    if "@" not in email:
        try:
            email = personas.find(email).email
        except (KeyError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--as") from exc
    if password is None and personas.is_persona_email(email):
        password = PERSONA_PASSWORD
    return email, password


def agent(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROSTER)}.")],
    target: Annotated[str, typer.Option(help="Base URL of a running platform.")],
    email: Annotated[
        str | None,
        typer.Option("--as", help="The shopper the agent acts for (email or persona key)."),
    ] = None,
    password: Annotated[str | None, typer.Option(help="The shopper's password.")] = None,
    product: Annotated[
        str | None, typer.Option(help="Product id to buy, or a search query.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the brain and the timing.")] = 0,
    pages: Annotated[int, typer.Option(min=1, help="Crawlers: product pages to fetch.")] = 5,
    stealth: Annotated[
        int, typer.Option(min=0, max=1, help="disguised-browser: 0 plain, 1 human-like.")
    ] = 0,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="SANDBOX_ADMIN_TOKEN",
            help="signed-partner: register its key with the partner registry first.",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(help="signed-partner: Ed25519 key (PEM), created when missing."),
    ] = None,
    fast: Annotated[bool, typer.Option(help="Skip the pauses (still reported).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Run one outside agent, printing each request with the gate's answer.

    Exits 0 when the agent reached its goal and 1 when it did not.

    Example: sandbox agent declared-shopper --target http://127.0.0.1:8000 --as student
    """
    if name not in ROSTER:
        err_console.print(
            f"[bold red]error:[/] no agent {name!r}; choose one of: {', '.join(ROSTER)}"
        )
        raise typer.Exit(2)
    spec = ROSTER[name]
    email, password = resolve_shopper(email, password)
    if spec.shops and spec.logs_in and not (email and password):
        err_console.print(
            f"[bold red]error:[/] {name} acts for a shopper: add --as EMAIL --password P "
            "(or --as student for a seeded persona)"
        )
        raise typer.Exit(2)
    if name in ("signed-partner", *PROTOCOL_AGENTS) and key_file is None:
        key_file = default_key_file(name)
    console.print(f"[bold]{name}[/]: {spec.summary}")
    console.print(f"  goal: {spec.goal}; target {target}")
    options = RunOptions(
        target=target,
        email=email,
        password=password,
        product=product,
        seed=seed,
        pages=pages,
        stealth=stealth,
        admin_token=admin_token,
        key_file=key_file,
        fast=fast,
        on_step=print_step,
        on_thought=print_thought,
        on_note=lambda text: console.print(f"[dim]{escape(text)}[/]"),
    )
    try:
        run = run_agent(name, options)
    except (ValueError, RuntimeError) as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    verdict = "[bold green]goal met[/]" if run.succeeded else "[bold red]goal failed[/]"
    console.print(f"{verdict}: {escape(run.outcome)}")
    if as_json:
        console.print_json(json.dumps(run.as_dict()))
    raise typer.Exit(0 if run.succeeded else 1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `sandbox` CLI."""
    app.command(name="agent")(agent)

"""`sandbox probe`: what the gate answers one identity on every route class, as a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sandbox.terminal import print_fitting
from shopbots.probe import ProbeRow, explain, probe

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # a path in an error never breaks


def first_sentence(text: str) -> str:
    """The table shows the gate's first sentence; `--json` carries the whole explanation."""
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def request_text(row: ProbeRow) -> str:
    """`GET /checkout`, and where the answer came from when a redirect moved it."""
    request = f"{row.method} {row.path}"
    if row.answered_path and row.answered_path != row.path:
        request += f" -> {row.answered_path}"  # redirected: the answer is from there
    return request


def rows_table(rows: list[ProbeRow], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("route class", "request", "status", "decision", "rule", "visitor class"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason")
    for row in rows:
        answer = row.answer
        table.add_row(
            row.route_class,
            escape(request_text(row)),
            str(answer.status),
            answer.decision_text,
            escape(answer.rule or "-"),
            answer.visitor_class or "-",
            escape(first_sentence(answer.reason or "")),
        )
    return table


def rows_list(rows: list[ProbeRow], title: str) -> Table:
    """The same answers for a narrow terminal: one block per route class."""
    table = Table(title=title, title_justify="left", show_header=False, show_lines=True)
    table.add_column("route class", no_wrap=True)
    table.add_column("answer", overflow="fold")
    for row in rows:
        answer = row.answer
        table.add_row(
            row.route_class,
            escape(
                f"{request_text(row)}: {answer.status} {answer.decision_text} "
                f"by {answer.rule or '-'} ({answer.visitor_class or '-'})"
                + (f"\n{first_sentence(answer.reason)}" if answer.reason else "")
            ),
        )
    return table


def probe_command(
    target: Annotated[str, typer.Option(help="Base URL of a running platform.")],
    user_agent: Annotated[str, typer.Option(help="The User-Agent to present.")],
    sign: Annotated[
        Path | None,
        typer.Option(help="Sign every request with this Ed25519 private key (PEM)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    explain_signature: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Instead of the table, explain the signature: status, reason, key, covered "
            "components and the signature base the gate rebuilt (POST /api/v1/signature/explain).",
        ),
    ] = False,
) -> None:
    """Show, for each route class, what the gate answers to this identity.

    Redirects are followed, each hop signed afresh with --sign; a row whose answer came from
    another page says so ("GET /checkout -> /login?next=...").

    Example: sandbox probe --target http://127.0.0.1:8000 --user-agent "GPTBot/1.1"

    Debug a refused signature: sandbox probe --target http://127.0.0.1:8000
    --user-agent "MyAgent/0.1" --sign agent.pem --explain
    """
    if sign is not None and not sign.is_file():
        err_console.print(f"[bold red]error:[/] no key file at {sign}")
        raise typer.Exit(2)
    if explain_signature:
        print_explanation(target, user_agent, sign, as_json)
        return
    try:
        rows = probe(target, user_agent, sign_key=sign)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if all(row.answer.status == 0 for row in rows):
        err_console.print(f"[bold red]error:[/] nothing answered at {target}; is it running?")
        raise typer.Exit(1)
    if as_json:
        data = [
            {
                "route_class": r.route_class,
                "method": r.method,
                "path": r.path,
                "answered_path": r.answered_path or r.path,
                **r.answer.as_dict(),
            }
            for r in rows
        ]
        for item in data:
            item.pop("problem", None)
        console.print_json(json.dumps(data))
        return
    signed = f", signed with {sign.name}" if sign else ", unsigned"
    title = f"{user_agent}{signed}"
    if any(row.answer.observed_action for row in rows):
        title += " (observe mode: nothing is refused; '(would …)' is what enforcement would do)"
    print_fitting(rows_table(rows, title), rows_list(rows, title))


def print_explanation(target: str, user_agent: str, sign: Path | None, as_json: bool) -> None:
    """The debugger's answer for this identity's signed request, as text or JSON."""
    try:
        answer = explain(target, user_agent, sign_key=sign)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    if as_json:
        console.print_json(json.dumps(answer))
        return
    key = answer.get("key") or {}
    owner = key.get("owner") or key.get("why_not") or "-"
    lines = [
        f"[bold]{escape(str(answer.get('status')))}[/]: {escape(str(answer.get('reason')))}",
        f"request: {escape(str(answer.get('method')))} {escape(str(answer.get('url')))}",
        f"key: {escape(str(key.get('keyid') or '-'))} ({escape(str(owner))})",
        "covered: " + escape(" ".join(answer.get("covered") or []) or "-"),
        escape(str(answer.get("nonce"))),
        "signature base:",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)
    base = answer.get("signature_base") or answer.get("signature_base_error") or "-"
    console.print(escape(str(base)), soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `sandbox` CLI."""
    app.command(name="probe")(probe_command)

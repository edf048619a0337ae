"""`sandbox prune`: delete gate decisions and shopper history older than their retention period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from marketplace.admin.retention import build_retention
from marketplace.core.clock import system_clock
from marketplace.core.db import Database
from marketplace.core.retention import Pruned
from marketplace.core.settings import get_settings
from marketplace.decide.config import load_decide_config

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(2)


def _line(result: Pruned, *, dry_run: bool) -> str:
    rule = result.rule
    if result.before is None:
        return f"{rule.name}: kept forever ({rule.setting}=0)"
    verb = "would remove" if dry_run else "removed"
    more = "" if result.complete else " (more remain; run again or let the server go on)"
    return (
        f"{rule.name}: {verb} {result.rows:,} older than {result.days:g} days "
        f"(before {result.before:%Y-%m-%d %H:%M} UTC){more}"
    )


def prune(
    older_than: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Remove rows older than this many days from both tables, instead of "
            "SANDBOX_RETENTION_DAYS (decisions) and SANDBOX_HISTORY_RETENTION_DAYS (history).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
) -> None:
    """Delete gate decisions and shopper history older than their retention period.

    Example: sandbox prune --older-than 7 --dry-run

    A running server prunes by itself about once an hour; this prunes now.

    Pruning history younger than 180 days leaves Help Me Decide less to learn from.
    """
    settings = get_settings()
    url = settings.resolved_database_url
    database = Database(url)
    try:
        tables = set(inspect(database.engine).get_table_names())
        missing = {"gate_decisions", "history_events"} - tables
        if missing:
            _fail(
                f"the database at {url} is not set up (no {', '.join(sorted(missing))}); "
                "run `sandbox serve` or `sandbox seed` once to create its tables"
            )
        window = load_decide_config().history_window_days
        if older_than is not None and 0 < older_than < window:
            console.print(
                f"[yellow]note:[/] history younger than {window:g} days is what Help Me Decide "
                "learns from"
            )
        retention = build_retention(settings, database, system_clock, learning_window_days=window)
        started = datetime.now(UTC)
        results = retention.prune(older_than_days=older_than, dry_run=dry_run)
    except SQLAlchemyError as exc:
        _fail(f"could not prune the database at {url}: {exc}")
        raise  # unreachable: _fail exits
    finally:
        database.dispose()
    for result in results:
        console.print(escape(_line(result, dry_run=dry_run)))
    if not dry_run:
        seconds = (datetime.now(UTC) - started).total_seconds()
        total = sum(result.rows for result in results)
        console.print(f"[green]Done[/]: {total:,} rows removed in {seconds:.1f} s.")


def register(app: typer.Typer) -> None:
    """Add `prune` to the `sandbox` CLI."""
    app.command(name="prune")(prune)

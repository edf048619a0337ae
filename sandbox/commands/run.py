"""`sandbox run SCENARIO` and `sandbox demo`: run scenarios and report what happened."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from marketplace.core.yamlfile import YamlModelError
from sandbox.report import print_side_by_side, print_summary, write_reports
from sandbox.runner import run_scenario
from sandbox.scenario import Scenario, builtin_names, load_scenario

console = Console()
err_console = Console(stderr=True)

DEMO_SCENARIOS = ("walled-garden", "open-platform")


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _load(name_or_path: str) -> Scenario:
    try:
        return load_scenario(name_or_path)
    except (YamlModelError, FileNotFoundError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _report(runs: list[dict[str, Any]], out: Path, stem: str) -> None:
    if len(runs) > 1:
        print_side_by_side(console, runs)
    html_path, json_path = write_reports(runs, out, stem)
    size_kib = html_path.stat().st_size / 1024
    console.print(f"HTML report: [bold]{html_path}[/] ({size_kib:,.0f} KiB) · JSON: {json_path}")


def run(
    scenario: Annotated[
        str,
        typer.Argument(help=f"A built-in scenario ({', '.join(builtin_names())}) or a YAML file."),
    ],
    target: Annotated[
        str | None,
        typer.Option(help="Run against a platform already serving at this URL instead."),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(help="The target's admin token (default: SANDBOX_ADMIN_TOKEN)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the HTML and JSON reports.")] = Path(
        "reports"
    ),
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run a scenario and report who got in, who was refused and why, and who bought what.

    Example: sandbox run walled-garden
    Exits 1 when an expected outcome of the scenario did not hold.
    """
    loaded = _load(scenario)
    started = time.monotonic()
    runs = []
    for variant in loaded.expand():
        metrics = run_scenario(
            variant, target_url=target, admin_token=admin_token, show_progress=not quiet
        )
        print_summary(console, metrics)
        runs.append(metrics)
    _report(runs, out, loaded.name)
    console.print(f"Done in {time.monotonic() - started:.0f} s.")
    if not all(m["passed"] for m in runs):
        err_console.print(
            "[bold red]Some expected outcomes did not hold[/] (see the tables above)."
        )
        raise typer.Exit(1)


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the HTML and JSON reports.")] = Path(
        "reports"
    ),
) -> None:
    """The whole story, offline: the walled garden and the open platform, side by side.

    Example: sandbox demo
    """
    started = time.monotonic()
    scenarios = [load_scenario(name) for name in DEMO_SCENARIOS]
    # The two platforms are independent: run them side by side to finish within a class minute.
    with (
        console.status(f"Running {' and '.join(DEMO_SCENARIOS)} side by side ..."),
        ThreadPoolExecutor(max_workers=len(scenarios)) as pool,
    ):
        runs = list(pool.map(lambda s: run_scenario(s, show_progress=False), scenarios))
    for metrics in runs:
        print_summary(console, metrics)
    _report(runs, out, "demo")
    console.print(f"Demo finished in {time.monotonic() - started:.0f} s.")


def register(app: typer.Typer) -> None:
    """Add `run` and `demo` to the `sandbox` CLI."""
    app.command(name="run")(run)
    app.command(name="demo")(demo)

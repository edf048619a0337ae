"""`sandbox run SCENARIO` and `sandbox demo`: run scenarios and report what happened."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from marketplace.core.yamlfile import YamlModelError
from sandbox.eval_decide import data_advantage
from sandbox.findings import findings
from sandbox.persona import Personas, load_personas
from sandbox.report import print_report, write_reports
from sandbox.runner import KeepGoing, run_seeds, seeds_for
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


def _personas() -> Personas:
    try:
        return load_personas()
    except YamlModelError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _report(report: dict[str, Any], out: Path, stem: str) -> None:
    print_report(console, report["scenarios"], report["findings"])
    html_path, json_path = write_reports(report, out, stem)
    size_kib = html_path.stat().st_size / 1024
    console.print(f"HTML report: [bold]{html_path}[/] ({size_kib:,.0f} KiB) · JSON: {json_path}")


def _failed(report: dict[str, Any]) -> bool:
    return not all(run["passed"] for s in report["scenarios"] for run in s["runs"])


Seeds = Annotated[
    int,
    typer.Option(
        min=1,
        max=20,
        help="Independent runs per scenario (seeds N, N+1, ...): intervals then come from the "
        "runs (Student t) instead of a bootstrap over one run's journeys.",
    ),
]


def run(
    scenario: Annotated[
        str,
        typer.Argument(help=f"A built-in scenario ({', '.join(builtin_names())}) or a YAML file."),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            help="Run against a platform already serving at this URL instead. Run it in the "
            "folder the store was started in: the platform's own agent needs the store's key "
            "and the welfare figures its catalog. Each run's shoppers open new accounts."
        ),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(help="The target's admin token (default: SANDBOX_ADMIN_TOKEN)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the HTML and JSON reports.")] = Path(
        "reports"
    ),
    seeds: Seeds = 1,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    duration: Annotated[
        float | None,
        typer.Option(
            min=1,
            max=24 * 3600,
            help="Keep the population coming, wave after wave (new shoppers each), for about "
            "this many seconds, so the policy can be switched during the run; the report then "
            "shows the policy in force over time and the figures under each.",
        ),
    ] = None,
    until_enter: Annotated[
        bool,
        typer.Option(
            help="Like --duration, until Enter is pressed (the current wave finishes first)."
        ),
    ] = False,
) -> None:
    """Run a scenario and report who got in, who was refused and why, and who bought what.

    Example: sandbox run walled-garden --seeds 3
    Example: sandbox run walled-garden --target http://127.0.0.1:8000 --duration 120
    Exits 1 when an expected outcome of the scenario did not hold.
    """
    if duration is not None and until_enter:
        _fail("give either --duration or --until-enter, not both")
    loaded = _load(scenario)
    personas = _personas()
    keep_going = _keep_going(duration, until_enter)
    started = time.monotonic()
    results = [
        run_seeds(
            variant,
            seeds_for(variant, seeds),
            personas=personas,
            target_url=target,
            admin_token=admin_token,
            show_progress=not quiet,
            keep_going=keep_going,
        )
        for variant in loaded.expand()
    ]
    report = {"scenarios": results, "findings": findings(results)}
    _report(report, out, loaded.name)
    console.print(f"Done in {time.monotonic() - started:.0f} s.")
    if _failed(report):
        err_console.print(
            '[bold red]Some expected outcomes did not hold[/] (see "Expected outcomes" above).'
        )
        raise typer.Exit(1)


def _keep_going(duration: float | None, until_enter: bool) -> KeepGoing | None:
    """When to send another wave: until `duration` seconds have passed, or until Enter."""
    if duration is not None:
        limit = duration

        def for_duration(waves: int, seconds: float) -> bool:
            # Another wave only when the last one's length still fits in the time left.
            return seconds + seconds / max(1, waves) <= limit

        console.print(f"Sending waves of the population for about {limit:.0f} s.")
        return for_duration
    if until_enter:
        pressed = threading.Event()

        def wait_for_enter() -> None:
            try:
                sys.stdin.readline()
            finally:
                pressed.set()

        threading.Thread(target=wait_for_enter, daemon=True, name="until-enter").start()
        console.print("Sending waves of the population: press Enter to stop after this wave.")
        return lambda waves, seconds: not pressed.is_set()
    return None


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the HTML and JSON reports.")] = Path(
        "reports"
    ),
    seeds: Seeds = 1,
) -> None:
    """The whole story, offline: the walled garden and the open platform, side by side, with
    what closing the door keeps and costs, and how much Help Me Decide gains from history.

    Example: sandbox demo
    """
    started = time.monotonic()
    scenarios = [load_scenario(name) for name in DEMO_SCENARIOS]
    personas = _personas()
    # The platforms are independent: run them side by side to finish within a class minute.
    with (
        console.status(f"Running {' and '.join(DEMO_SCENARIOS)} side by side ..."),
        ThreadPoolExecutor(max_workers=len(scenarios) + 1) as pool,
    ):
        curve = pool.submit(
            data_advantage,
            personas=personas,
            seed=scenarios[0].seed,
            products=scenarios[0].catalog.products,
        )
        results = list(
            pool.map(
                lambda s: run_seeds(s, seeds_for(s, seeds), personas=personas, show_progress=False),
                scenarios,
            )
        )
        advantage = curve.result().to_json()
    report = {
        "scenarios": results,
        "findings": findings(results, advantage),
        "data_advantage": advantage,
    }
    _report(report, out, "demo")
    console.print(f"Demo finished in {time.monotonic() - started:.0f} s.")


def register(app: typer.Typer) -> None:
    """Add `run` and `demo` to the `sandbox` CLI."""
    app.command(name="run")(run)
    app.command(name="demo")(demo)

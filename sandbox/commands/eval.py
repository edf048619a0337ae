"""`sandbox eval help-me-decide`: how good Help Me Decide's picks are for the seeded personas."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Wide enough for the table when the output is a file or a CI log rather than a terminal.
console = Console(width=None if Console().is_terminal else 132)
err_console = Console(stderr=True)

eval_app = typer.Typer(
    name="eval",
    help="Evaluate the platform's own agent.",
    no_args_is_help=True,
)


def report_table(report: object) -> Table:
    """Oracle ratios per persona and on average: ours against every baseline."""
    from sandbox.eval_decide import BASELINES, EvalReport, fmt_ratio

    assert isinstance(report, EvalReport)
    table = Table(
        title=f"Help Me Decide: oracle ratio (utility of the pick / best in-stock), "
        f"seed {report.seed}, {report.products:,} products",
        show_lines=False,
    )
    table.add_column("Persona")
    table.add_column("Category")
    table.add_column("Ours", justify="right", style="bold")
    headers = {
        "best_seller": "Best-\nseller",
        "highest_rated": "Highest\nrated",
        "cheapest": "Cheap-\nest",
        "random": "Random",
        "outside_top_result": "Outside:\ntop result",
        "outside_best_rated": "Outside:\nbest rated",
    }
    for name in BASELINES:
        table.add_column(headers[name], justify="right")
    table.add_column("Picks valid")
    for r in report.personas:
        table.add_row(
            r.persona,
            r.category,
            fmt_ratio(r.ratios["ours"]),
            *(fmt_ratio(r.ratios[b]) for b in BASELINES),
            "yes" if r.valid else "NO: " + "; ".join(r.validity_problems),
        )
    table.add_section()
    table.add_row(
        "mean",
        "",
        fmt_ratio(report.means["ours"]),
        *(fmt_ratio(report.means[b]) for b in BASELINES),
        "all" if report.all_valid else "NOT ALL",
    )
    return table


def curve_table(curve: object) -> Table:
    """Help Me Decide's mean oracle ratio per amount of history, beside the best baseline."""
    from sandbox.eval_decide import DataAdvantage, fmt_ratio

    assert isinstance(curve, DataAdvantage)
    table = Table(
        title="The data advantage: mean oracle ratio by the shopper's history the platform holds",
        caption="The baseline uses the public catalog and the stated query, no history. Ratios "
        "below 0 count as 0; 95% bootstrap intervals over the personas.",
    )
    table.add_column("History events", justify="right")
    table.add_column("Help Me Decide", justify="right", style="bold")
    table.add_column("95% interval", justify="right")
    table.add_column(f"Best outside baseline:\n{curve.baseline_label}", justify="right")
    for level, mean, low, high in zip(
        curve.levels, curve.help_me_decide, curve.low, curve.high, strict=True
    ):
        table.add_row(
            f"{level:,}",
            fmt_ratio(mean),
            f"{fmt_ratio(low)}–{fmt_ratio(high)}",
            fmt_ratio(curve.baseline_ratio),
        )
    return table


@eval_app.command("help-me-decide")
def help_me_decide(
    seed: Annotated[int, typer.Option(help="Seed of the catalog and the personas.")] = 42,
    products: Annotated[int, typer.Option(min=50, help="Catalog size.")] = 2000,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the full results as JSON here.")
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            help="Exit 1 when the target (mean >= 0.9, ahead of every baseline) is missed."
        ),
    ] = False,
    curve: Annotated[
        bool,
        typer.Option(
            help="Also trace the data advantage: Help Me Decide's mean ratio with 0, 1, 3, 10 "
            "and 30 events of the shopper's history, beside the best outside baseline."
        ),
    ] = True,
) -> None:
    """Run every seeded persona through a browsing session, ask Help Me Decide, and compare.

    Each persona's hidden preference profile is the ground truth: the oracle ratio is the
    utility of a choice over the utility of the persona's best in-stock product. The curve
    then asks Help Me Decide again for new accounts holding 0, 1, 3, 10 and 30 of each
    persona's history events, on a store with the same catalog (in the JSON: "data_advantage").

    Example: sandbox eval help-me-decide --seed 42 --products 2000 --json hmd.json

    Example without the curve: sandbox eval help-me-decide --products 600 --no-curve
    """
    from sandbox.eval_decide import TARGET, data_advantage, fmt_ratio, run_evaluation
    from sandbox.persona import load_personas

    command = "sandbox eval " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    if not sys.argv[2:] or "help-me-decide" not in sys.argv:
        command = f"sandbox eval help-me-decide --seed {seed} --products {products}"
    with console.status(f"Seeding {products:,} products and the personas, then browsing ..."):
        try:
            personas = load_personas()
            report = run_evaluation(
                personas=personas, seed=seed, products=products, command=command
            )
        except Exception as exc:
            err_console.print(f"[bold red]error:[/] the evaluation failed: {escape(str(exc))}")
            raise typer.Exit(2) from exc
    console.print(report_table(report))
    ahead = [b for b, v in report.means.items() if b != "ours" and report.means["ours"] <= v]
    verdict = (
        "[green]target met[/]"
        if report.target_met
        else f"[red]target missed[/] (behind or level with: {', '.join(ahead) or 'none'})"
    )
    console.print(
        f"Mean oracle ratio {fmt_ratio(report.means['ours'])} (target >= {TARGET}, ahead of "
        f"every baseline): {verdict}. Picks valid for every persona: "
        f"{'yes' if report.all_valid else 'no'}. Help Me Decide answered in "
        f"{report.latency_ms['mean']:.0f} ms on average."
    )
    results: dict[str, Any] = report.to_json()
    if curve:
        with console.status("Asking Help Me Decide again with 0 to 30 history events ..."):
            try:
                advantage = data_advantage(personas=personas, seed=seed, products=products)
            except Exception as exc:
                err_console.print(
                    f"[bold red]error:[/] the data-advantage curve failed: {escape(str(exc))}"
                )
                raise typer.Exit(2) from exc
        console.print(curve_table(advantage))
        results["data_advantage"] = advantage.to_json()
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(results, indent=2) + "\n")
        console.print(f"Results written to {json_file}")
    if check and not (report.target_met and report.all_valid):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `sandbox` CLI."""
    app.add_typer(eval_app, name="eval")

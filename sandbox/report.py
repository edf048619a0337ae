"""Reports: the findings, a side-by-side table and who got in, in the terminal (rich, 80
columns) and as one self-contained HTML page (inline CSS and SVG, no scripts), plus the JSON."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sandbox.charts import REFUSING, charts
from sandbox.findings import cell, difference, figure, focus, label, number, pair, sweeps

# (summary key, label): the headline figures, in the order of the story.
HEADLINE = (
    ("interface_share", "Journeys through the platform"),
    ("revenue.ads", "Ad revenue"),
    ("sales", "Sales"),
    ("ads.share_of_sales", "Ads as a share of sales"),
    ("revenue.total", "Platform revenue"),
    ("data.events_per_journey", "History events per journey"),
    ("ads.impressions_per_journey", "Ads a person saw per journey"),
    ("ads.clicks", "Ad clicks"),
    ("orders.total", "Orders"),
    ("orders.agent", "Orders by outside agents"),
    ("market.delegated_journeys", "Journeys handed to an agent"),
    ("market.delegation_refused", "Of those, refused"),
    ("market.fallback_to_store", "Fell back to the store"),
    ("market.lost_sales", "Lost sales (bought elsewhere)"),
    ("effort.pages_per_journey", "Pages a person read per journey"),
    ("welfare.ratio", "Shopper welfare (1 = best)"),
)
WITHIN = "\u2248"  # marks a figure within chance of its neighbour on the left


def _columns(scenarios: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The scenarios shown side by side: the compared closed and open first."""
    shown = focus(scenarios)
    chosen = pair(scenarios)
    if chosen:
        shown = [*chosen, *(s for s in shown if all(s is not c for c in chosen))]
    return shown


def _rows(columns: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, list[str], bool]]:
    """(key, label, cells, within chance) for each headline figure any column has."""
    rows = []
    for key, name in HEADLINE:
        figs = [figure(s, key) for s in columns]
        if not any(figs):
            continue
        cells = [cell(key, f) if f else "-" for f in figs]
        near = len(figs) >= 2 and bool(figs[0] and figs[1] and figs[0].overlaps(figs[1]))
        rows.append((key, name, cells, near))
    return rows


# --- Terminal ------------------------------------------------------------------------------


def print_report(
    console: Console,
    scenarios: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
) -> None:
    """The findings, the headline figures side by side, then who got in per scenario."""
    console.print("[bold]What the runs show[/]")
    # A hanging indent keeps each numbered finding readable as one block.
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(ratio=1, overflow="fold")
    for n, item in enumerate(findings, start=1):
        grid.add_row(f"{n}.", Text(str(item["text"])))
        grid.add_row("", "")
    console.print(grid)
    columns = _columns(scenarios)
    for start in range(0, len(columns), 2):
        _print_side_by_side(console, columns[start : start + 2])
    _print_sweep(console, scenarios)
    for scenario in columns:
        print_agents(console, scenario.get("runs") or [], title=f"Who got in: {label(scenario)}")
        channels = orders_by_channel(scenario.get("runs") or [])
        if channels:
            console.print(f"[bold]Orders by channel:[/] {escape(channels)}")
            console.print()
        for run in scenario.get("runs") or []:
            print_policies(console, run, title=f"Policy in force over time: {label(scenario)}")
    # Expectations that did not hold are what makes `sandbox run` exit 1: show them here.
    for scenario in scenarios:
        for run in scenario.get("runs") or []:
            if not run.get("passed", True):
                seed = (run.get("scenario") or {}).get("seed", "?")
                print_expectations(
                    console, run, title=f"Expected outcomes: {label(scenario)}, seed {seed}"
                )


def _print_side_by_side(console: Console, columns: Sequence[Mapping[str, Any]]) -> None:
    table = Table(
        title="Headline figures, mean (95% interval)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title_justify="left",
    )
    table.add_column("Figure", overflow="fold", ratio=1)
    for scenario in columns:
        table.add_column(label(scenario), justify="right", no_wrap=True)
    marked = False
    for _, name, cells, near in _rows(columns):
        if near:
            cells = [*cells[:1], f"{cells[1]} {WITHIN}", *cells[2:]]
            marked = True
        elif len(cells) > 1:
            cells = [*cells[:1], f"{cells[1]}  ", *cells[2:]]
        table.add_row(name, *cells)
    console.print(table)
    if marked:
        console.print(f"{WITHIN} within chance: the two 95% intervals overlap.")
    console.print()


def _print_sweep(console: Console, scenarios: Sequence[Mapping[str, Any]]) -> None:
    groups = sweeps(scenarios)
    if not groups:
        return
    table = Table(
        title="Agent adoption (means; intervals in the HTML report)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    table.add_column("Policy")
    keys = ("revenue.total", "interface_share", "welfare.ratio")
    for name in ("Delegating", "Platform revenue", "Interface share", "Welfare"):
        table.add_column(name, justify="right")
    every = [s for group in groups.values() for s in group]
    # One format per column: whole units for all if any figure needs them.
    scale = {k: max((abs(f.mean) for s in every if (f := figure(s, k))), default=0) for k in keys}
    for policy_name, group in groups.items():
        for scenario in group:
            figs = [(k, figure(scenario, k)) for k in keys]
            table.add_row(
                policy_name,
                number("interface_share", float(scenario.get("delegation_share") or 0)),
                *(number(k, f.mean, scale=scale[k]) if f else "-" for k, f in figs),
            )
    console.print(table)
    console.print()


_NUMBERED = re.compile(r"-\d+$")


def _group(name: str, kind: Any) -> str:
    """Which row an actor counts in: all shoppers together, all sessions of the platform
    assistant together, and outside agents by kind (`signed-partner for shopper-3` and
    `rogue-crawler-0` count as `signed-partner` and `rogue-crawler`)."""
    if kind == "human":
        return "shoppers"
    if kind == "first-party":
        return "platform assistant"
    return _NUMBERED.sub("", name.split(" for ")[0])


def _who(runs: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of visitors (a kind of visitor and the class the gate gave it), summed over runs;
    and who did not get what it came for, one line per kind of visitor and reason."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    failures: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for name, agent in (run.get("agents") or {}).items():
            group = _group(str(name), agent.get("kind"))
            cls = str(agent.get("visitor_class") or "")
            row = rows.setdefault(
                (group, cls),
                {"visitor": group, "class": cls, "actors": 0, "rules": {}}
                | dict.fromkeys(("requests", "refused", "orders"), 0),
            )
            row["actors"] += 1
            for field in ("requests", "refused", "orders"):
                row[field] += int(agent.get(field) or 0)
            if agent.get("top_rule"):
                row["rules"][agent["top_rule"]] = row["rules"].get(agent["top_rule"], 0) + 1
            if agent.get("succeeded") is False:
                reason = str(agent.get("error") or agent.get("outcome") or "no reason given")
                failures.setdefault((group, reason), []).append(str(name))
    lines = [
        f"{names[0] if len(names) == 1 else f'{group} ({len(names)})'}: {reason}"
        for (group, reason), names in failures.items()
    ]
    first = {"shoppers": 0, "platform assistant": 1}
    ordered = sorted(rows.values(), key=lambda r: (first.get(r["visitor"], 2), r["visitor"]))
    return ordered, lines


def print_agents(
    console: Console, runs: Sequence[Mapping[str, Any]], title: str = "Who got in"
) -> None:
    """Requests, refusals and orders per visitor, the rules that refused them, and who did
    not get what it came for, with the reason."""
    rows, failures = _who(runs)
    if not rows:
        return
    table = Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
        title_justify="left",
    )  # fmt: skip
    table.add_column("Visitor", overflow="fold")
    table.add_column("Class the gate gave", overflow="fold")
    for name in ("Requests", "Refused", "Orders"):
        table.add_column(name, justify="right", no_wrap=True)
    refused: list[str] = []
    for row in rows:
        visitor = f"{row['visitor']} ({row['actors']})" if row["actors"] > 1 else row["visitor"]
        table.add_row(
            escape(visitor),
            escape(row["class"]),
            f"{row['requests']:,}",
            f"{row['refused']:,}",
            f"{row['orders']:,}",
        )
        if row["rules"]:
            rule = max(row["rules"], key=row["rules"].get)
            refused.append(f"{visitor}: {row['refused']:,} refused, mostly by rule {rule}")
    console.print(table)
    # Below the table, as wrapped lines: rule ids are long and must never be cut.
    for heading, lines in (("Refused by:", refused), ("Did not get what it came for:", failures)):
        if lines:
            console.print(f"[bold]{heading}[/]")
            _bullets(console, lines)
    console.print()


def orders_by_channel(runs: Sequence[Mapping[str, Any]]) -> str:
    """`human 17, ucp 1, mcp 1`: the orders of the runs by channel (the class of the REST buyer,
    or the protocol door: ucp, acp, mcp), most first."""
    totals: Counter[str] = Counter()
    for run in runs:
        for channel, count in ((run.get("orders") or {}).get("by_channel") or {}).items():
            totals[str(channel)] += int(count or 0)
    return ", ".join(f"{channel} {count:,}" for channel, count in totals.most_common())


POLICY_COLUMNS = (
    "Policy", "From", "To", "Requests", "Refused", "Would refuse", "Journeys", "Purchases",
    "Lost sales",
)  # fmt: skip


POLICY_FIGURES = ("requests", "refused", "would_refuse", "journeys", "purchases", "lost_sales")


def policy_rows(run: Mapping[str, Any]) -> list[list[str]]:
    """One row per policy span of a run whose policy changed (or that ran in waves)."""
    spans = run.get("policies") or []
    if len(spans) < 2 and int(run.get("waves") or 1) < 2:
        return []
    return [
        [
            f"{span.get('policy')} (v{span.get('version')})",
            str(span.get("from") or "")[11:19],
            str(span.get("to") or "")[11:19],
            *(f"{int(span.get(key) or 0):,}" for key in POLICY_FIGURES),
        ]
        for span in spans
    ]


def print_policies(console: Console, run: Mapping[str, Any], *, title: str) -> None:
    """The policy in force over a run that saw a switch, with the figures under each (UTC)."""
    rows = policy_rows(run)
    if not rows:
        return
    table = Table(
        title=escape(title), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
        title_justify="left",
    )  # fmt: skip
    for n, name in enumerate(POLICY_COLUMNS):
        table.add_column(name, justify="left" if n < 3 else "right", overflow="fold")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    console.print(
        "Journeys count under the policy in force when they began; times are UTC.", style="dim"
    )
    console.print()


def _bullets(console: Console, lines: Sequence[str]) -> None:
    """A list whose long lines wrap under their own text, not under the dash."""
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for line in lines:
        grid.add_row("-", Text(line))
    console.print(grid)


def print_expectations(
    console: Console, run: Mapping[str, Any], *, title: str = "Expected outcomes"
) -> None:
    """The run's expected outcomes, each with its actual value and whether it held."""
    checks = run.get("expectations") or []
    if not checks:
        return
    table = Table(title=escape(title), box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Figure", overflow="fold")
    table.add_column("Expected", no_wrap=True)
    table.add_column("Actual", justify="right", overflow="fold")
    table.add_column("Held", no_wrap=True)
    for check in checks:
        held = "[green]yes[/]" if check.get("ok") else "[bold red]NO[/]"
        table.add_row(
            escape(str(check.get("metric"))),
            escape(f"{check.get('op')} {check.get('value')}"),
            escape(str(check.get("actual"))),
            held,
        )
    console.print(table)


# --- HTML ----------------------------------------------------------------------------------

PAGE_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,'Segoe UI','DejaVu Sans','Liberation Sans',Arial,sans-serif;
margin:0;color:#1f2933;background:#f5f7fa;font-size:19px;line-height:1.45}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:1.75rem;margin:.4rem 0 .6rem}h2{font-size:1.45rem;margin:2rem 0 .6rem}
h3{font-size:1.2rem;margin:0 0 .4rem}
.findings{background:white;border-left:6px solid #0072B2;margin:0;padding:.6rem 1rem .6rem 2.6rem}
.findings li{margin:.35rem 0;font-size:1.12rem}
.scope{color:#52606d;margin:.2rem 0 .8rem}
figure{background:white;border:1px solid #cbd2d9;margin:18px 0;padding:12px}
figure svg{display:block;width:100%;height:auto}
figure svg .ci path{stroke:#111 !important;stroke-width:2.5px !important;
stroke-opacity:1 !important;stroke-dasharray:none !important;
filter:drop-shadow(0 0 1px #fff) drop-shadow(0 0 1px #fff)}
figcaption{font-size:1rem;color:#3e4c59;padding:6px 4px 0}
table{border-collapse:collapse;width:100%;background:white;font-size:1rem}
th,td{border:1px solid #cbd2d9;padding:5px 8px;text-align:left;vertical-align:top;
overflow-wrap:break-word}
td.num{text-align:right;white-space:nowrap}
.chance{color:#52606d;font-style:italic}
.bad{color:#b00020;font-weight:bold}.good{color:#136f3a;font-weight:bold}
.appendix{font-size:.95rem}.appendix h3{margin:1.6rem 0 .4rem}.appendix table{margin:.4rem 0}
"""


def _table(rows: Sequence[Sequence[str]], header: Sequence[str], numeric: int = 0) -> str:
    """An HTML table; the last `numeric` columns right-aligned. Cells are already HTML."""
    head = "".join(f"<th scope='col'>{h}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{c}</td>" if i >= len(row) - numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value or "?")


def _breakable(path: str) -> str:
    """A request path that may wrap after its slashes and separators, never mid-word."""
    escaped = _e(path)
    for sep in ("/", "?", "&amp;", "="):
        escaped = escaped.replace(sep, f"{sep}<wbr>")
    return escaped


def _side_by_side_html(scenarios: Sequence[Mapping[str, Any]]) -> str:
    columns = _columns(scenarios)
    if not columns:
        return ""
    compared = pair(scenarios) is not None and len(columns) >= 2
    header = ["Figure", *(_e(label(s)) for s in columns)]
    if compared:
        header.append("Closed minus open")
    rows = []
    for key, name, cells, near in _rows(columns):
        row = [_e(name), *(_e(c) for c in cells)]
        if compared:
            a, b = figure(columns[0], key), figure(columns[1], key)
            if near or a is None or b is None:
                row.append("<span class='chance'>within chance</span>")
            else:
                sign = "+" if a.mean >= b.mean else "\u2212"
                row.append(_e(f"{sign}{difference(key, a.mean - b.mean)}"))
        rows.append(row)
    note = (
        "<p>Each figure: the mean, then its 95% interval. <em>Within chance</em>: the two"
        " intervals overlap, so the runs cannot tell the two scenarios apart on that figure.</p>"
    )
    return "<h2>Side by side</h2>" + note + _table(rows, header, numeric=len(header) - 1)


def _appendix_html(scenarios: Sequence[Mapping[str, Any]]) -> str:
    parts = ["<section class='appendix'><h2>Appendix: checks, gate latency, refusals</h2>"]
    for scenario in scenarios:
        for run in scenario.get("runs") or []:
            seed = run.get("seed", (run.get("scenario") or {}).get("seed", "?"))
            parts.append(f"<h3>{_e(label(scenario))}, seed {_e(seed)}</h3>")
            latency = run.get("gate_latency_us") or {}
            if latency:
                parts.append(
                    f"<p>Gate latency: median {_e(latency.get('p50'))} µs, 99th percentile"
                    f" {_e(latency.get('p99'))} µs over {_e(_count(latency.get('count')))}"
                    " decisions.</p>"
                )
            channels = orders_by_channel([run])
            if channels:
                parts.append(f"<p>Orders by channel: {_e(channels)}.</p>")
            checks = run.get("expectations") or []
            if checks:
                rows = [
                    [
                        _e(c.get("metric")),
                        _e(f"{c.get('op')} {c.get('value')}"),
                        _e(c.get("actual")),
                        "<span class='good'>yes</span>"
                        if c.get("ok")
                        else "<span class='bad'>NO</span>",
                    ]
                    for c in checks
                ]
                parts.append(_table(rows, ["Expected outcome", "Expected", "Actual", "Held"]))
            spans = policy_rows(run)
            if spans:
                parts.append("<p>Policy in force over time (UTC):</p>")
                parts.append(_table([[_e(c) for c in row] for row in spans], list(POLICY_COLUMNS)))
            _, failures = _who([run])
            if failures:
                items = "".join(f"<li>{_e(line)}</li>" for line in failures)
                parts.append(f"<p>Did not get what it came for:</p><ul>{items}</ul>")
            refusals = (run.get("refusals") or {}).get("examples") or []
            if refusals:
                rows = [
                    [_e(r.get("visitor_class")), _e(r.get("rule")), _e(r.get("action")),
                     _breakable(f"{r.get('method', '')} {r.get('path', '')}"),
                     _e(r.get("reason"))]
                    for r in refusals
                    if r.get("action", "block") in REFUSING
                ]  # fmt: skip
                parts.append("<p>Latest refusals and why:</p>")
                parts.append(_table(rows, ["Class", "Rule", "Decision", "Request", "Reason"]))
    parts.append("</section>")
    return "".join(parts)


def render_html(report: Mapping[str, Any], title: str | None = None) -> str:
    """One self-contained page: findings, one chart per question, the side-by-side table,
    then the appendix; inline CSS and SVG, no scripts, nothing fetched."""
    scenarios: Sequence[Mapping[str, Any]] = report.get("scenarios") or []
    title = title or str(report.get("title") or "Sandbox report")
    names = ", ".join(label(s) for s in focus(scenarios))
    swept = sum(len(group) for group in sweeps(scenarios).values())
    if swept:
        names += f"{'; ' if names else ''}a sweep of agent adoption ({swept} scenarios)"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{PAGE_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='scope'>Scenarios: {_e(names)}. Figures are means with 95% intervals.</p>",
    ]
    findings = report.get("findings") or []
    if findings:
        # Finding texts hold no characters that escaping changes, so they appear verbatim.
        items = "".join(f"<li>{_e(f['text'])}</li>" for f in findings)
        parts.append(f"<section id='findings'><ol class='findings'>{items}</ol></section>")
    for chart in charts(scenarios, report.get("data_advantage")):
        parts.append(
            f"<figure><h3>{_e(chart.heading)}</h3>{chart.svg}"
            f"<figcaption>{_e(chart.caption)}</figcaption></figure>"
        )
    parts.append(_side_by_side_html(scenarios))
    parts.append(_appendix_html(scenarios))
    parts.append("</main></body></html>")
    return "".join(parts)


def write_reports(report: Mapping[str, Any], folder: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.html` and `<stem>.json` (the report as given) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{stem}.html"
    json_path = folder / f"{stem}.json"
    html_path.write_text(render_html(report, title=f"Sandbox report: {stem}"), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return html_path, json_path

"""Reports of a run: a terminal summary (rich), one self-contained HTML file (pygal SVG), JSON."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pygal
from pygal.style import Style
from rich.console import Console
from rich.table import Table

# Large type and strong contrast: the report is shown on projectors.
CHART_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1f2933",
    foreground_strong="#111111",
    foreground_subtle="#52606d",
    colors=("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"),
    title_font_size=22,
    legend_font_size=15,
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
)


def _get(metrics: Mapping[str, Any], path: str, default: Any = 0) -> Any:
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def summary_rows(metrics: Mapping[str, Any], channels: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The headline figures of one run, as (label, value) rows; `channels` lists order channels
    to show even where this run has none (so runs side by side line up)."""
    orders = dict.fromkeys(channels, 0)
    orders.update(_get(metrics, "orders.by_channel", {}))
    rows = [
        ("Policy", str(_get(metrics, "scenario.policy", "?"))),
        ("Requests", f"{_get(metrics, 'requests.total'):,}"),
        ("Refused requests", f"{_get(metrics, 'requests.refused'):,}"),
        ("Orders (all channels)", f"{_get(metrics, 'orders.total'):,}"),
    ]
    rows += [(f"  orders: {ch}", f"{n:,}") for ch, n in sorted(orders.items())]
    rows += [
        ("Refused order attempts", f"{_get(metrics, 'orders.refused_attempts'):,}"),
        (
            "Pages crawled / refused",
            f"{_get(metrics, 'crawl.pages_crawled'):,} / {_get(metrics, 'crawl.pages_refused'):,}",
        ),
        ("Ad impressions to humans", f"{_get(metrics, 'ads.impressions_to_humans'):,}"),
        ("Ad impressions skipped by agents", f"{_get(metrics, 'ads.skipped_by_agents'):,}"),
        ("Help Me Decide uses", f"{_get(metrics, 'help_me_decide.uses'):,}"),
        ("Help Me Decide oracle ratio", f"{_get(metrics, 'help_me_decide.oracle_ratio', 0):.2f}"),
        ("Shopper welfare (utility ratio)", f"{_get(metrics, 'welfare.ratio', 0):.2f}"),
        ("Platform revenue", f"{_get(metrics, 'revenue.total', 0):,.2f}"),
        (
            "Gate latency p50 / p99 (µs)",
            f"{_get(metrics, 'gate_latency_us.p50'):,} / {_get(metrics, 'gate_latency_us.p99'):,}",
        ),
    ]
    return rows


def print_summary(console: Console, metrics: Mapping[str, Any]) -> None:
    """One run: headline figures, the agents' outcomes and whether the expectations held."""
    table = Table(title=f"Scenario: {_get(metrics, 'scenario.name', '?')}", show_lines=False)
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    for label, value in summary_rows(metrics):
        table.add_row(label, value)
    console.print(table)
    print_agents(console, metrics)
    print_expectations(console, metrics)


def print_agents(console: Console, metrics: Mapping[str, Any]) -> None:
    agents = _get(metrics, "agents", {})
    if not agents:
        return
    table = Table(title="Who got in")
    for col in ("Visitor", "Class", "Requests", "Allowed", "Refused", "Orders", "Top refusal rule"):
        table.add_column(
            col, justify="right" if col in ("Requests", "Allowed", "Refused", "Orders") else "left"
        )
    for name, row in agents.items():
        table.add_row(
            name,
            str(row.get("visitor_class", "")),
            str(row.get("requests", 0)),
            str(row.get("allowed", 0)),
            str(row.get("refused", 0)),
            str(row.get("orders", 0)),
            str(row.get("top_rule") or "-"),
        )
    console.print(table)


def print_expectations(console: Console, metrics: Mapping[str, Any]) -> None:
    checks = _get(metrics, "expectations", [])
    if not checks:
        return
    table = Table(title="Expected outcomes")
    for col in ("Metric", "Expected", "Actual", "Held"):
        table.add_column(col)
    for check in checks:
        held = "[green]yes[/]" if check["ok"] else "[bold red]NO[/]"
        table.add_row(
            check["metric"], f"{check['op']} {check['value']}", str(check["actual"]), held
        )
    console.print(table)


def all_channels(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every order channel that any of the runs saw, sorted."""
    return sorted({c for m in runs for c in _get(m, "orders.by_channel", {})})


def print_side_by_side(console: Console, runs: Sequence[Mapping[str, Any]]) -> None:
    """Several runs in columns, one row per headline figure (the demo's closing table)."""
    table = Table(title="Side by side")
    table.add_column("Figure")
    channels = all_channels(runs)
    columns = [dict(summary_rows(m, channels)) for m in runs]
    for metrics in runs:
        table.add_column(str(_get(metrics, "scenario.name", "?")), justify="right")
    labels: list[str] = []
    for cols in columns:
        labels += [label for label in cols if label not in labels]
    for label in labels:
        table.add_row(label, *(cols.get(label, "-") for cols in columns))
    console.print(table)


# --- HTML ----------------------------------------------------------------------------------


_COMMENT = re.compile(r"<!--.*?-->|<script\b.*?</script>", re.DOTALL)


def _svg(chart: Any) -> str:
    svg: str = chart.render(is_unicode=True)
    # Drop the XML prolog (the SVG sits inline in HTML), the generator's comments (a date and
    # links) and its tooltip script: the report is a static, offline file without scripts.
    svg = svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg
    return _COMMENT.sub("", svg)


def _chart(kind: type[Any], title: str, **config: Any) -> Any:
    return kind(
        title=title,
        style=CHART_STYLE,
        js=[],  # no external script: the report must open offline
        width=900,
        height=420,
        legend_at_bottom=True,
        print_values=False,
        **config,
    )


def charts(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(caption, inline SVG) for each chart of one run."""
    out: list[tuple[str, str]] = []
    timeline = _get(metrics, "timeline", {})
    if timeline and timeline.get("buckets"):
        chart = _chart(pygal.StackedBar, "Decisions over time, by visitor class", x_title="seconds")
        chart.x_labels = [str(b) for b in timeline["buckets"]]
        for cls, series in sorted(timeline["series"].items()):
            chart.add(cls, series)
        out.append(
            ("Requests per time slice, stacked by the class the gate assigned.", _svg(chart))
        )
    decisions = _get(metrics, "requests.by_class_decision", {})
    if decisions:
        chart = _chart(pygal.StackedBar, "Gate decisions by visitor class")
        classes = sorted(decisions)
        chart.x_labels = classes
        actions = sorted({a for per in decisions.values() for a in per})
        for action in actions:
            chart.add(action, [decisions[c].get(action, 0) for c in classes])
        out.append(("What the gate decided for each class of visitor.", _svg(chart)))
    orders = _get(metrics, "orders.by_channel", {})
    chart = _chart(pygal.Bar, "Orders by channel")
    for channel, count in sorted(orders.items()):
        chart.add(channel, [count])
    out.append(("Orders placed, by the channel they came through.", _svg(chart)))
    agents = _get(metrics, "agents", {})
    if agents:
        chart = _chart(pygal.HorizontalStackedBar, "Each visitor's funnel")
        names = list(agents)
        chart.x_labels = names
        chart.add("allowed", [agents[n].get("allowed", 0) for n in names])
        chart.add("refused", [agents[n].get("refused", 0) for n in names])
        chart.add("orders", [agents[n].get("orders", 0) for n in names])
        out.append(("Requests let in, refused, and orders placed, per visitor.", _svg(chart)))
    chart = _chart(pygal.Bar, "Shopper welfare and platform revenue")
    chart.add("welfare ratio x100", [round(100 * float(_get(metrics, "welfare.ratio", 0)), 1)])
    chart.add("revenue: margin", [round(float(_get(metrics, "revenue.margin", 0)), 2)])
    chart.add("revenue: ads", [round(float(_get(metrics, "revenue.ads", 0)), 2)])
    out.append(
        ("Welfare: utility of what shoppers bought against the best available.", _svg(chart))
    )
    return out


PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:2rem}h2{font-size:1.5rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;background:white;font-size:1.05rem}
th,td{border:1px solid #cbd2d9;padding:6px 10px;text-align:left}td.num{text-align:right}
figure{background:white;border:1px solid #cbd2d9;margin:16px 0;padding:8px}
figcaption{font-size:1rem;color:#3e4c59;padding:4px 8px}
.bad{color:#b00020;font-weight:bold}.good{color:#136f3a;font-weight:bold}
"""


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    head = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(runs: Sequence[Mapping[str, Any]], title: str = "Sandbox report") -> str:
    """One self-contained HTML page (inline CSS and SVG, no scripts) for one or more runs."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head><body><main>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if len(runs) > 1:
        channels = all_channels(runs)
        columns = [dict(summary_rows(m, channels)) for m in runs]
        labels = list(columns[0])
        rows = [[label, *(c.get(label, "-") for c in columns)] for label in labels]
        parts.append("<h2>Side by side</h2>")
        parts.append(_table(rows, ["Figure", *(str(_get(m, "scenario.name")) for m in runs)]))
    for metrics in runs:
        name = html.escape(str(_get(metrics, "scenario.name", "?")))
        parts.append(f"<section><h2>{name}</h2>")
        description = _get(metrics, "scenario.description", "")
        if description:
            parts.append(f"<p>{html.escape(str(description))}</p>")
        parts.append(_table(summary_rows(metrics), ["Figure", "Value"]))
        refusals = _get(metrics, "refusals.examples", [])
        if refusals:
            parts.append("<h3>Latest refusals and why</h3>")
            parts.append(
                _table(
                    [[r["visitor_class"], r["rule"], r["path"], r["reason"]] for r in refusals],
                    ["Class", "Rule", "Path", "Reason"],
                )
            )
        checks = _get(metrics, "expectations", [])
        if checks:
            rows = [
                [
                    c["metric"],
                    f"{c['op']} {c['value']}",
                    str(c["actual"]),
                    "yes" if c["ok"] else "NO",
                ]
                for c in checks
            ]
            parts.append(
                "<h3>Expected outcomes</h3>"
                + _table(rows, ["Metric", "Expected", "Actual", "Held"])
            )
        for caption, svg in charts(metrics):
            parts.append(f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "".join(parts)


def write_reports(runs: Sequence[Mapping[str, Any]], folder: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.html` and `<stem>.json` into `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{stem}.html"
    json_path = folder / f"{stem}.json"
    html_path.write_text(render_html(runs, title=f"Sandbox report: {stem}"), encoding="utf-8")
    json_path.write_text(json.dumps(list(runs), indent=2, sort_keys=True), encoding="utf-8")
    return html_path, json_path

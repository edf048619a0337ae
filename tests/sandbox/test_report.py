"""The report in the terminal (80 columns, nothing cut) and as one offline HTML page."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sandbox.findings import findings
from sandbox.report import print_report, render_html, write_reports
from tests.sandbox import reportdata

SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def full(**kwargs: Any) -> dict[str, Any]:
    report = reportdata.report(**kwargs)
    report["findings"] = findings(report["scenarios"], report.get("data_advantage"))
    return report


def sweep_only() -> dict[str, Any]:
    scenarios = reportdata.sweep()
    return {"scenarios": scenarios, "findings": findings(scenarios)}


REPORTS: dict[str, Callable[[], dict[str, Any]]] = {
    "demo": partial(full, with_data_advantage=True),
    "demo with sweep": partial(full, with_sweep=True, with_data_advantage=True),
    "sweep only": sweep_only,
}


def terminal(report: dict[str, Any]) -> str:
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    print_report(console, report["scenarios"], report["findings"])
    return console.export_text()


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", REPORTS)
def test_terminal_report_fits_80_columns_and_cuts_nothing(name: str) -> None:
    report = REPORTS[name]()
    out = terminal(report)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "…" not in out
    flat = words(out)
    # The findings come first, each whole.
    assert flat.startswith("What the runs show 1.")
    for item in report["findings"]:
        assert words(item["text"]) in flat
    assert "mean (95% interval)" in flat


def test_terminal_report_names_who_failed_and_why() -> None:
    out = words(terminal(full()))
    assert "Who got in: walled-garden" in out
    assert "Who got in: open-platform" in out
    assert (
        "declared-shopper: 403 from rule ai-agents-out: outside shopping agents may not"
        " enter this store" in out
    )
    assert "suspected-automation-challenged" in out
    assert "412.30 (379-445)" in out
    assert "≈ within chance" in out


def test_expected_outcomes_that_did_not_hold_are_printed() -> None:
    report = full()
    assert "Expected outcomes" not in terminal(report)
    run = report["scenarios"][0]["runs"][0]
    run["passed"] = False
    run["expectations"][0] = {**run["expectations"][0], "ok": False, "actual": -1}
    out = terminal(report)
    assert "Expected outcomes" in out
    assert "NO" in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("name", REPORTS)
def test_every_finding_appears_verbatim_in_the_html(name: str) -> None:
    report = REPORTS[name]()
    page = render_html(report)
    assert report["findings"]
    for item in report["findings"]:
        assert item["text"] in page
    # The findings open the page, before the first chart.
    assert page.index(report["findings"][0]["text"]) < page.index("<figure")


@pytest.mark.parametrize("name", REPORTS)
def test_html_is_self_contained(name: str) -> None:
    page = render_html(REPORTS[name]())
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= SVG_NAMESPACES, urls
    # Labels and legends are whole: pygal marks a cut label with an ellipsis.
    assert "…" not in page


def test_html_has_one_chart_per_question() -> None:
    page = render_html(full(with_sweep=True, with_data_advantage=True))
    for heading in (
        "ad revenue and sales",
        "ads as a share of sales",
        "Who holds the customer interface",
        "history events per journey, by channel",
        "welfare by channel",
        "How journeys ended",
        "gate decisions by visitor class",
        "The data advantage",
        "Agent adoption: platform revenue",
        "Agent adoption: who holds the customer interface",
        "Agent adoption: shopper welfare",
    ):
        assert heading in page, heading
    assert page.count("<svg") == 11
    assert "Bought through a declared shopping agent" in page
    assert "within chance" in page  # the side-by-side table marks overlapping intervals
    assert "Latest refusals and why" in page
    assert "Gate latency" in page


def test_same_report_gives_the_same_page() -> None:
    assert render_html(full()) == render_html(full())


def test_write_reports_writes_the_page_and_the_json_as_given(tmp_path: Path) -> None:
    report = full(with_data_advantage=True)
    html_path, json_path = write_reports(report, tmp_path / "reports", "demo")
    assert html_path.name == "demo.html"
    assert json.loads(json_path.read_text(encoding="utf-8")) == json.loads(json.dumps(report))
    assert report["findings"][0]["text"] in html_path.read_text(encoding="utf-8")


@pytest.mark.browser
def test_report_reads_on_a_projector(browser: Any, tmp_path: Path) -> None:
    report = full(with_sweep=True, with_data_advantage=True)
    html_path, _ = write_reports(report, tmp_path, "demo")
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(html_path.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        first = page.locator("ol.findings li").first
        assert first.is_visible()
        box = first.bounding_box()
        assert box is not None
        assert box["y"] < 250
        assert box["y"] + box["height"] < 768
        assert words(report["findings"][0]["text"]) == words(first.inner_text())
        # Every chart is drawn inside the page's width.
        widths = page.evaluate(
            "Array.from(document.querySelectorAll('figure svg'))"
            ".map(s => s.getBoundingClientRect().right)"
        )
        assert widths
        assert max(widths) <= 1024
        page.screenshot(path=str(tmp_path / "report-top.png"))
        page.screenshot(path=str(tmp_path / "report-full.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "report-top.png").stat().st_size > 10_000


def test_orders_by_channel_keep_the_protocol_doors_apart() -> None:
    report = full()
    first, second = report["scenarios"][0]["runs"][0], report["scenarios"][1]["runs"][0]
    first["orders"]["by_channel"] = {"human": 12, "ucp": 2, "mcp": 1}
    second["orders"]["by_channel"] = {"human": 5, "acp": 3}
    out = words(terminal(report))
    assert "Orders by channel: human 12, ucp 2, mcp 1" in out
    assert "Orders by channel: human 5, acp 3" in out
    html = render_html(report)
    assert "Orders by channel: human 12, ucp 2, mcp 1." in html
    assert "Orders by channel: human 5, acp 3." in html

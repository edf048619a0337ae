"""The built-in scenarios run end to end over real HTTP, and their expected outcomes hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.report import write_reports
from sandbox.runner import run_scenario
from sandbox.scenario import CatalogSpec, Scenario, load_scenario

pytestmark = [pytest.mark.slow]

# A smaller catalog keeps each run short; the populations are the shipped ones.
TEST_PRODUCTS = 240


def small(name: str) -> Scenario:
    return load_scenario(name).model_copy(update={"catalog": CatalogSpec(products=TEST_PRODUCTS)})


def run_all(name: str) -> list[dict[str, Any]]:
    return [run_scenario(variant, show_progress=False) for variant in small(name).expand()]


def failed_expectations(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in metrics["expectations"] if not c["ok"]]


@pytest.fixture(scope="module")
def walled_garden() -> dict[str, Any]:
    return run_all("walled-garden")[0]


@pytest.mark.browser
def test_walled_garden_keeps_outside_agents_from_ordering(
    walled_garden: dict[str, Any], chromium_executable: str
) -> None:
    assert failed_expectations(walled_garden) == []
    agents = walled_garden["agents"]
    assert walled_garden["orders"]["by_channel"].get("first-party-agent", 0) >= 1
    for name, row in agents.items():
        if row["kind"] == "agent":
            assert row["orders"] == 0, name
    refused_rules = walled_garden["requests"]["by_rule"]
    assert any(rule.startswith("ai-") for rule in refused_rules)
    assert walled_garden["gate_latency_us"]["count"] == walled_garden["requests"]["total"]


@pytest.mark.browser
@pytest.mark.parametrize("name", ["open-platform", "pay-per-crawl", "arms-race"])
def test_built_in_scenario_meets_its_expectations(name: str, chromium_executable: str) -> None:
    for metrics in run_all(name):
        assert failed_expectations(metrics) == [], metrics["agents"]
        assert metrics["requests"]["total"] > 0


def test_self_preferencing_compares_the_house_brand_boost() -> None:
    without, with_boost = run_all("self-preferencing")
    assert without["scenario"]["house_brand_boost"] == 0.0
    assert with_boost["scenario"]["house_brand_boost"] == 0.3
    for metrics in (without, with_boost):
        assert failed_expectations(metrics) == []
        assert 0.0 < metrics["welfare"]["ratio"] <= 1.0
        assert metrics["revenue"]["total"] > 0


@pytest.mark.browser
def test_the_html_report_shows_its_charts_in_a_browser(
    walled_garden: dict[str, Any], tmp_path: Path, browser: Any
) -> None:
    html_path, json_path = write_reports([walled_garden], tmp_path, "report")
    assert json.loads(json_path.read_text())[0]["scenario"]["name"] == "walled-garden"
    text = html_path.read_text()
    assert "<script" not in text
    assert "http://" not in text.replace("http://www.w3.org", "")
    page = browser.new_page()
    try:
        page.goto(html_path.as_uri())
        assert page.locator("figure svg").count() >= 4
        assert "Orders by channel" in page.content()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


@pytest.mark.browser
def test_demo_prints_both_scenarios_side_by_side(tmp_path: Path, chromium_executable: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert re.search(r"walled-garden.*open-platform", result.output)
    assert "Side by side" in result.output
    assert (tmp_path / "demo.html").is_file()
    assert "HTML report:" in result.output

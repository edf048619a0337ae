"""The built-in scenarios run end to end over real HTTP, and their expected outcomes hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from marketplace.core.settings import Settings
from sandbox.cli import app
from sandbox.findings import findings
from sandbox.persona import load_personas
from sandbox.report import print_policies, write_reports
from sandbox.runner import remote_target, run_against, run_scenario, scenario_result
from sandbox.scenario import CatalogSpec, Scenario, load_scenario
from sandbox.testing import running_platform

PERSONAS = load_personas()

pytestmark = [pytest.mark.slow]

# A smaller catalog keeps each run short; the populations are the shipped ones.
TEST_PRODUCTS = 240


def small(name: str) -> Scenario:
    return load_scenario(name).model_copy(update={"catalog": CatalogSpec(products=TEST_PRODUCTS)})


def run_all(name: str) -> list[dict[str, Any]]:
    return [
        run_scenario(variant, personas=PERSONAS, show_progress=False)
        for variant in small(name).expand()
    ]


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


def test_self_preferencing_moves_welfare_and_margin_with_the_boost() -> None:
    without, with_boost = run_all("self-preferencing")
    assert without["scenario"]["house_brand_boost"] == 0.0
    assert with_boost["scenario"]["house_brand_boost"] == 0.3
    for metrics in (without, with_boost):
        assert failed_expectations(metrics) == []
        assert 0.0 < metrics["welfare"]["ratio"] <= 1.0
        assert metrics["revenue"]["total"] > 0
    # Shoppers buy what Help Me Decide picks, so the boost changes what they buy.
    bought = [
        sorted(p for row in m["journeys"] for p in row["purchases"]) for m in (without, with_boost)
    ]
    assert bought[0] != bought[1]
    assert (without["welfare"]["ratio"], without["revenue"]["margin"]) != (
        with_boost["welfare"]["ratio"],
        with_boost["revenue"]["margin"],
    )


@pytest.mark.browser
def test_the_html_report_shows_its_charts_in_a_browser(
    walled_garden: dict[str, Any], tmp_path: Path, browser: Any
) -> None:
    scenario = scenario_result(small("walled-garden"), [walled_garden])
    report = {"scenarios": [scenario], "findings": findings([scenario])}
    html_path, json_path = write_reports(report, tmp_path, "report")
    assert json.loads(json_path.read_text())["scenarios"][0]["name"] == "walled-garden"
    text = html_path.read_text()
    assert "<script" not in text
    assert "http://" not in text.replace("http://www.w3.org", "")
    page = browser.new_page()
    try:
        page.goto(html_path.as_uri())
        assert page.locator("figure svg").count() >= 4
        for finding in report["findings"]:
            assert finding["text"] in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


SUMMARY_KEYS = (
    "revenue.ads",
    "revenue.total",
    "sales",
    "orders.total",
    "interface_share",
    "welfare.ratio",
    "market.lost_sales",
    "market.fallback_to_store",
    "market.delegated_journeys",
    "data.events_per_journey",
)


@pytest.mark.browser
def test_demo_writes_the_report_contract(tmp_path: Path, chromium_executable: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "HTML report:" in result.output
    report = json.loads((tmp_path / "demo.json").read_text())
    assert [s["name"] for s in report["scenarios"]] == ["walled-garden", "open-platform"]
    html_text = (tmp_path / "demo.html").read_text()
    assert 3 <= len(report["findings"]) <= 6
    for finding in report["findings"]:
        assert finding["text"] in html_text
        assert " ".join(finding["text"].split()[:6]) in " ".join(result.output.split())
    closed, opened = report["scenarios"]
    for scenario in (closed, opened):
        assert scenario["seeds"] == [42]
        assert len(scenario["runs"]) == 1
        for key in SUMMARY_KEYS:
            figure = scenario["summary"][key]
            assert figure["low"] <= figure["mean"] <= figure["high"], key
        run = scenario["runs"][0]
        assert "by_channel" in run["welfare"]
        assert "impressions_per_journey" in run["ads"]
        assert len(run["journeys"]) >= 40
    # Same population and delegation share: only the policy differs.
    assert (
        closed["summary"]["market.delegated_journeys"]
        == opened["summary"]["market.delegated_journeys"]
    )
    assert closed["summary"]["market.fallback_to_store"]["mean"] > 0
    assert opened["summary"]["orders.agent"]["mean"] > 0
    assert report["data_advantage"]["levels"] == [0, 1, 3, 10, 30]


def test_a_running_store_serves_two_runs_in_a_row_to_every_actor(tmp_path: Path) -> None:
    scenario = small("self-preferencing").expand()[0]
    with running_platform(
        scenario.policy, products=TEST_PRODUCTS, seed=scenario.seed, personas=PERSONAS
    ) as platform:
        # The harness runs where the store was started, so it shares the store's data folder.
        here = Settings(data_dir=platform.data_dir, database_url=platform.database_url)
        runs = [
            run_against(
                scenario,
                remote_target(platform.url, platform.admin_token, here),
                PERSONAS,
                show_progress=False,
            )
            for _ in range(2)
        ]
    for run in runs:  # the second run's shoppers open new accounts; nobody fails to register
        agents = run["agents"].values()
        assert not [a for a in agents if a["outcome"] == "could not register" or a["error"]]
        first_party = [a for a in agents if a["kind"] == "first-party"]
        assert first_party
        assert all(a["succeeded"] for a in first_party)
        assert failed_expectations(run) == []


def test_a_run_against_a_store_elsewhere_says_why_the_platform_assistant_did_not_run(
    tmp_path: Path,
) -> None:
    scenario = small("self-preferencing").expand()[0]
    with running_platform(
        scenario.policy, products=TEST_PRODUCTS, seed=scenario.seed, personas=PERSONAS
    ) as platform:
        elsewhere = Settings(data_dir=tmp_path / "another-folder")
        target = remote_target(platform.url, platform.admin_token, elsewhere)
        run = run_against(scenario, target, PERSONAS, show_progress=False)
    first_party = [a for a in run["agents"].values() if a["kind"] == "first-party"]
    assert first_party
    assert all("signing key is not on this machine" in (a["error"] or "") for a in first_party)


def test_protocol_shoppers_buy_at_the_open_doors_and_are_refused_at_the_closed_ones() -> None:
    closed, opened = run_all("protocol-doors")
    assert closed["scenario"]["policy"] == "closed"
    for metrics in (closed, opened):
        assert failed_expectations(metrics) == []
        shoppers = {k: v for k, v in metrics["agents"].items() if k.startswith("protocol-shopper")}
        assert len(shoppers) == 2, metrics["agents"].keys()
    assert not {"ucp", "mcp"} & set(closed["orders"]["by_channel"])
    assert closed["requests"]["by_door"]["ucp"]["block"] >= 1
    assert closed["requests"]["by_door"]["mcp"]["block"] >= 1
    assert opened["orders"]["by_channel"]["ucp"] == 1
    assert opened["orders"]["by_channel"]["mcp"] == 1
    rows = [a for name, a in opened["agents"].items() if name.startswith("protocol-shopper")]
    assert all(a["succeeded"] and a["orders"] == 1 for a in rows), rows
    assert {a["visitor_class"] for a in rows} == {"verified-agent"}


def test_a_run_in_waves_reports_the_policy_in_force_over_time() -> None:
    """A teacher switches observe -> closed during a run that keeps the population coming."""
    scenario = small("self-preferencing").expand()[0]
    with running_platform(
        "observe", products=TEST_PRODUCTS, seed=scenario.seed, personas=PERSONAS
    ) as platform:
        here = Settings(data_dir=platform.data_dir, database_url=platform.database_url)
        admin = {"authorization": f"Bearer {platform.admin_token}"}

        def keep_going(waves: int, seconds: float) -> bool:
            if waves == 1:
                switched = httpx.put(
                    f"{platform.url}/api/v1/policy", json={"preset": "closed"}, headers=admin
                )
                assert switched.status_code == 200, switched.text
            return waves < 2

        run = run_against(
            scenario,
            remote_target(platform.url, platform.admin_token, here),
            PERSONAS,
            show_progress=False,
            keep_going=keep_going,
        )
    assert run["waves"] == 2
    spans = run["policies"]
    assert [s["policy"] for s in spans] == ["observe", "closed"]
    assert spans[0]["refused"] == 0
    assert sum(s["requests"] for s in spans) == run["requests"]["total"]
    # Each wave's journeys count under the policy in force when they began.
    assert [s["journeys"] for s in spans] == [len(run["journeys"]) // 2] * 2
    assert {row["policy"] for row in run["journeys"]} == {"observe", "closed"}
    emails = {row.get("persona") for row in run["journeys"]}
    assert emails  # both waves' shoppers ran (new accounts for the second)
    assert not [a for a in run["agents"].values() if a["outcome"] == "could not register"]

    result = scenario_result(scenario, [run], live=True)
    assert result["policy"] == "observe, then closed"
    console = Console(record=True, width=100)
    print_policies(console, run, title="Policy in force over time")
    text = console.export_text()
    assert "observe (v" in text
    assert "closed (v" in text


def test_run_refuses_duration_with_until_enter() -> None:
    result = CliRunner().invoke(app, ["run", "walled-garden", "--duration", "30", "--until-enter"])
    assert result.exit_code == 2
    assert "either --duration or --until-enter" in result.output

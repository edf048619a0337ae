"""The findings are computed from the figures: numbers in every sentence, and words that
change when the figures do."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.findings import findings
from tests.sandbox import reportdata

UNSAFE = set("&<>\"'")


def texts(report: dict[str, Any]) -> list[str]:
    return [f["text"] for f in findings(report["scenarios"], report.get("data_advantage"))]


VARIANTS = {
    "closed and open": reportdata.report(),
    "with sweep and data advantage": reportdata.report(with_sweep=True, with_data_advantage=True),
    "closed alone": {"scenarios": [reportdata.scenario("closed")]},
    "open alone": {"scenarios": [reportdata.scenario("open")]},
    "sweep alone": {"scenarios": reportdata.sweep()},
}


@pytest.mark.parametrize("name", VARIANTS)
def test_three_to_six_sentences_with_numbers(name: str) -> None:
    report = VARIANTS[name]
    found = findings(report["scenarios"], report.get("data_advantage"))
    assert 3 <= len(found) <= 6
    for item in found:
        assert item["text"].strip()
        assert re.search(r"\d", item["text"]), item["text"]
        assert item["figures"]
        assert all(isinstance(v, int | float) for v in item["figures"].values())
        # Plain English, not figure names.
        assert "summary" not in item["text"]
        assert not re.search(r"\b[a-z_]+\.[a-z_]+\b", item["text"]), item["text"]


def test_different_figures_give_different_sentences() -> None:
    before = texts(reportdata.report())
    after = texts(reportdata.report(closed={"revenue.ads": 655.40, "interface_share": 0.97}))
    assert before != after
    assert any("655.40" in t and "97%" in t for t in after)
    assert not any("655.40" in t for t in before)


def test_words_follow_the_direction_of_the_figures() -> None:
    usual = " ".join(texts(reportdata.report()))
    assert "Closing the door kept the customer interface" in usual
    assert "fewer sales were lost" in usual

    # Figures the other way round: the closed platform held less and lost fewer sales.
    flipped = " ".join(
        texts(
            reportdata.report(
                closed={"interface_share": 0.40, "market.lost_sales": 1},
                opened={"interface_share": 0.70, "market.lost_sales": 9},
            )
        )
    )
    assert "Closing the door did not keep the customer interface" in flipped
    assert "more sales were lost" in flipped


def test_overlapping_intervals_are_called_within_chance() -> None:
    wide = texts(reportdata.report(spread=0.9))
    assert sum("within chance" in t for t in wide) >= 3
    assert "made no clear difference" in wide[0]


def test_clearly_separated_intervals_are_not_called_within_chance() -> None:
    narrow = texts(reportdata.report(spread=0.01))
    assert not any("within chance" in t for t in narrow), narrow


def test_one_scenario_alone_is_described() -> None:
    found = texts({"scenarios": [reportdata.scenario("closed")]})
    joined = " ".join(found)
    assert "The walled garden" in joined
    assert "92%" in joined
    assert "closed against" not in joined  # nothing to compare with


def test_a_sweep_says_how_figures_move_with_adoption() -> None:
    found = texts({"scenarios": reportdata.sweep()})
    sweep = [t for t in found if "grows from 0% to 80%" in t]
    assert len(sweep) == 1
    assert "on the closed platform revenue falls" in sweep[0]
    assert "interface share falls from 100% to 36%" in sweep[0]


def test_the_data_advantage_follows_the_curve() -> None:
    scenarios = [reportdata.scenario("closed"), reportdata.scenario("open")]
    rising = findings(scenarios, reportdata.data_advantage())[-1]["text"]
    assert "gets better with history" in rising
    assert "clearly above the 0.72" in rising
    flat = findings(
        scenarios, reportdata.data_advantage(ratios=(0.6, 0.6, 0.61, 0.6, 0.62), baseline=0.8)
    )[-1]["text"]
    assert "does not clearly change" in flat
    assert "still below the 0.80" in flat


def test_no_characters_that_html_escaping_would_change() -> None:
    odd = reportdata.scenario("closed")
    odd["title"] = 'Tom\'s <b>"walled"</b> garden & co'
    advantage = reportdata.data_advantage()
    advantage["baseline"]["label"] = "Best-seller <\"most\" & 'reviews'>"
    reports = [*VARIANTS.values(), {"scenarios": [odd], "data_advantage": advantage}]
    for report in reports:
        for text in texts(report):
            assert not UNSAFE & set(text), text


def test_a_scenario_without_delegation_says_nothing_about_agents() -> None:
    none_delegated = reportdata.scenario(
        "closed",
        {
            "market.delegated_journeys": 0,
            "market.delegation_refused": 0,
            "market.fallback_to_store": 0,
            "market.lost_sales": 0,
            "orders.agent": 0,
        },
        delegation_share=0.0,
    )
    joined = " ".join(texts({"scenarios": [none_delegated]}))
    assert "handed to an outside agent" not in joined

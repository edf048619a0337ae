"""The disguised browser in headless Chromium, at both stealth levels, under closed and open."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.liveserver import LiveServer
from shopbots.roster import RunOptions, run_agent
from tests.shopbots.outcomes import EXPECTED, SHOPPER_EMAIL, SHOPPER_PASSWORD


@pytest.mark.browser
@pytest.mark.parametrize("policy", ["closed", "open"], indirect=True)
@pytest.mark.parametrize("stealth", [0, 1])
def test_disguised_browser(
    stealth: int, policy: str, live_server: LiveServer, browser: Any
) -> None:
    run = run_agent(
        "disguised-browser",
        RunOptions(
            target=live_server.url,
            email=SHOPPER_EMAIL,
            password=SHOPPER_PASSWORD,
            stealth=stealth,
            seed=1,
            browser=browser,
        ),
    )
    succeeded, decision, rule = EXPECTED[(f"disguised-browser/{stealth}", policy)]
    refusal = run.first_refusal
    got = (run.succeeded, refusal.decision if refusal else None, refusal.rule if refusal else None)
    assert got == (succeeded, decision, rule), f"{run.outcome} / {run.final}"
    # It posed as Chrome on every page, and logged in through the HTML form.
    assert all("HeadlessChrome" not in step.user_agent for step in run.steps)
    assert [step.path for step in run.steps[:2]] == ["/login", "/login"]
    if run.succeeded:
        assert run.steps[-1].path.startswith("/orders/")

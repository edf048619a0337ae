"""Each roster agent against the real platform over HTTP, under closed and open."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sandbox.liveserver import LiveServer
from shopbots.roster import AgentRun, RunOptions, run_agent
from tests.conftest import ADMIN_TOKEN
from tests.shopbots.outcomes import EXPECTED, SHOPPER_EMAIL, SHOPPER_PASSWORD

HTTP_AGENTS = [
    "polite-crawler",
    "rogue-crawler",
    "stealth-crawler",
    "declared-shopper",
    "signed-partner",
]


def invoke(args: list[str]) -> Result:
    # Imported here so an unrelated command module in progress fails only the CLI tests.
    from sandbox.cli import app

    return CliRunner().invoke(app, args)


def assert_outcome(run: AgentRun, key: tuple[str, str]) -> None:
    succeeded, decision, rule = EXPECTED[key]
    refusal = run.first_refusal
    got = (run.succeeded, refusal.decision if refusal else None, refusal.rule if refusal else None)
    assert got == (succeeded, decision, rule), f"{key}: {run.outcome} / {run.final}"


@pytest.mark.parametrize("policy", ["closed", "open"], indirect=True)
@pytest.mark.parametrize("agent", HTTP_AGENTS)
def test_agent_outcome(agent: str, policy: str, live_server: LiveServer, tmp_path: Path) -> None:
    run = run_agent(
        agent,
        RunOptions(
            target=live_server.url,
            email=SHOPPER_EMAIL,
            password=SHOPPER_PASSWORD,
            seed=1,
            fast=True,
            admin_token=ADMIN_TOKEN,
            key_file=tmp_path / "partner.pem",
        ),
    )
    assert_outcome(run, (agent, policy))
    assert run.steps, "every agent makes at least one request"
    assert all(step.answer.decision for step in run.steps), "the gate answers every request"
    if agent == "signed-partner":
        assert all(step.signed for step in run.steps)
        assert {step.answer.visitor_class for step in run.steps} == {"verified-agent"}


@pytest.mark.parametrize("policy", ["open"], indirect=True)
def test_partner_without_admin_token_prints_its_jwk_and_is_not_verified(
    policy: str, live_server: LiveServer
) -> None:
    notes: list[str] = []
    run = run_agent(
        "signed-partner",
        RunOptions(
            target=live_server.url,
            email=SHOPPER_EMAIL,
            password=SHOPPER_PASSWORD,
            fast=True,
            on_note=notes.append,
        ),
    )
    assert any('"kty": "OKP"' in note and "POST /api/v1/partners" in note for note in notes)
    assert not run.succeeded
    assert "verified-agent" not in {step.answer.visitor_class for step in run.steps}


@pytest.mark.parametrize("policy", ["closed"], indirect=True)
def test_cli_prints_each_step_and_exits_non_zero_when_refused(
    policy: str, live_server: LiveServer
) -> None:
    result = invoke(
        ["agent", "declared-shopper", "--target", live_server.url, "--as", "student", "--fast"]
    )
    assert result.exit_code == 1, result.output
    assert "ai-agents-out" in result.output
    assert "goal failed" in result.output
    assert SHOPPER_PASSWORD not in result.output


@pytest.mark.parametrize("policy", ["open"], indirect=True)
def test_cli_exits_zero_when_the_goal_is_met(
    policy: str, live_server: LiveServer, tmp_path: Path
) -> None:
    key = tmp_path / "partner.pem"
    args = ["agent", "signed-partner", "--target", live_server.url, "--as", SHOPPER_EMAIL]
    args += ["--password", SHOPPER_PASSWORD, "--admin-token", ADMIN_TOKEN, "--key-file", str(key)]
    result = invoke([*args, "--fast", "--json"])
    assert result.exit_code == 0, result.output
    assert "goal met" in result.output
    assert '"succeeded": true' in result.output
    assert key.exists()


def test_cli_refuses_unknown_agents_and_missing_shoppers() -> None:
    unknown = invoke(["agent", "nobody", "--target", "http://127.0.0.1:9"])
    assert unknown.exit_code == 2
    missing = invoke(["agent", "declared-shopper", "--target", "http://127.0.0.1:9"])
    assert missing.exit_code == 2
    assert "--as" in missing.output


@pytest.mark.parametrize("policy", ["pay-per-crawl"], indirect=True)
def test_polite_crawler_pays_per_crawl_with_a_registered_key(
    policy: str, live_server: LiveServer
) -> None:
    base = RunOptions(target=live_server.url, fast=True, seed=1)
    unregistered = run_agent("polite-crawler", base)
    assert not unregistered.succeeded
    assert unregistered.first_refusal is not None
    assert unregistered.first_refusal.decision == "pay"
    assert unregistered.first_refusal.crawler_price

    base.admin_token = ADMIN_TOKEN
    paying = run_agent("polite-crawler", base)
    assert paying.succeeded, paying.final
    assert len(paying.record.payments) >= 5
    assert any(step.answer.crawler_charged for step in paying.steps)


def test_printed_thoughts_never_show_the_password() -> None:
    from langchain_core.messages import AIMessage

    from sandbox.commands import agent as agent_command

    message = AIMessage(
        content="logging in",
        tool_calls=[
            {
                "name": "login",
                "args": {"email": SHOPPER_EMAIL, "password": SHOPPER_PASSWORD},
                "id": "c1",
                "type": "tool_call",
            }
        ],
    )
    with agent_command.console.capture() as captured:
        agent_command.print_thought(message)
    assert "password=***" in captured.get()
    assert SHOPPER_PASSWORD not in captured.get()

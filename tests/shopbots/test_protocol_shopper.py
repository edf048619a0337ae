"""The protocol shoppers against the real platform over HTTP: UCP REST and the MCP tools."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.liveserver import LiveServer
from shopbots.roster import RunOptions, run_agent
from tests.conftest import ADMIN_TOKEN

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def options(url: str, tmp_path: Path, **extra: object) -> RunOptions:
    return RunOptions(
        target=url,
        email="buyer@example.com",
        admin_token=ADMIN_TOKEN,
        key_file=tmp_path / "protocol.pem",
        fast=True,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("policy", ["open"], indirect=True)
@pytest.mark.parametrize(
    ("agent", "channel"), [("protocol-shopper", "ucp"), ("protocol-shopper-mcp", "mcp")]
)
def test_a_signed_protocol_shopper_buys_under_open(
    agent: str, channel: str, policy: str, live_server: LiveServer, tmp_path: Path
) -> None:
    run = run_agent(agent, options(live_server.url, tmp_path))
    assert run.succeeded, (run.outcome, run.final)
    assert run.record.orders[0]["id"].startswith("ord_")
    assert run.record.orders[0]["via"] == channel
    assert {step.answer.visitor_class for step in run.steps} == {"verified-agent"}
    assert all(step.signed for step in run.steps)
    paths = {step.path for step in run.steps}
    assert "/.well-known/ucp" in paths
    assert ("/mcp" in paths) == (channel == "mcp")
    stats = httpx.get(f"{live_server.url}/api/v1/admin/stats", headers=ADMIN).json()
    by_channel = stats["orders"]["by_channel"]
    assert by_channel[channel] == 1
    assert {"ucp", "mcp", "acp"} & set(by_channel) == {channel}


@pytest.mark.parametrize("policy", ["closed"], indirect=True)
@pytest.mark.parametrize("agent", ["protocol-shopper", "protocol-shopper-mcp"])
def test_closed_refuses_the_protocol_shopper_at_the_checkout(
    agent: str, policy: str, live_server: LiveServer, tmp_path: Path
) -> None:
    run = run_agent(agent, options(live_server.url, tmp_path))
    assert not run.succeeded
    refusal = run.first_refusal
    assert refusal is not None, run.final
    assert (refusal.decision, refusal.rule, refusal.visitor_class) == (
        "block",
        "outside-agents-no-transactions",
        "verified-agent",
    )
    # It read the profile and the catalog first: reading is open under closed.
    assert run.steps[0].answer.decision == "allow"
    stats = httpx.get(f"{live_server.url}/api/v1/admin/stats", headers=ADMIN).json()
    assert {"ucp", "mcp", "acp"} & set(stats["orders"]["by_channel"]) == set()


@pytest.mark.parametrize("policy", ["open"], indirect=True)
def test_the_cli_runs_it_without_a_shopper_password(
    policy: str, live_server: LiveServer, tmp_path: Path
) -> None:
    key = tmp_path / "protocol.pem"
    args = ["agent", "protocol-shopper", "--target", live_server.url, "--fast"]
    args += ["--admin-token", ADMIN_TOKEN, "--key-file", str(key)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "goal met" in result.output
    assert "/ucp/v1/checkout-sessions" in result.output
    assert key.exists()

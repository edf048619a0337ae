"""`sandbox probe` under observe: what enforcement would have decided, next to what happened."""

from __future__ import annotations

import pytest

from sandbox.liveserver import LiveServer
from shopbots.identity import GPTBOT_UA
from tests.sandbox.test_probe import probe_json, run_probe


@pytest.fixture
def policy() -> str:
    return "observe"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_probe_shows_what_enforcement_would_have_decided(live_server: LiveServer) -> None:
    result = run_probe("--target", live_server.url, "--user-agent", GPTBOT_UA)
    assert result.exit_code == 0, result.output
    assert "allow (would block)" in result.output
    assert "observe mode" in result.output

    rows = probe_json(live_server.url, "--user-agent", GPTBOT_UA)
    assert (rows["catalog"]["status"], rows["catalog"]["decision"]) == (200, "allow")
    assert rows["catalog"]["observed_action"] == "block"
    assert rows["robots"]["observed_action"] == "allow"  # nothing to add where both agree

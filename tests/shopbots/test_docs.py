"""docs/agent-developers.md: its signing example works, and its outcome table matches the tests."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN
from tests.shopbots.outcomes import EXPECTED

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent-developers.md"


def example(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {marker} -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"no example {marker!r} in {DOC}"
    return match.group(1)


@pytest.mark.parametrize("policy", ["closed"], indirect=True)
def test_signing_example_is_verified_by_the_gate(policy: str, live_server: LiveServer) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(example("signing"), {"TARGET": live_server.url, "ADMIN_TOKEN": ADMIN_TOKEN})  # noqa: S102
    assert out.getvalue().split() == ["200", "verified-agent", "outside-agents-read-catalog"]


def test_outcome_table_in_the_docs_names_every_refusing_rule() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## 7.") : text.index("## 8.")]
    for (agent, _policy), (_ok, _decision, rule) in EXPECTED.items():
        assert agent.split("/")[0] in table
        if rule:
            assert f"`{rule}`" in table, rule

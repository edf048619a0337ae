"""`sandbox eval help-me-decide` runs and reports the oracle ratios, baselines and validity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sandbox.commands import eval as eval_commands
from sandbox.eval_decide import BASELINES, parse_stated_query


@pytest.mark.slow
def test_the_eval_command_reports_every_figure(tmp_path: Path) -> None:
    # The command module on its own Typer app: the same command `sandbox eval` registers.
    app = typer.Typer()
    eval_commands.register(app)
    out = tmp_path / "hmd.json"
    result = CliRunner().invoke(
        app,
        ["eval", "help-me-decide", "--seed", "7", "--products", "400", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Ours" in result.output
    assert "mean" in result.output
    assert "Mean oracle ratio" in result.output

    report = json.loads(out.read_text())
    assert report["seed"] == 7
    assert report["products"] == 400
    assert report["command"].startswith("sandbox eval help-me-decide")
    assert set(report["means"]) == {"ours", *BASELINES}
    assert len(report["personas"]) == 8
    for persona in report["personas"]:
        assert set(persona["ratios"]) == {"ours", *BASELINES}
        assert persona["ratios"]["ours"] <= 1.0
        # Nothing beats the oracle: every ratio is at most 1.
        assert all(r is None or r <= 1.0 + 1e-9 for r in persona["ratios"].values())
        assert persona["valid"] is True, persona["validity_problems"]
        top = persona["picks"]["top_pick"]
        for role, cheaper in (("budget_pick", True), ("premium_pick", False)):
            pick = persona["picks"][role]
            if pick is not None:
                assert (pick["price"] < top["price"]) is cheaper
    assert isinstance(report["target_met"], bool)
    assert report["latency_ms"]["mean"] > 0


def test_the_outside_agent_reads_a_price_limit_from_the_stated_query() -> None:
    assert parse_stated_query("wireless headphones under 60") == ("wireless headphones", 60.0)
    assert parse_stated_query("4 person family tent") == ("4 person family tent", None)
    assert parse_stated_query("laptop below $700 for school") == ("laptop for school", 700.0)

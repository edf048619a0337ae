"""`sandbox eval help-me-decide` runs and reports the oracle ratios, baselines and validity."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from marketplace.accounts.service import hash_password, register
from marketplace.catalog.seed import seed_catalog
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.history.models import HistoryEvent
from sandbox.commands import eval as eval_commands
from sandbox.eval_decide import (
    BASELINE_LABELS,
    BASELINES,
    EVAL_NOW,
    PUBLIC_BASELINES,
    DataAdvantage,
    data_advantage,
    parse_stated_query,
)
from sandbox.persona import load_personas
from sandbox.seeding import seed_history

PERSONAS = load_personas()

LEVELS = [0, 1, 3, 10, 30]


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

    # The curve is on by default: its table after the evaluation's, and its JSON beside it.
    assert "data advantage" in result.output
    assert result.output.index("Mean oracle ratio") < result.output.index("data advantage")
    curve = report["data_advantage"]
    assert set(curve) == {"levels", "help_me_decide", "low", "high", "baseline", "seed", "products"}
    assert curve["levels"] == LEVELS
    assert (curve["seed"], curve["products"]) == (7, 400)
    assert len(curve["help_me_decide"]) == len(curve["low"]) == len(curve["high"]) == len(LEVELS)
    assert curve["baseline"]["name"] in PUBLIC_BASELINES
    assert curve["baseline"]["label"] == BASELINE_LABELS[curve["baseline"]["name"]]
    assert curve["baseline"]["label"] in result.output


@pytest.mark.slow
def test_the_eval_command_leaves_the_curve_out_when_asked(tmp_path: Path) -> None:
    app = typer.Typer()
    eval_commands.register(app)
    out = tmp_path / "hmd.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "help-me-decide",
            "--seed",
            "7",
            "--products",
            "300",
            "--no-curve",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Mean oracle ratio" in result.output
    assert "data advantage" not in result.output
    assert "data_advantage" not in json.loads(out.read_text())


def test_the_eval_help_shows_the_curve_flag_and_an_example() -> None:
    app = typer.Typer()
    eval_commands.register(app)
    result = CliRunner().invoke(app, ["eval", "help-me-decide", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--curve" in result.output
    assert "--no-curve" in result.output
    assert "Example" in result.output


# --- the data advantage -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def curve() -> DataAdvantage:
    # The CLI's default seed, on the catalog size the demo uses.
    return data_advantage(personas=PERSONAS, seed=42, products=600)


@pytest.mark.slow
def test_the_curve_has_a_point_per_level_and_a_public_baseline(curve: DataAdvantage) -> None:
    assert curve.levels == LEVELS
    assert len(curve.help_me_decide) == len(curve.low) == len(curve.high) == len(LEVELS)
    for mean, low, high in zip(curve.help_me_decide, curve.low, curve.high, strict=True):
        assert 0.0 <= low <= mean <= high <= 1.0
    assert set(curve.per_persona) == {p.key for p in PERSONAS.members}
    for ratios in curve.per_persona.values():
        assert len(ratios) == len(LEVELS)
        assert all(0.0 <= r <= 1.0 for r in ratios)
    # The curve is the mean over the personas, level by level.
    for index, mean in enumerate(curve.help_me_decide):
        values = [curve.per_persona[p.key][index] for p in PERSONAS.members]
        assert mean == pytest.approx(sum(values) / len(values), abs=1e-4)

    assert curve.baseline_name in PUBLIC_BASELINES
    assert "random" not in PUBLIC_BASELINES
    assert curve.baseline_label == BASELINE_LABELS[curve.baseline_name]
    assert set(curve.baselines) == set(PUBLIC_BASELINES)
    assert curve.baseline_ratio == max(curve.baselines.values())
    assert 0.0 <= curve.baseline_ratio <= 1.0

    body = json.loads(json.dumps(curve.to_json()))
    assert body == {
        "levels": LEVELS,
        "help_me_decide": curve.help_me_decide,
        "low": curve.low,
        "high": curve.high,
        "baseline": {
            "name": curve.baseline_name,
            "label": curve.baseline_label,
            "ratio": curve.baseline_ratio,
        },
        "seed": 42,
        "products": 600,
    }


@pytest.mark.slow
def test_the_curve_depends_on_the_history_and_nothing_else(curve: DataAdvantage) -> None:
    # Without history the platform cannot tell two shoppers of one category apart ...
    student, audiophile = curve.choices["student"], curve.choices["audiophile"]
    assert PERSONAS.find("student").main_category == PERSONAS.find("audiophile").main_category
    assert student[0] == audiophile[0]
    # ... with their histories it can, and it picks better for them on average.
    assert student[-1] != audiophile[-1]
    assert any(picks[0] != picks[-1] for picks in curve.choices.values())
    assert curve.help_me_decide[-1] > curve.help_me_decide[0]

    # Each level stands alone: the same seed gives the same points, whatever else is asked.
    again = data_advantage(personas=PERSONAS, seed=42, products=600, levels=(30, 0))
    assert again.help_me_decide == [curve.help_me_decide[-1], curve.help_me_decide[0]]
    assert again.choices == {k: [v[-1], v[0]] for k, v in curve.choices.items()}
    assert (again.baseline_name, again.baseline_ratio) == (
        curve.baseline_name,
        curve.baseline_ratio,
    )


@pytest.mark.slow
def test_the_curve_is_deterministic(curve: DataAdvantage) -> None:
    again = data_advantage(personas=PERSONAS, seed=42, products=600)
    assert again.to_json() == curve.to_json()
    assert again.per_persona == curve.per_persona
    assert again.choices == curve.choices


def test_seed_history_writes_exactly_the_newest_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    upgrade(url)
    database = Database(url)
    who = PERSONAS.find("outdoor-family")
    try:
        seed_catalog(database, products=300, seed=7, now=EVAL_NOW)
        histories: dict[int, list[tuple[str, int | None, str | None, datetime]]] = {}
        with database.session() as session:
            for events in (0, 1, 3, 10, 30):
                account = register(
                    session,
                    email=f"h{events}@example.test",
                    password_hash=hash_password("a-long-password"),
                    name="History",
                    now=EVAL_NOW,
                )
                session.flush()
                seed_history(session, who, account.id, events=events, seed=7, now=EVAL_NOW)
                session.flush()
                found = session.execute(
                    select(
                        HistoryEvent.kind,
                        HistoryEvent.product_id,
                        HistoryEvent.category_slug,
                        HistoryEvent.created_at,
                    )
                    .where(HistoryEvent.account_id == account.id)
                    .order_by(HistoryEvent.id)
                ).all()
                histories[events] = [(r[0], r[1], r[2], r[3]) for r in found]
    finally:
        database.dispose()
    assert histories[0] == []
    for events, rows in histories.items():
        assert len(rows) == events
        assert {r[0] for r in rows} <= {"search", "view"}
        assert {r[2] for r in rows} <= set(who.interests)
        times = [r[3] for r in rows]
        assert times == sorted(times)
        assert all(t.replace(tzinfo=EVAL_NOW.tzinfo) <= EVAL_NOW for t in times)
        # A longer history holds the shorter one: the same newest events.
        assert histories[30][len(histories[30]) - events :] == rows
    # The newest events are the decision in progress; older ones reach the other interests.
    assert {r[2] for r in histories[3]} == {who.main_category}
    assert {r[2] for r in histories[30]} > {who.main_category}
    assert {r[0] for r in histories[30]} == {"search", "view"}


def test_the_outside_agent_reads_a_price_limit_from_the_stated_query() -> None:
    assert parse_stated_query("wireless headphones under 60") == ("wireless headphones", 60.0)
    assert parse_stated_query("4 person family tent") == ("4 person family tent", None)
    assert parse_stated_query("laptop below $700 for school") == ("laptop for school", 700.0)

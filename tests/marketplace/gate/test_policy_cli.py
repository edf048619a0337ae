"""`sandbox policy validate|show|set` through the CLI, `set` against a live server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from sandbox.cli import app as cli
from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN

runner = CliRunner()


@pytest.fixture
def policy() -> str:
    return "closed"


def test_validate_accepts_a_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("extends: closed\nname: mine\nmode: observe\n", encoding="utf-8")
    result = runner.invoke(cli, ["policy", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid policy" in result.output


def test_validate_names_line_field_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrules: []\nmood: closed\n", encoding="utf-8")
    result = runner.invoke(cli, ["policy", "validate", str(bad)])
    assert result.exit_code == 1
    assert "line 3" in result.output
    assert "'mood'" in result.output
    assert "not a known field" in result.output
    missing = runner.invoke(cli, ["policy", "validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code != 0
    assert "no file" in missing.output


def test_show_prints_the_decision_table() -> None:
    result = runner.invoke(cli, ["policy", "show", "pay-per-crawl"])
    assert result.exit_code == 0, result.output
    assert "declared-crawler" in result.output
    assert "pay" in result.output
    unknown = runner.invoke(cli, ["policy", "show", "wide-open"])
    assert unknown.exit_code == 1


def test_show_fits_the_terminal() -> None:
    narrow = runner.invoke(cli, ["policy", "show", "closed"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.output.splitlines()) <= 80
    assert "block: account, cart, checkout, assistant" in narrow.output
    wide = runner.invoke(cli, ["policy", "show", "closed"], env={"COLUMNS": "200"})
    assert any(
        "visitor class" in line and "well-known" in line for line in wide.output.splitlines()
    ), wide.output


@pytest.mark.parametrize("command", ["validate", "show", "set"])
def test_help_has_an_example(command: str) -> None:
    result = runner.invoke(cli, ["policy", command, "--help"])
    assert result.exit_code == 0
    assert "Example: sandbox policy" in result.output


def test_set_switches_a_running_platform(live_server: LiveServer, tmp_path: Path) -> None:
    url = live_server.url
    result = runner.invoke(
        cli, ["policy", "set", "open", "--target", url, "--admin-token", ADMIN_TOKEN]
    )
    assert result.exit_code == 0, result.output
    active = httpx.get(
        f"{url}/api/v1/policy", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    assert active["name"] == "open"
    custom = tmp_path / "custom.yaml"
    custom.write_text("extends: partner-only\nname: custom\n", encoding="utf-8")
    result = runner.invoke(
        cli, ["policy", "set", str(custom), "--target", url, "--admin-token", ADMIN_TOKEN]
    )
    assert result.exit_code == 0, result.output
    wrong = runner.invoke(cli, ["policy", "set", "closed", "--target", url, "--admin-token", "x"])
    assert wrong.exit_code == 1
    assert "403" in wrong.output
    active = httpx.get(
        f"{url}/api/v1/policy", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    assert active["name"] == "custom"


def test_set_reports_an_unreachable_target() -> None:
    result = runner.invoke(
        cli, ["policy", "set", "open", "--target", "http://127.0.0.1:9", "--admin-token", "t"]
    )
    assert result.exit_code == 2
    assert "could not reach" in result.output

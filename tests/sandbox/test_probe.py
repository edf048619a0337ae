"""`sandbox probe`: the gate's answer per route class, for three identities, under closed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from marketplace.core.clock import Clock, system_clock
from sandbox.commands import probe as probe_command
from sandbox.liveserver import LiveServer
from shopbots.identity import CHROME_UA, GPTBOT_UA, PARTNER_UA
from shopbots.probe import PROBES
from shopbots.signing import WebBotAuthSigner
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def policy() -> str:
    return "closed"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def clock() -> Clock:
    # Signatures carry wall-clock `created`/`expires`; the gate must judge them by the same clock.
    return system_clock


def run_probe(*args: str) -> Result:
    # Only the probe command, so the test does not depend on every other command module.
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Probe only."""

    probe_command.register(app)
    return CliRunner().invoke(app, ["probe", *args])


def probe_json(url: str, *args: str) -> dict[str, dict[str, object]]:
    result = run_probe("--target", url, *args, "--json")
    assert result.exit_code == 0, result.output
    return {row["route_class"]: row for row in json.loads(result.output)}


def test_probe_table_for_a_declared_crawler(live_server: LiveServer) -> None:
    result = run_probe("--target", live_server.url, "--user-agent", GPTBOT_UA)
    assert result.exit_code == 0, result.output
    for route_class, _, _ in PROBES:
        assert route_class in result.output
    assert "ai-crawlers-out" in result.output
    assert "declared-crawler" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80  # the runner's width

    rows = probe_json(live_server.url, "--user-agent", GPTBOT_UA)
    assert rows["robots"]["decision"] == "allow"
    assert rows["catalog"]["decision"] == "block"
    assert rows["catalog"]["rule"] == "ai-crawlers-out"
    assert rows["cart"]["status"] == 403


def test_probe_for_a_browser_user_agent(live_server: LiveServer) -> None:
    rows = probe_json(live_server.url, "--user-agent", CHROME_UA)
    assert rows["product"]["decision"] == "allow"
    assert rows["product"]["status"] == 200
    assert rows["catalog"]["decision"] == "allow"
    assert all(row["decision"] for row in rows.values())


def test_probe_signed_with_a_registered_partner_key(
    live_server: LiveServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "partner.pem"
    signer = WebBotAuthSigner.load_or_create(key_file)
    registered = httpx.post(
        f"{live_server.url}/api/v1/partners",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"name": "probe-partner", "jwk": signer.jwk},
    )
    assert registered.status_code in (200, 201), registered.text

    rows = probe_json(live_server.url, "--user-agent", PARTNER_UA, "--sign", str(key_file))
    assert {row["visitor_class"] for row in rows.values()} == {"verified-agent"}
    assert rows["catalog"]["decision"] == "allow"
    assert rows["cart"]["decision"] == "block"
    assert rows["cart"]["rule"] == "outside-agents-no-transactions"

    table = run_probe(
        "--target", live_server.url, "--user-agent", PARTNER_UA, "--sign", str(key_file)
    )
    assert "signed with partner.pem" in table.output


def test_probe_says_when_nothing_answers() -> None:
    result = run_probe("--target", "http://127.0.0.1:9", "--user-agent", "x")
    assert result.exit_code == 1
    assert "is it running" in result.output


@pytest.mark.parametrize("policy", ["open"])
def test_probe_signs_each_redirect_and_reports_where_it_was_answered(
    live_server: LiveServer, tmp_path: Path, policy: str
) -> None:
    key_file = tmp_path / "partner.pem"
    signer = WebBotAuthSigner.load_or_create(key_file)
    registered = httpx.post(
        f"{live_server.url}/api/v1/partners",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"name": "probe-partner", "jwk": signer.jwk},
    )
    assert registered.status_code == 201, registered.text

    rows = probe_json(live_server.url, "--user-agent", PARTNER_UA, "--sign", str(key_file))
    # Signed in as nobody, the checkout page sends the agent to log in: a second, signed hop.
    checkout = rows["checkout"]
    assert checkout["path"] == "/checkout"
    assert checkout["answered_path"] == "/login?next=%2Fcheckout"
    assert (checkout["status"], checkout["visitor_class"]) == (200, "verified-agent")
    assert {row["visitor_class"] for row in rows.values()} == {"verified-agent"}
    assert rows["catalog"]["answered_path"] == "/api/v1/products"

    table = run_probe(
        "--target", live_server.url, "--user-agent", PARTNER_UA, "--sign", str(key_file)
    )
    assert "GET /checkout -> /login?next=%2Fcheckout" in table.output


def test_probe_explain_prints_the_signature_the_gate_rebuilt(
    live_server: LiveServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "stranger.pem"
    WebBotAuthSigner.load_or_create(key_file)  # never registered
    args = ("--target", live_server.url, "--user-agent", PARTNER_UA, "--sign", str(key_file))
    result = run_probe(*args, "--explain")
    assert result.exit_code == 0, result.output
    assert "unknown-key" in result.output
    assert "POST /api/v1/partners" in result.output
    assert "request: POST " in result.output
    host = live_server.url.removeprefix("http://")
    assert f'"@authority": {host}' in result.output  # the signature base, line by line
    assert '"@signature-params": ("@authority")' in result.output

    answer = json.loads(run_probe(*args, "--explain", "--json").output)
    assert answer["status"] == "unknown-key"
    assert answer["explained"] == "this-request"
    assert answer["key"]["registered"] is False

"""docker-compose.yml stays valid: checked with Debian's docker-compose (no engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        skip_or_fail("compose", "docker-compose is not installed: `apt-get install docker-compose`")
    result = subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_wires_postgres_platform_and_agents() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "platform", "agents"}
    assert services["postgres"]["healthcheck"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    platform = services["platform"]
    assert platform["environment"]["SANDBOX_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "SANDBOX_TRUSTED_PROXIES" in platform["environment"]
    assert platform["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--workers" in platform["command"]
    assert services["agents"]["depends_on"]["platform"]["condition"] == "service_healthy"
    for service in ("platform", "agents"):
        dockerfile = ROOT / services[service]["build"]["dockerfile"]
        assert dockerfile.is_file()

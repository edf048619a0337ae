"""Two real uvicorn worker processes on one SQLite file: policy switches and nonces are shared."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from marketplace.core.migrate import upgrade
from marketplace.gate.identity.sign import RequestSigner
from sandbox.liveserver import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ADMIN = {"Authorization": "Bearer two-worker-admin"}


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "marketplace.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker on {self.url} exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"worker on {self.url} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Worker, Worker, Path]]:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    data = tmp_path / "data"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
        "SANDBOX_DATABASE_URL": url,
        "SANDBOX_DATA_DIR": str(data),
        "SANDBOX_ADMIN_TOKEN": "two-worker-admin",
        "SANDBOX_POLICY": "closed",
    }
    # Started together: whichever creates the platform key first, both end up with that one.
    one = Worker(env, tmp_path / "one.log")
    two = Worker(env, tmp_path / "two.log")
    try:
        one.wait_ready()
        two.wait_ready()
        yield one, two, data / "platform-signing-key.pem"
    finally:
        one.stop()
        two.stop()


def test_policy_switch_and_nonce_replay_across_two_workers(
    workers: tuple[Worker, Worker, Path],
) -> None:
    one, two, key_file = workers
    assert httpx.get(f"{two.url}/api/v1/policy", headers=ADMIN).json()["name"] == "closed"

    switched = httpx.put(f"{one.url}/api/v1/policy", json={"preset": "open"}, headers=ADMIN)
    assert switched.status_code == 200, switched.text
    started = time.monotonic()
    name = None
    while time.monotonic() - started < 1.0:
        name = httpx.get(f"{two.url}/api/v1/policy", headers=ADMIN).json()["name"]
        if name == "open":
            break
        time.sleep(0.05)
    assert name == "open", "the other worker did not switch within a second"

    # The first-party signer reads the platform key from the data folder, as the harness does.
    signer = RequestSigner.for_platform(key_file)
    target = "http://shop.test/api/v1/categories"
    headers = {"Host": "shop.test", "User-Agent": "nile-first-party/1.0"}
    headers.update(signer.headers("GET", target))
    first = httpx.get(f"{one.url}/api/v1/categories", headers=headers)
    assert first.headers["x-visitor-class"] == "first-party-agent"
    replayed = httpx.get(f"{two.url}/api/v1/categories", headers=headers)
    assert replayed.headers["x-visitor-class"] != "first-party-agent"
    fresh = dict(headers)
    fresh.update(signer.headers("GET", target))
    assert (
        httpx.get(f"{two.url}/api/v1/categories", headers=fresh).headers["x-visitor-class"]
        == "first-party-agent"
    )

"""Soak: the app's memory stays bounded under the loads of finding 4, measured on a real process.

The app runs in a uvicorn subprocess; its resident set (VmRSS) is read before and after the loads:
more assistant conversations than the memory keeps, one conversation far longer than the turns it
keeps, and 5,000 distinct user agents of 60-100 KB for the registry's match cache. Before the
bounds, these loads added several hundred MiB (the match cache alone kept up to 4,096 whole user
agents); now growth stays under `RSS_BOUND_MIB`.

The assistant's bounds are set low here so a short run exceeds them; docs/architecture.md gives
the bound for the defaults.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.liveserver import free_port, wait_until_healthy
from tests.conftest import ADMIN_TOKEN, CHROME_UA

pytestmark = pytest.mark.slow

CONVERSATIONS_KEPT = 100
TURNS_KEPT = 10
CONVERSATIONS = 3 * CONVERSATIONS_KEPT
LONG_TURNS = 6 * TURNS_KEPT
USER_AGENTS = 5000
RSS_BOUND_MIB = 64


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc")


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": sqlite_url,
        "SANDBOX_DATA_DIR": str(tmp_path),
        "SANDBOX_POLICY": "observe",
        "SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
        "SANDBOX_SECRET_KEY": "soak-secret",
        "SANDBOX_ASSISTANT_MAX_CONVERSATIONS": str(CONVERSATIONS_KEPT),
        "SANDBOX_ASSISTANT_MAX_TURNS": str(TURNS_KEPT),
    }
    command = [sys.executable, "-m", "uvicorn", "marketplace.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(
            url,
            process,
            output=lambda: process.stderr.read() if process.stderr else "",
        )
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def say(client: httpx.Client, message: str, conversation: str) -> None:
    answer = client.post(
        "/api/v1/assistant/messages", json={"message": message, "conversation_id": conversation}
    )
    assert answer.status_code == 200, answer.text


def user_agent_flood(port: int, count: int) -> None:
    """`count` requests, each with a distinct 60-100 KB user agent (distinct from the start)."""
    rng = random.Random(17)
    for n in range(count):
        agent = f"Mozilla/5.0 ({n:05d}; " + "x" * rng.randint(60_000, 100_000) + ")"
        request = (
            "GET /healthz HTTP/1.1\r\nHost: soak.test\r\nConnection: close\r\n"
            f"User-Agent: {agent}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(request)
            while sock.recv(65536):
                pass


def test_memory_stays_bounded_under_the_loads_of_finding_4(server: tuple[str, int]) -> None:
    url, pid = server
    port = int(url.rsplit(":", 1)[1])
    with httpx.Client(base_url=url, headers={"user-agent": CHROME_UA}, timeout=60) as client:
        email = "soak@example.com"
        account = {"email": email, "password": "correct-horse-9", "name": "Soak"}
        assert client.post("/api/v1/accounts", json=account).status_code == 201
        login = client.post(
            "/api/v1/sessions", json={"email": email, "password": account["password"]}
        )
        client.headers["authorization"] = f"Bearer {login.json()['access_token']}"
        # Warm up every path once, so the baseline holds what any served app holds.
        for n in range(3):
            say(client, "help me choose headphones under $200", f"warm-{n}")
        user_agent_flood(port, 20)
        baseline = rss_mib(pid)
        figures = {"baseline": baseline}

        for n in range(CONVERSATIONS):
            say(client, "help me choose headphones under $200", f"c{n}")
        figures["conversations"] = rss_mib(pid)
        for _ in range(LONG_TURNS):
            say(client, "help me choose headphones under $200", "long")
        figures["long conversation"] = rss_mib(pid)
        user_agent_flood(port, USER_AGENTS)
        figures["user agents"] = rss_mib(pid)

    print(
        "\nRSS (MiB): "
        + ", ".join(f"{name} {value:.0f}" for name, value in figures.items())
        + f"; growth {figures['user agents'] - baseline:.0f} MiB"
    )
    assert figures["user agents"] - baseline < RSS_BOUND_MIB

"""`sandbox seed` and `sandbox serve` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sandbox.commands.workshop import participants_url
from sandbox.liveserver import free_port
from sandbox.network import lan_addresses, serving_urls
from tests.conftest import CHROME_UA

pytestmark = [pytest.mark.slow]


def sandbox(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SANDBOX_DATA_DIR": str(data_dir)}
    env.pop("SANDBOX_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_seed_refuses_to_overwrite_without_reset(tmp_path: Path) -> None:
    first = sandbox("seed", "--products", "150", "--seed", "3", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "sandbox.db").is_file()
    again = sandbox("seed", "--products", "150", data_dir=tmp_path)
    assert again.returncode == 2
    assert "--reset" in again.stderr
    reset = sandbox("seed", "--products", "120", "--reset", data_dir=tmp_path)
    assert reset.returncode == 0, reset.stderr


def test_seed_names_a_bad_option(tmp_path: Path) -> None:
    result = sandbox("seed", "--products", "0", data_dir=tmp_path)
    assert result.returncode == 2
    assert "--products" in result.stderr


def test_serve_migrates_seeds_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_DATA_DIR": str(tmp_path),
        "SANDBOX_CATALOG_SIZE": "200",
    }
    env.pop("SANDBOX_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--policy", "open"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "sandbox serve did not come up"
            time.sleep(0.3)
        products = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/products", headers={"user-agent": "GPTBot/1.1"}
        )
        assert products.status_code == 200
        assert products.headers["x-visitor-class"] == "declared-crawler"
        assert products.json()["total"] == 200
        persona = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/sessions",
            json={"email": "student@personas.nile.test", "password": "persona-pass-1"},
            headers={"user-agent": CHROME_UA},
        )
        assert persona.status_code == 200, persona.text
        assert (tmp_path / "platform-signing-key.pem").is_file()
        # uvicorn would believe X-Forwarded-For from loopback; SANDBOX_TRUSTED_PROXIES is empty.
        with httpx.Client(headers={"user-agent": "GPTBot/1.1"}) as crawler:
            for _ in range(60):
                last = crawler.get(f"http://127.0.0.1:{port}/api/v1/categories")
            assert last.status_code == 429
            forwarded = crawler.get(
                f"http://127.0.0.1:{port}/api/v1/categories",
                headers={"x-forwarded-for": "203.0.113.9"},
            )
            assert forwarded.status_code == 429
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_on_a_port_in_use_says_so_once_with_the_option_to_change(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sandbox("serve", "--port", str(port), data_dir=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert "--port" in result.stderr
    assert "Serving the store" not in result.stdout
    assert not (tmp_path / "sandbox.db").exists()  # nothing prepared for a store that can't run


def test_serve_refuses_the_network_with_the_default_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    both = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--port", "1"],
        env={**env, "SANDBOX_DATA_DIR": str(tmp_path), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert both.returncode == 2
    assert "SANDBOX_ADMIN_TOKEN and SANDBOX_SECRET_KEY" in both.stderr
    assert "127.0.0.1" in both.stderr
    one = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--port", "1"],
        env={
            **env,
            "SANDBOX_DATA_DIR": str(tmp_path),
            "SANDBOX_ADMIN_TOKEN": "a-token-of-our-own",
            "COLUMNS": "200",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert one.returncode == 2
    assert "SANDBOX_SECRET_KEY still has its published default" in one.stderr
    assert not (tmp_path / "sandbox.db").exists()


def test_serve_on_every_address_prints_where_the_network_reaches_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_DATA_DIR": str(tmp_path),
        "SANDBOX_CATALOG_SIZE": "120",
        "SANDBOX_ADMIN_TOKEN": "workshop-admin-token",
        "SANDBOX_SECRET_KEY": "workshop-secret-key",
        "COLUMNS": "200",
    }
    env.pop("SANDBOX_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 180
        while not any("Serving the store" in line for line in lines):
            assert time.monotonic() < deadline, lines
            line = process.stdout.readline()
            assert line or process.poll() is None, lines
            lines.append(line)
        # The lines printed with it: the network addresses, read until the store answers.
        for address in lan_addresses():
            line = process.stdout.readline()
            lines.append(line)
            assert f"http://{address}:{port}/" in line, lines
            while True:  # printed just before uvicorn listens
                try:
                    health = httpx.get(f"http://{address}:{port}/healthz", timeout=10)
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, lines
                    time.sleep(0.3)
            assert health.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    printed = "".join(lines)
    assert f"http://127.0.0.1:{port}/" in printed
    assert "0.0.0.0" not in printed


def test_the_workshop_handout_gives_an_address_participants_reach() -> None:
    addresses = lan_addresses()
    assert all(not a.startswith("127.") for a in addresses)
    local = participants_url("http://127.0.0.1:8000", None)
    assert local == (f"http://{addresses[0]}:8000" if addresses else "http://127.0.0.1:8000")
    assert participants_url("http://127.0.0.1:8000", "http://shop.lan:9000/") == (
        "http://shop.lan:9000"
    )
    assert participants_url("http://10.1.2.3:8000", None) == "http://10.1.2.3:8000"
    assert serving_urls("0.0.0.0", 8000)[0] == "http://127.0.0.1:8000/"

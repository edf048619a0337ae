"""Serve an app with uvicorn in a child process on a loopback port; run locust against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sandbox.liveserver import free_port

LOCUSTFILES = Path(__file__).resolve().parent / "locustfiles"


@contextmanager
def uvicorn_server(
    app: str,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    factory: bool = False,
    http: str | None = None,
) -> Iterator[str]:
    """`uvicorn APP --workers N` on 127.0.0.1; yields its base URL once /healthz answers.

    `http` names uvicorn's HTTP protocol (a class by import path, as `sandbox serve` passes it).
    """
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if factory:
        cmd.append("--factory")
    if http:
        cmd += ["--http", http]
    child = subprocess.Popen(cmd, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"uvicorn {app} exited with {child.returncode}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn {app} did not answer in 60 s")
            time.sleep(0.2)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_locust(
    locustfile: str,
    host: str,
    *,
    users: int,
    spawn_rate: float,
    seconds: int,
    env: dict[str, str] | None = None,
    user_classes: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """locust --headless --json; per "METHOD name" stats, plus "Aggregated" over all of them.

    Each entry: requests, failures, rps (requests over the span from the first to the last
    request), and the median, p95, p99 and max latency in ms from locust's histogram.
    """
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile), "--headless",
        "--host", host, "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s",
        "--json", "--stop-timeout", "5", "--loglevel", "ERROR", "--exit-code-on-error", "0",
    ]  # fmt: skip
    cmd += user_classes or []
    done = subprocess.run(
        cmd,
        env={**os.environ, **(env or {})},
        check=True,
        timeout=seconds + 90,
        capture_output=True,
        text=True,
    )
    entries: list[dict[str, Any]] = json.loads(done.stdout[done.stdout.index("[") :])
    stats = {f"{e['method']} {e['name']}": _entry_stats([e]) for e in entries}
    stats["Aggregated"] = _entry_stats(entries)
    return stats


def _entry_stats(entries: list[dict[str, Any]]) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    requests = failures = 0
    start, end = float("inf"), 0.0
    for entry in entries:
        requests += int(entry["num_requests"])
        failures += int(entry["num_failures"])
        if entry["num_requests"]:
            start = min(start, float(entry["start_time"]))
            end = max(end, float(entry["last_request_timestamp"]))
        for bucket, count in entry["response_times"].items():
            histogram[int(float(bucket))] = histogram.get(int(float(bucket)), 0) + int(count)
    span = end - start if end > start else float("nan")

    def pct(q: float) -> float:
        if not histogram:
            return float("nan")
        rank, seen = q * sum(histogram.values()), 0
        for bucket in sorted(histogram):
            seen += histogram[bucket]
            if seen >= rank:
                return float(bucket)
        return float(max(histogram))

    return {
        "requests": requests,
        "failures": failures,
        "rps": requests / span if span == span and span > 0 else float("nan"),
        "median_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": float(max(histogram)) if histogram else float("nan"),
    }

"""Hostile requests: another client's latency while one client attacks (target: 50 ms at most).

The platform is served as `sandbox serve` serves it (uvicorn in its own process, the bounded
httptools protocol, `create_served_app`) over a copy of the 10k catalog. One thread sends simple
product GETs in a loop on its own connection; another sends each attack back to back on fresh
connections for a few seconds: oversized heads (one 2 MB or 50 MB header, 250,000 header lines),
a 9.9 MB JSON object with 1,000,000 keys, a 1 MB one with 90,000 keys, and 50 MB bodies with
and without a length. The figure is the bystander's slowest answer among those that overlapped
an attack, beside its slowest answer in the 0.3 s just before; the attacker's answers must be
small problem+json (431 or 413).

    .venv/bin/python -m bench.hostile [--rounds 5] [--products 10000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/hostile.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.catalogs import copy_catalog
from bench.common import CHROME, command_line, machine, summary, write_result
from bench.serving import uvicorn_server

TARGET_MS = 50.0
MAX_ANSWER_BYTES = 1024
PROTOCOL = "marketplace.core.server:BoundedHttpToolsProtocol"


def _request(method: str, target: str, headers: tuple[str, ...] = (), body: bytes = b"") -> bytes:
    head = [f"{method} {target} HTTP/1.1", "Host: bench.test", f"User-Agent: {CHROME}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _json_object(keys: int) -> bytes:
    return ("{" + ",".join(f'"k{i}":0' for i in range(keys)) + "}").encode()


def attacks(token: str, scale: float) -> dict[str, tuple[Callable[[], bytes], int]]:
    """Name -> (the request's bytes, built on demand; the status the attacker must get)."""
    auth = f"Authorization: Bearer {token}"

    def n(value: int) -> int:
        return max(1, int(value * scale))

    def posted(body: bytes, *extra: str) -> bytes:
        headers = (auth, "Content-Type: application/json", *extra)
        return _request("POST", "/api/v1/orders", headers, body)

    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    return {
        "2 MB X-Junk header": (
            lambda: _request("GET", "/api/v1/products/1", (f"X-Junk: {'j' * n(2_000_000)}",)),
            431,
        ),
        "50 MB X-Junk header": (
            lambda: _request("GET", "/api/v1/products/1", (f"X-Junk: {'j' * n(50_000_000)}",)),
            431,
        ),
        "250,000 header lines (2 MB)": (
            lambda: _request("GET", "/api/v1/products/1", ("X-J: a",) * n(250_000)),
            431,
        ),
        "JSON object, 1,000,000 keys (9.9 MB)": (
            lambda: posted(body := _json_object(n(1_000_000)), f"Content-Length: {len(body)}"),
            413,
        ),
        "JSON object, 90,000 keys (1 MB)": (
            lambda: posted(body := _json_object(90_000), f"Content-Length: {len(body)}"),
            413,
        ),
        "50 MB body": (
            lambda: posted(b" " * n(50_000_000), f"Content-Length: {n(50_000_000)}"),
            413,
        ),
        "50 MB chunked body": (
            lambda: posted(chunk * n(48) + b"0\r\n\r\n", "Transfer-Encoding: chunked"),
            413,
        ),
    }


def exchange(url: str, request: bytes) -> tuple[int, str, int]:
    """One request on a fresh connection: status, content type, body size."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=300) as sock:
        with suppress(OSError):  # the server may stop reading once it has answered
            sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        length = int(fields.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), fields.get("content-type", ""), len(body)


def _bystander(url: str, stop: Any, out: Any) -> None:
    """Product GETs in a loop on one keep-alive connection; sends back (started, seconds)."""
    samples: list[tuple[float, float]] = []
    errors = 0
    with httpx.Client(base_url=url, headers={"user-agent": CHROME}, timeout=300) as http:
        while not stop.is_set():
            started = time.perf_counter()
            answer = http.get("/api/v1/products/1")
            samples.append((started, time.perf_counter() - started))
            errors += answer.status_code != 200
            time.sleep(0.002)
    out.send((samples, errors))


class Bystander:
    """The other client, in a process of its own so the attacker's work never delays it.

    `time.perf_counter` is the system's monotonic clock, so both processes' times compare.
    """

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_bystander, args=(url, self._stop, sender))
        self.samples: list[tuple[float, float]] = []
        self.errors = 0

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        self._stop.set()
        self.samples, self.errors = self._receiver.recv()
        self._process.join(timeout=60)

    def within(self, start: float, end: float) -> list[float]:
        return [s * 1000 for t, s in self.samples if t + s >= start and t <= end]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="each attack, back to back")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="and for at least this long per attack"
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="small attacks, one round")
    args = parser.parse_args(argv)
    scale = 0.05 if args.quick else 1.0
    if args.quick:
        args.rounds, args.seconds, args.products = 1, 0.0, 2000
    info = machine()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        db_path = copy_catalog(args.products, Path(tmp) / "store.sqlite")
        env = {
            "SANDBOX_DATABASE_URL": f"sqlite:///{db_path}",
            "SANDBOX_DATA_DIR": str(Path(tmp) / "data"),
            "SANDBOX_POLICY": "closed",
            "SANDBOX_CATALOG_SIZE": str(args.products),
        }
        served = uvicorn_server(
            "marketplace.app:create_served_app", env=env, factory=True, http=PROTOCOL
        )
        with served as url, httpx.Client(base_url=url, headers={"user-agent": CHROME}) as http:
            account = {"email": "bench-hostile@example.com", "password": "correct-horse-9"}
            http.post("/api/v1/accounts", json={**account, "name": "Bench"})
            token = http.post("/api/v1/sessions", json=account).json()["access_token"]
            bystander = Bystander(url)
            bystander.start()
            time.sleep(2.0)  # the child starts, then warms up
            windows: list[tuple[str, int, list[tuple[int, str, int]], float, float, float]] = []
            for name, (build, expected) in attacks(token, scale).items():
                request = build()
                quiet_start = time.perf_counter()
                time.sleep(0.3)
                start = time.perf_counter()
                answers = [exchange(url, request)]
                while len(answers) < args.rounds or time.perf_counter() - start < args.seconds:
                    answers.append(exchange(url, request))
                windows.append((name, expected, answers, quiet_start, start, time.perf_counter()))
                print(f"{name}: sent {len(answers)} times", flush=True)
            bystander.stop()
    for name, expected, answers, quiet_start, start, end in windows:
        during, quiet = bystander.within(start, end), bystander.within(quiet_start, start)
        row = {
            "attack": name,
            "rounds": len(answers),
            "statuses": sorted({status for status, _, _ in answers}),
            "expected": expected,
            "answer_bytes_max": max(size for _, _, size in answers),
            "answer_ms_mean": (end - start) * 1000 / len(answers),
            "bystander_during_ms": summary(during),
            "bystander_quiet_ms": summary(quiet),
            "ok": all(
                status == expected and ctype.startswith("application/problem+json")
                for status, ctype, _ in answers
            ),
        }
        rows.append(row)
        print(
            f"{name}: {row['statuses']} ({row['answer_bytes_max']} bytes), "
            f"{row['answer_ms_mean']:.0f} ms per attack; other client during the attacks: "
            f"slowest {max(during, default=0):.1f} ms of {len(during)}, median "
            f"{summary(during).get('median', 0):.1f} ms; without: slowest "
            f"{max(quiet, default=0):.1f} ms"
        )
    met = all(
        r["ok"]
        and r["answer_bytes_max"] <= MAX_ANSWER_BYTES
        and r["bystander_during_ms"].get("max", 0.0) <= TARGET_MS
        for r in rows
    )
    write_result(
        "hostile",
        {
            "command": command_line("bench.hostile", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "products": args.products,
            "rows": rows,
            "bystander_errors": bystander.errors,
            "target": f"another client's slowest answer during each attack <= {TARGET_MS:.0f} "
            f"ms; every attack answered 431/413 problem+json of <= {MAX_ANSWER_BYTES} bytes",
            "met": met if not args.quick else None,
        },
    )


if __name__ == "__main__":
    main()

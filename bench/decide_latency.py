"""Help Me Decide latency, `POST /api/v1/help-me-decide`: p50, p95, p99 in ms (target 3).

Starts from a copy of the seeded SQLite catalog of that size (the one the other benchmarks share in
bench/results/db/, seeded when missing), adds the personas, serves the app over
real HTTP on a loopback port (uvicorn, one process, the gate in `observe`), logs every persona in,
and asks Help Me Decide for each of them in turn, many times. The figure includes the whole
request: HTTP, the gate, the shopper's history, candidates, co-view similarity, scoring, reasons.

    .venv/bin/python -m bench.decide_latency [--products 100000] [--requests 240]

(`--seed` other than 42 seeds a private catalog instead of using the shared one.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: bench/decide_latency.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogs import copy_catalog
from bench.common import SEED, command_line, machine, summary, write_result
from marketplace.app import create_app
from marketplace.catalog.seed import seed_catalog
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.core.settings import Settings
from sandbox.liveserver import LiveServer
from sandbox.persona import load_personas
from sandbox.seeding import seed_personas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


TARGET_P95_MS = 50.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=240)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="40 requests on 2,000 products")
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.requests, args.warmup = 2000, 40, 4
    info = machine()
    personas = load_personas()

    with tempfile.TemporaryDirectory(prefix="hmd-bench-") as tmp:
        db_path = Path(tmp) / "bench.db"
        url = f"sqlite:///{db_path}"
        started = time.perf_counter()
        if args.seed == SEED:
            copy_catalog(args.products, db_path)
            upgrade(url)
            database = Database(url)
        else:
            upgrade(url)
            database = Database(url)
            seed_catalog(database, products=args.products, seed=args.seed, now=NOW)
        seed_personas(database, personas, seed=args.seed, now=NOW)
        print(f"prepared {args.products:,} products in {time.perf_counter() - started:.1f} s")
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=url, policy="observe", seed=args.seed
        )
        app = create_app(settings, database=database, clock=FrozenClock(NOW))
        timings: list[float] = []
        with (
            LiveServer(app) as server,
            httpx.Client(base_url=server.url, headers={"user-agent": CHROME}, timeout=60) as client,
        ):
            tokens = []
            for persona in personas.members:
                login = client.post(
                    "/api/v1/sessions", json={"email": persona.email, "password": persona.password}
                )
                login.raise_for_status()
                tokens.append(login.json()["access_token"])
            cpu_started = 0.0
            for i in range(args.warmup + args.requests):
                if i == args.warmup:
                    cpu_started = time.process_time()
                token = tokens[i % len(tokens)]
                t0 = time.perf_counter()
                answer = client.post(
                    "/api/v1/help-me-decide", headers={"Authorization": f"Bearer {token}"}
                )
                elapsed = (time.perf_counter() - t0) * 1000
                answer.raise_for_status()
                if i >= args.warmup:
                    timings.append(elapsed)
            # Client and server share this process: CPU per request covers both, and the
            # gate's background writes, but not other processes on the machine.
            cpu_ms = (time.process_time() - cpu_started) * 1000 / max(1, args.requests)
        database.dispose()
    timings.sort()
    print(
        f"POST /api/v1/help-me-decide, {args.products:,} products, {len(timings)} requests "
        f"over {len(personas.members)} personas: "
        f"p50 {percentile(timings, 0.50):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
        f"p99 {percentile(timings, 0.99):.1f} ms, mean {statistics.fmean(timings):.1f} ms"
    )
    print(f"process CPU per request (client and server): {cpu_ms:.1f} ms")
    # The figure depends on what else the machine is doing; say so next to it.
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} during the run")
    stats = summary(timings)
    write_result(
        "decide",
        {
            "name": "decide",
            "command": command_line("bench.decide_latency", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "load_after": round(load, 2),
            "products": args.products,
            "personas": len(personas.members),
            "transport": "HTTP over loopback (uvicorn in a thread, one process), policy observe",
            "stats_ms": stats,
            "process_cpu_ms_per_request": round(cpu_ms, 2),
            "target": "p95 <= 50 ms at 100,000 products",
            "met": stats["p95"] <= TARGET_P95_MS if args.products >= 100_000 else None,
        },
    )


if __name__ == "__main__":
    main()

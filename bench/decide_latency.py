"""Help Me Decide latency over HTTP, six shoppers in six categories: p50, p95, p99 (target 3).

For each catalog size it serves a copy of the seeded SQLite catalog (bench/results/db/, seeded
when missing) with uvicorn in a child process (one worker, the gate in `observe`, the six
categories warmed as the app starts: `SANDBOX_DECIDE_WARM_CATEGORIES`), signs up six shoppers,
has each view a few products of its own category, and then lets the six ask
`POST /api/v1/help-me-decide` at the same time, each with a short pause between asks. The
figure is the whole request as a shopper waits for it: HTTP, the gate, the shopper's history,
the category copy, co-view similarity, scoring, reasons, the picks re-read.

    .venv/bin/python -m bench.decide_latency [--sizes 100000,1000000] [--asks 40] [--pause 0.3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a script: bench/decide_latency.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogs import copy_catalog
from bench.common import CHROME, command_line, fmt, machine, summary, write_result
from bench.serving import uvicorn_server

TARGETS_MS = {100_000: 50.0, 1_000_000: 100.0}
CATEGORIES = ["headphones", "laptops", "tents", "blenders", "backpacks", "monitors"]
PASSWORD = "correct-horse-9"
VIEWS = 4


def _shopper(client: httpx.Client, n: int, category: str) -> dict[str, str]:
    email = f"shopper{n}@example.com"
    client.post(
        "/api/v1/accounts", json={"email": email, "password": PASSWORD, "name": f"Shopper {n}"}
    ).raise_for_status()
    login = client.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listing = client.get(
        "/api/v1/products", params={"category": category, "page_size": 12}, headers=headers
    )
    listing.raise_for_status()
    ids = [item["id"] for item in listing.json()["items"] if not item["sponsored"]][:VIEWS]
    for pid in ids:
        client.get(f"/api/v1/products/{pid}", headers=headers).raise_for_status()
    return headers


def measure(products: int, asks: int, pause: float) -> dict[str, Any]:
    info = machine()
    with tempfile.TemporaryDirectory(prefix="hmd-bench-") as tmp:
        db_path = copy_catalog(products, Path(tmp) / "catalog.sqlite")
        env = {
            "SANDBOX_DATABASE_URL": f"sqlite:///{db_path}",
            "SANDBOX_DATA_DIR": str(Path(tmp) / "data"),
            "SANDBOX_POLICY": "observe",
            "SANDBOX_CATALOG_SIZE": str(products),
            "SANDBOX_DECIDE_WARM_CATEGORIES": ",".join(CATEGORIES),
        }
        started = time.perf_counter()
        with uvicorn_server("marketplace.app:create_app", env=env, factory=True) as url:
            ready_s = time.perf_counter() - started
            with httpx.Client(base_url=url, headers={"user-agent": CHROME}, timeout=60) as c:
                shoppers = [_shopper(c, n, cat) for n, cat in enumerate(CATEGORIES)]
            time.sleep(0.5)  # the views are written behind, within a quarter of a second
            timings: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()

            def ask(headers: dict[str, str]) -> None:
                with httpx.Client(base_url=url, headers={"user-agent": CHROME}, timeout=60) as c:
                    for _ in range(asks):
                        t0 = time.perf_counter()
                        answer = c.post("/api/v1/help-me-decide", headers=headers)
                        elapsed = (time.perf_counter() - t0) * 1000
                        with lock:
                            if answer.status_code == 200:
                                timings.append(elapsed)
                            else:
                                errors.append(f"{answer.status_code} {answer.text[:200]}")
                        time.sleep(pause)

            threads = [threading.Thread(target=ask, args=(h,)) for h in shoppers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    stats = summary(timings)
    target = TARGETS_MS.get(products)
    print(
        f"{products:>9,} products: {fmt(stats)}; errors {len(errors)}; app ready (six "
        f"categories warmed) in {ready_s:.1f} s; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    for error in errors[:3]:
        print(f"    {error}")
    return {
        "products": products,
        "machine": info,
        "stats_ms": stats,
        "errors": len(errors),
        "ready_s": round(ready_s, 1),
        "target_p95_ms": target,
        "met": None if target is None else (stats["p95"] <= target and not errors),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--asks", type=int, default=25, help="asks per shopper")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between a shopper's asks")
    parser.add_argument("--quick", action="store_true", help="10 asks each on 2,000 products")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.quick:
        sizes, args.asks, args.pause = [2000], 10, 0.05
    info = machine()
    rows = [measure(products, args.asks, args.pause) for products in sizes]
    judged = [r["met"] for r in rows if r["met"] is not None]
    write_result(
        "decide",
        {
            "name": "decide",
            "command": command_line("bench.decide_latency", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "transport": (
                "HTTP over loopback (uvicorn, one worker process), policy observe; six shoppers "
                f"in six categories asking at once, {args.pause:g} s between a shopper's asks"
            ),
            "rows": rows,
            "target": "p95 <= 50 ms at 100,000 products and <= 100 ms at 1,000,000, over HTTP",
            "met": all(judged) if judged else None,
        },
    )


if __name__ == "__main__":
    main()

"""Gate overhead: the same request mix with the gate on and with a no-op gate (target 1).

Two apps over one seeded SQLite catalog: the platform as built (gate outermost), and the same
platform whose gate middleware is replaced by a pass-through. Requests
go in-process through httpx's ASGITransport (no sockets, so the network's noise stays out) and
alternate A, B, B, A, ... one request at a time, so both see the same machine load. The mix:
product JSON pages, searches, and the cart of logged-in shoppers (view and add), from ordinary
browsers (Chrome user agent, session cookie). The gate runs the `observe` policy: every request
is identified, scored, decided and logged as under `closed`, but not refused, since a benchmark
asks far faster than a person and the behaviour rules would rightly challenge it. Reported:
median and spread per arm, the ratio of medians (target at most 1.10), and the same ratio on
process CPU time per request.

    .venv/bin/python -m bench.gate_overhead [--requests 1500] [--products 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.catalogs import copy_catalog
from bench.common import CHROME, SEED, command_line, fmt, machine, summary, write_result

TARGET_RATIO = 1.10
SHOPPERS = 12
QUERIES = ["laptop", "headphones", "tent", "coffee maker", "running shoes", "office chair"]


class NoopGate:
    """Pass-through in the gate's place: what the app costs without any policy decision."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def without_gate(app: Any) -> Any:
    """The app with its gate middleware swapped for NoopGate (before the stack is first built)."""
    from marketplace.gate.middleware import GateMiddleware

    swapped = [
        m if m.cls is not GateMiddleware else Middleware(NoopGate) for m in app.user_middleware
    ]
    if swapped == app.user_middleware:
        raise RuntimeError("the app has no GateMiddleware to replace")
    app.user_middleware[:] = swapped
    return app


def build_apps(db_path: Path, data_dir: Path) -> tuple[Any, Any, Any]:
    from marketplace.app import create_app
    from marketplace.core.db import Database
    from marketplace.core.settings import Settings

    url = f"sqlite:///{db_path}"
    database = Database(url)
    settings = Settings(data_dir=data_dir, database_url=url, policy="observe", seed=SEED)
    gated = create_app(settings, database=database)
    plain = without_gate(create_app(settings, database=database))
    return gated, plain, database


async def log_in(client: httpx.AsyncClient, i: int) -> dict[str, str]:
    email = f"bench-shopper-{i}@example.com"
    password = "correct horse battery"
    made = await client.post(
        "/api/v1/accounts", json={"email": email, "password": password, "name": f"Shopper {i}"}
    )
    if made.status_code not in (200, 201, 409):
        made.raise_for_status()
    answer = await client.post("/api/v1/sessions", json={"email": email, "password": password})
    answer.raise_for_status()
    return dict(answer.cookies)


def request_mix(count: int, products: int) -> list[tuple[str, str, int]]:
    """(method, path, shopper) triples: product pages, searches, cart views and adds."""
    rng = random.Random(SEED)
    mix = []
    for i in range(count):
        shopper = rng.randrange(SHOPPERS)
        kind = i % 5
        if kind in (0, 1):
            mix.append(("GET", f"/api/v1/products/{rng.randint(1, products)}", shopper))
        elif kind == 2:
            mix.append(("GET", f"/api/v1/products?q={rng.choice(QUERIES)}", shopper))
        elif kind == 3:
            mix.append(("GET", "/api/v1/cart", shopper))
        else:
            mix.append(("POST", f"cart:{rng.randint(1, min(products, 40))}", shopper))
    return mix


async def one(
    client: httpx.AsyncClient, method: str, path: str, cookies: dict[str, str]
) -> tuple[float, float, str]:
    started, started_cpu = time.perf_counter(), time.process_time()
    if method == "POST":
        product_id = int(path.split(":")[1])
        answer = await client.post(
            "/api/v1/cart/items", json={"product_id": product_id, "quantity": 1}, cookies=cookies
        )
    else:
        answer = await client.get(path, cookies=cookies)
    wall = time.perf_counter() - started
    cpu = time.process_time() - started_cpu
    if answer.status_code >= 500 or answer.status_code in (400, 401, 403):
        raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
    # What `closed` would have done with the request, had it been enforced.
    observed = answer.headers.get("x-policy-observed-action") or answer.headers.get(
        "x-policy-decision", "none"
    )
    return wall * 1000, cpu * 1000, observed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from marketplace.core.appstate import state_of

    with tempfile.TemporaryDirectory(prefix="gate-overhead-") as tmp:
        db_path = copy_catalog(args.products, Path(tmp) / "store.sqlite")
        gated, plain, database = build_apps(db_path, Path(tmp) / "data")
        headers = {"user-agent": CHROME, "accept": "application/json"}
        arms: dict[str, httpx.AsyncClient] = {}
        try:
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=gated), base_url="http://shop.test",
                    headers=headers,
                ) as gated_client,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=plain), base_url="http://shop.test",
                    headers=headers,
                ) as plain_client,
            ):  # fmt: skip
                arms = {"gate": gated_client, "no-gate": plain_client}
                # Each arm logs its shoppers in through itself (both share the database).
                cookies = {
                    name: [await log_in(c, i) for i in range(SHOPPERS)] for name, c in arms.items()
                }
                # Each request sends its shopper's cookie itself; one kept by the client as well
                # would make two session cookies, which the platform refuses (400).
                for client in arms.values():
                    client.cookies.clear()
                mix = request_mix(args.warmup + args.requests, args.products)
                wall: dict[str, list[float]] = {name: [] for name in arms}
                cpu: dict[str, list[float]] = {name: [] for name in arms}
                decisions: dict[str, int] = {}
                for i, (method, path, shopper) in enumerate(mix):
                    # ABBA order: neither arm always runs right after the other's cache warm-up.
                    order = ["gate", "no-gate"] if i % 2 == 0 else ["no-gate", "gate"]
                    for name in order:
                        w, c, decision = await one(arms[name], method, path, cookies[name][shopper])
                        if i >= args.warmup:
                            wall[name].append(w)
                            cpu[name].append(c)
                            if name == "gate":
                                decisions[decision] = decisions.get(decision, 0) + 1
        finally:
            for app in (gated, plain):
                for hook in state_of(app).shutdown_hooks:
                    hook()
            database.dispose()
    stats = {name: summary(values) for name, values in wall.items()}
    cpu_stats = {name: summary(values) for name, values in cpu.items()}
    ratio = stats["gate"]["median"] / stats["no-gate"]["median"]
    cpu_ratio = cpu_stats["gate"]["median"] / cpu_stats["no-gate"]["median"]
    # The ratio of medians from paired halves of the run shows how stable the figure is.
    halves = []
    for part in (slice(None, len(wall["gate"]) // 2), slice(len(wall["gate"]) // 2, None)):
        g, n = summary(wall["gate"][part]), summary(wall["no-gate"][part])
        halves.append(g["median"] / n["median"])
    return {
        "stats_ms": stats,
        "cpu_ms": cpu_stats,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "ratio_halves": halves,
        "gate_decisions": decisions,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="timed requests per arm")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="a few requests on 2,000 products")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.warmup, args.products = 100, 20, 2000
    info = machine()
    figures = asyncio.run(run(args))
    for name in ("gate", "no-gate"):
        print(f"{name:>8}: wall {fmt(figures['stats_ms'][name], digits=2)}")
        print(f"{'':>8}  cpu  {fmt(figures['cpu_ms'][name], digits=2)}")
    print(
        f"ratio of medians gate/no-gate: wall {figures['ratio']:.3f} (halves "
        f"{figures['ratio_halves'][0]:.3f}, {figures['ratio_halves'][1]:.3f}), "
        f"cpu {figures['cpu_ratio']:.3f}; decisions {figures['gate_decisions']}"
    )
    write_result(
        "gate_overhead",
        {
            "name": "gate_overhead",
            "command": command_line("bench.gate_overhead", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "transport": "in-process (httpx ASGITransport), policy observe, SQLite",
            "products": args.products,
            **figures,
            "target": "ratio of median latency, gate on / no-op gate, <= 1.10",
            "met": figures["ratio"] <= TARGET_RATIO,
        },
    )


if __name__ == "__main__":
    main()

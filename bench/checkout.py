"""Checkout under contention: 50 concurrent buyers on SQLite and on PostgreSQL (target 6).

The platform is served by uvicorn (1 worker) in a child process, policy `observe`, over a
2,000-product catalog in which one "hot" product has only HOT_STOCK units. 50 buyers, each an
account logged in with its own cookie, run at once (asyncio, one connection each): every round a
buyer puts the hot product and one other product in the cart and places an order with a fresh
Idempotency-Key; once the hot product is sold out (409) the buyer drops it and orders the rest.
Reported: orders per second over the whole contended phase, order latency, and the checks
after the run: the hot product's stock never below zero, units sold equal to the stock it lost,
and the number of orders in the database equal to the 201 answers.

    .venv/bin/python -m bench.checkout [--buyers 50] [--rounds 6] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.catalogs import copy_catalog
from bench.common import CHROME, SEED, SEEDED_AT, command_line, fmt, machine, summary, write_result
from bench.serving import uvicorn_server

CATALOG = 2000
HOT = 7
HOT_STOCK = 120
PASSWORD = "correct horse battery"


async def buyer(
    url: str, index: int, rounds: int, rng: random.Random, latencies: list[float]
) -> dict[str, int]:
    counts = {"placed": 0, "hot_units": 0, "sold_out": 0}
    headers = {"user-agent": CHROME, "accept": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        email = f"buyer-{index}@example.com"
        made = await client.post(
            "/api/v1/accounts",
            json={"email": email, "password": PASSWORD, "name": f"Buyer {index}"},
        )
        if made.status_code not in (200, 201, 409):
            made.raise_for_status()
        login = await client.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        for _ in range(rounds):
            other = rng.randint(HOT + 1, CATALOG)
            in_cart = 0
            for product in (HOT, other):
                added = await client.post(
                    "/api/v1/cart/items", json={"product_id": product, "quantity": 1}
                )
                if added.status_code == 409:  # sold out (the hot one) or out of stock anyway
                    continue
                if added.status_code >= 300:
                    raise RuntimeError(f"cart add: {added.status_code} {added.text[:200]}")
                in_cart += 1
            if not in_cart:
                continue
            key = str(uuid.uuid4())
            for _attempt in range(3):  # bounded: at most a retry after each sold-out answer
                started = time.perf_counter()
                order = await client.post("/api/v1/orders", headers={"Idempotency-Key": key})
                latencies.append((time.perf_counter() - started) * 1000)
                if order.status_code == 201:
                    counts["placed"] += 1
                    counts["hot_units"] += sum(
                        line["quantity"]
                        for line in order.json()["items"]
                        if line["product_id"] == HOT
                    )
                    break
                if order.status_code == 409:
                    # Sold out between the cart and the order: drop what ran out, order the rest.
                    counts["sold_out"] += 1
                    await client.delete(f"/api/v1/cart/items/{HOT}")
                    await client.delete(f"/api/v1/cart/items/{other}")
                    break
                raise RuntimeError(f"order: {order.status_code} {order.text[:300]}")
    return counts


def prepare(url: str) -> None:
    """Give the hot product its small stock (the store is a fresh copy: no carts, no orders)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE products SET stock = :s WHERE id = :id"), {"s": HOT_STOCK, "id": HOT}
        )
    engine.dispose()


def verify(url: str, placed: int, hot_units: int) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        stock = conn.execute(
            text("SELECT stock FROM products WHERE id = :id"), {"id": HOT}
        ).scalar()
        orders = conn.execute(text("SELECT count(*) FROM orders")).scalar()
        sold = conn.execute(
            text("SELECT coalesce(sum(quantity), 0) FROM order_items WHERE product_id = :id"),
            {"id": HOT},
        ).scalar()
    engine.dispose()
    stock, orders, sold = int(stock or 0), int(orders or 0), int(sold or 0)
    return {
        "hot_stock_after": stock,
        "hot_units_sold_in_db": sold,
        "orders_in_db": orders,
        "no_oversell": stock >= 0 and sold == HOT_STOCK - stock and sold == hot_units,
        "orders_match": orders == placed,
    }


async def contend(
    url: str, buyers: int, rounds: int
) -> tuple[list[dict[str, int]], list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()
    results = await asyncio.gather(
        *(buyer(url, i, rounds, random.Random(SEED + i), latencies) for i in range(buyers))
    )
    return list(results), latencies, time.perf_counter() - started


def run_backend(backend: str, url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    prepare(url)
    env = {
        "SANDBOX_DATABASE_URL": url,
        "SANDBOX_DATA_DIR": str(data_dir),
        "SANDBOX_POLICY": "observe",
        "SANDBOX_CATALOG_SIZE": str(CATALOG),
    }
    with uvicorn_server("marketplace.app:create_app", factory=True, env=env) as served:
        results, latencies, seconds = asyncio.run(contend(served, args.buyers, args.rounds))
    placed = sum(r["placed"] for r in results)
    hot_units = sum(r["hot_units"] for r in results)
    checks = verify(url, placed, hot_units)
    figures = {
        "backend": backend,
        "buyers": args.buyers,
        "orders": placed,
        "hot_units_sold": hot_units,
        "sold_out_answers": sum(r["sold_out"] for r in results),
        "seconds": seconds,
        # Includes the accounts, logins and cart adds of the same phase: the whole contended run.
        "orders_per_s": placed / seconds,
        "order_latency_ms": summary(latencies),
        **checks,
    }
    print(
        f"{backend:>10}: {placed} orders in {seconds:.1f} s = {figures['orders_per_s']:.1f}/s; "
        f"POST /orders {fmt(figures['order_latency_ms'])}; hot stock {HOT_STOCK} -> "
        f"{checks['hot_stock_after']} ({hot_units} sold); no oversell {checks['no_oversell']}, "
        f"orders match {checks['orders_match']}",
        flush=True,
    )
    return figures


def _fresh_copy(base_url: str, *, template: str) -> str:
    name = "checkout_run"
    _drop(base_url, name)
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def _drop(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6, help="orders each buyer tries")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="5 buyers, 2 rounds, SQLite only")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    if args.quick:
        args.buyers, args.rounds, backends = 5, 2, ["sqlite"]
    info = machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="checkout-") as tmp:
        for backend in backends:
            if backend == "sqlite":
                path = copy_catalog(CATALOG, Path(tmp) / "store.sqlite")
                rows.append(run_backend(backend, f"sqlite:///{path}", Path(tmp) / "data", args))
            else:
                from bench.search import postgres_catalog, postgres_server

                with postgres_server() as server:
                    base = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
                    url, _ = postgres_catalog(base, CATALOG)
                    # The kept catalog is a template: each run orders from a fresh copy, so
                    # one run's orders never count in the next one's checks.
                    copy = _fresh_copy(base, template=url.rsplit("/", 1)[1])
                    try:
                        rows.append(run_backend(backend, copy, Path(tmp) / "data-pg", args))
                    finally:
                        _drop(base, copy.rsplit("/", 1)[1])
    write_result(
        "checkout",
        {
            "name": "checkout",
            "command": command_line("bench.checkout", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "rows": rows,
            "hot_stock": HOT_STOCK,
            "seeded_at": str(SEEDED_AT),
            "target": "50 concurrent buyers: orders per second reported, no oversell",
            "met": all(r["no_oversell"] and r["orders_match"] for r in rows),
        },
    )


if __name__ == "__main__":
    main()

"""A workshop on one server: 60 shoppers in the HTML store and 30 outside agents (target 10).

Two set-ups, each served as `sandbox serve` serves it and loaded by locust in its own process
(bench/locustfiles/workshop.py) for the same time:

- one uvicorn process on SQLite (a copy of the seeded catalog);
- two uvicorn workers on PostgreSQL, with the gate's shared state in Redis (a database made
  from the catalog the search benchmark keeps seeded in bench/results/pg, seeded when missing;
  a throwaway redis-server).

Shoppers sign up, search, open product pages (with the Help Me Decide offer), add to the cart
and check out; agents read the JSON API and product pages. Targets: no errors, every HTML
page's p95 <= 150 ms, the checkout's (POST /checkout) p95 <= 300 ms.

    .venv/bin/python -m bench.workshop [--seconds 30] [--shoppers 60] [--agents 30]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.catalogs import copy_catalog
from bench.common import ROOT, command_line, machine, write_result
from bench.serving import run_locust, uvicorn_server

PRODUCTS = 10_000
HTML_P95_MS = 150.0
CHECKOUT_P95_MS = 300.0
HTML_ROUTES = ("GET /search", "GET /products/[id]", "GET /cart", "GET /checkout")
CHECKOUT = "POST /checkout"


@contextmanager
def sqlite_setup(tmp: Path, products: int) -> Iterator[tuple[dict[str, str], int]]:
    path = copy_catalog(products, tmp / "workshop.sqlite")
    yield {"SANDBOX_DATABASE_URL": f"sqlite:///{path}"}, 1


@contextmanager
def postgres_redis_setup(tmp: Path, products: int) -> Iterator[tuple[dict[str, str], int]]:
    from sqlalchemy import create_engine, text

    from bench.search import postgres_catalog, postgres_server

    sys.path.insert(0, str(ROOT))
    from tests.support.redis import find_redis_server, redis_server

    executable = find_redis_server()
    if executable is None:
        raise SystemExit("redis-server was not found (apt install redis-server)")
    with postgres_server() as server:
        base = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
        catalog_url, _ = postgres_catalog(base, products)
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        catalog = catalog_url.rsplit("/", 1)[1]
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS workshop WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE workshop TEMPLATE {catalog}"))
        try:
            with redis_server(tmp, executable) as redis_url:
                env = {
                    "SANDBOX_DATABASE_URL": base.rsplit("/", 1)[0] + "/workshop",
                    "SANDBOX_REDIS_URL": redis_url,
                }
                yield env, 2
        finally:
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE IF EXISTS workshop WITH (FORCE)"))
            admin.dispose()


def run_one(label: str, setup: Any, args: argparse.Namespace) -> dict[str, Any]:
    info = machine()
    with tempfile.TemporaryDirectory(prefix="workshop-") as tmp_name:
        tmp = Path(tmp_name)
        with setup(tmp, args.products) as (env, workers):
            env = {
                **env,
                "SANDBOX_DATA_DIR": str(tmp / "data"),
                "SANDBOX_POLICY": "observe",
                "SANDBOX_CATALOG_SIZE": str(args.products),
            }
            with uvicorn_server(
                "marketplace.app:create_app", workers=workers, env=env, factory=True
            ) as url:
                users = args.shoppers + args.agents
                stats = run_locust(
                    "workshop.py",
                    url,
                    users=users,
                    spawn_rate=max(1, users // 10),  # arriving over ten seconds, as people do
                    seconds=args.seconds,
                    env={"BENCH_PRODUCTS": str(args.products)},
                )
    html = {name: stats[name] for name in HTML_ROUTES if name in stats}
    checkout = stats.get(CHECKOUT)
    errors = int(stats["Aggregated"]["failures"])
    html_p95 = max((s["p95_ms"] for s in html.values()), default=float("nan"))
    checkout_p95 = checkout["p95_ms"] if checkout else float("nan")
    met = (
        errors == 0
        and bool(html)
        and html_p95 <= HTML_P95_MS
        and checkout is not None
        and checkout_p95 <= CHECKOUT_P95_MS
    )
    print(
        f"{label}: {stats['Aggregated']['requests']} requests, {errors} errors; HTML page p95 "
        f"(slowest route) {html_p95:.0f} ms; checkout p95 {checkout_p95:.0f} ms; "
        f"load average {info['load_1m']}",
        flush=True,
    )
    for name, row in sorted(stats.items()):
        print(
            f"    {name:<40} {row['requests']:6d} req {row['failures']:4d} err  median "
            f"{row['median_ms']:6.0f} ms  p95 {row['p95_ms']:6.0f} ms  p99 {row['p99_ms']:6.0f}"
        )
    return {
        "setup": label,
        "workers": workers,
        "machine": info,
        "routes": stats,
        "errors": errors,
        "html_p95_ms": html_p95,
        "checkout_p95_ms": checkout_p95,
        "met": met,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--shoppers", type=int, default=60)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--products", type=int, default=PRODUCTS)
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    parser.add_argument("--quick", action="store_true", help="10 s, 6 shoppers, 3 agents, SQLite")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.shoppers, args.agents, args.products = 10, 6, 3, 2000
        args.only = "sqlite"
    info = machine()
    setups = [
        ("SQLite, one process", "sqlite", sqlite_setup),
        ("PostgreSQL and Redis, two workers", "postgres", postgres_redis_setup),
    ]
    if shutil.which("redis-server") is None and args.only is None:
        setups = setups[:1]
    rows = [run_one(label, setup, args) for label, key, setup in setups if args.only in (None, key)]
    write_result(
        "workshop",
        {
            "name": "workshop",
            "command": command_line("bench.workshop", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "users": {"shoppers": args.shoppers, "agents": args.agents},
            "seconds": args.seconds,
            "products": args.products,
            "rows": rows,
            "target": (
                f"{args.shoppers} shoppers and {args.agents} agents: 0 errors, HTML page p95 <= "
                f"{HTML_P95_MS:.0f} ms, checkout p95 <= {CHECKOUT_P95_MS:.0f} ms"
            ),
            "met": all(r["met"] for r in rows) if rows else None,
        },
    )


if __name__ == "__main__":
    main()

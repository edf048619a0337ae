"""Search latency at 10k, 100k and 1M products on SQLite, PostgreSQL beside it (target 2).

Each query goes through the catalog service exactly as `GET /api/v1/products` runs it (one
database session, full-text match, filters, sort, count, sponsored slots, the page's products
loaded), without HTTP, so the figure is the search itself. The query mix is fixed and
seeded: single words, two words, a category filter with and without words, price ranges and
every sort. At each size SQLite and PostgreSQL queries alternate, one by one, after a warm-up.
The SQLite catalogs are the ones `bench.seeding` left (seeded here when missing); PostgreSQL is
a throwaway server from Debian's packages (tests/support/postgres.py), seeded by the same code.
Writes docs/bench-search.svg (latency against catalog size).

    .venv/bin/python -m bench.search [--sizes 10000,100000,1000000] [--pg-sizes 10000,100000]
        [--queries 300] [--budget 45] [--by-kind]

Each size reports wall time (what a user waits) and thread CPU time (the search's own work,
which a busy machine does not inflate).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.catalogs import sqlite_catalog
from bench.common import (
    CHROME,
    ROOT,
    SEED,
    SEEDED_AT,
    Deadline,
    command_line,
    fmt,
    machine,
    scratch,
    summary,
    write_result,
)

TARGETS_MS = {100_000: 25.0, 1_000_000: 50.0}
HTTP_TARGET_MS = 50.0
SINGLE = [
    "laptop", "headphones", "vacuum", "tent", "blender", "backpack", "monitor", "puzzle",
    "wireless", "waterproof", "leather", "stainless", "cordless", "ergonomic", "kids", "gaming",
]  # fmt: skip
DOUBLE = [
    "gaming laptop", "noise cancelling", "phone case", "running shoes", "office chair",
    "coffee maker", "robot vacuum", "camping tent", "wireless headphones", "4k monitor",
    "hiking backpack", "building set",
]  # fmt: skip
CATEGORIES = [
    "backpacks", "blenders", "coffee-makers", "headphones", "kids-toys", "laptops", "monitors",
    "office-chairs", "phone-cases", "running-shoes", "tents", "vacuum-cleaners",
]  # fmt: skip
SORTS = ["price_asc", "price_desc", "rating", "newest", "popularity"]
SVG = ROOT / "docs" / "bench-search.svg"


def query_mix(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """`count` search parameter sets, the same for every database and size."""
    rng = random.Random(seed)
    mix: list[dict[str, Any]] = []
    for i in range(count):
        kind = i % 6
        params: dict[str, Any]
        if kind == 0:
            params = {"q": rng.choice(SINGLE)}
        elif kind == 1:
            params = {"q": rng.choice(DOUBLE)}
        elif kind == 2:
            params = {"category": rng.choice(CATEGORIES), "sort": rng.choice(SORTS)}
        elif kind == 3:
            params = {"q": rng.choice(SINGLE), "category": rng.choice(CATEGORIES)}
        elif kind == 4:
            low = rng.choice([10, 25, 50, 100, 200])
            params = {"q": rng.choice(SINGLE + DOUBLE), "min_price": low, "max_price": low * 4}
        else:
            params = {"q": rng.choice(SINGLE), "sort": rng.choice(SORTS)}
        if rng.random() < 0.15:
            params["page"] = rng.randint(2, 5)
        params["page_size"] = 24
        mix.append(params)
    return mix


class Searcher:
    """One catalog database and the service call the products route makes."""

    def __init__(self, label: str, url: str, index_dir: Path | None = None) -> None:
        from marketplace.catalog.text_index import ProductIndex, index_location
        from marketplace.core.db import Database

        self.label = label
        self.database = Database(url)
        self.index = ProductIndex(index_location(url, configured=index_dir, data_dir=Path(".")))
        started = time.perf_counter()
        self.index.catch_up(self.database)
        # Seconds the index took to catch up before the first search (0 when it was current).
        self.index_s = round(time.perf_counter() - started, 1)

    def run(self, params: dict[str, Any]) -> tuple[float, float]:
        """Wall and thread-CPU milliseconds of one search (the CPU figure leaves out waiting
        for a core on a busy machine)."""
        from marketplace.catalog import service
        from marketplace.catalog.schemas import SearchParams

        started = time.perf_counter()
        cpu_started = time.thread_time()
        with self.database.session() as session:
            page = service.search_products(
                session,
                self.index,
                SearchParams(**params),
                shopper=None,
                visitor_class="human",
                now=SEEDED_AT,
                record_history=False,
            )
        elapsed = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started
        if page.total < 0:  # pragma: no cover - keeps the call from being optimised away
            raise RuntimeError("negative total")
        return elapsed * 1000, cpu * 1000

    def close(self) -> None:
        self.database.dispose()


@contextmanager
def postgres_server() -> Iterator[Any]:
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import PostgresServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL's server binaries were not found (apt install postgresql)")
    # Kept in bench/results/pg between runs: a 1M-product catalog takes minutes to seed.
    server = PostgresServer(bin_dir, root=scratch("pg"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_catalog(base_url: str, products: int) -> tuple[str, float | None]:
    """The catalog database of this size in the kept server, seeded by an earlier run or now;
    its URL and the seconds seeding took (None when an earlier run's catalog was reused)."""
    from sqlalchemy import create_engine, text

    from marketplace.catalog.seed import seed_catalog
    from marketplace.core.db import Database
    from marketplace.core.migrate import upgrade

    name = f"catalog_{products}"
    url = base_url.rsplit("/", 1)[0] + f"/{name}"
    marker = scratch("pg") / f"{name}.complete"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not (exists and marker.exists()):
            marker.unlink(missing_ok=True)
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    upgrade(url)  # a reused catalog gets the newest migrations
    if marker.exists():
        return url, None
    database = Database(url)
    started = time.perf_counter()
    try:
        seed_catalog(database, products=products, seed=SEED, now=SEEDED_AT)
    finally:
        database.dispose()
    marker.write_text("seeded\n")
    return url, time.perf_counter() - started


def kind_of(params: dict[str, Any]) -> str:
    """The query's shape, for the per-kind breakdown: words, filter and sort present."""
    parts = ["q" if "q" in params else "browse"]
    parts += [key for key in ("category", "min_price", "sort") if key in params]
    if params.get("page", 1) > 1:
        parts.append("page>1")
    return "+".join(parts)


Sample = tuple[str, float, float]  # kind, wall ms, thread CPU ms


def measure(
    searchers: list[Searcher], mix: list[dict[str, Any]], warmup: int, budget_s: float
) -> dict[str, list[Sample]]:
    """Alternate the searchers query by query; every searcher sees every query in order."""
    samples: dict[str, list[Sample]] = {s.label: [] for s in searchers}
    for params in mix[:warmup]:
        for searcher in searchers:
            searcher.run(params)
    deadline = Deadline(budget_s)
    for i, params in enumerate(mix[warmup:]):
        # Swap who goes first each round, so neither database always runs on a warm CPU cache.
        order = searchers if i % 2 == 0 else list(reversed(searchers))
        for searcher in order:
            samples[searcher.label].append((kind_of(params), *searcher.run(params)))
        if deadline.passed():
            break
    return samples


def plot(rows: list[dict[str, Any]]) -> None:
    import pygal

    chart = pygal.XY(
        title="Search latency against catalog size",
        x_title="products (log scale)",
        y_title="ms per search",
        logarithmic=True,
        dots_size=4,
        legend_at_bottom=True,
        show_x_guides=True,
    )
    for backend in ("sqlite", "postgresql"):
        for stat in ("median", "p95"):
            points = [
                (row["products"], round(row[stat], 2)) for row in rows if row["backend"] == backend
            ]
            if points:
                chart.add(f"{backend} {stat}", sorted(points))
    chart.add("target p95", sorted(TARGETS_MS.items()), stroke=False)
    SVG.parent.mkdir(parents=True, exist_ok=True)
    SVG.write_bytes(chart.render())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--pg-sizes", default="10000,100000,1000000", help="'' for SQLite only")
    parser.add_argument(
        "--http-products", type=int, default=1_000_000, help="0: no HTTP measurement"
    )
    parser.add_argument("--http-requests", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300, help="measured queries per size")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per size at most")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, SQLite only")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--by-kind", action="store_true", help="also print wall times by kind of query"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    pg_sizes = {int(s) for s in args.pg_sizes.split(",") if s}
    if args.quick:
        sizes, pg_sizes, args.queries, args.warmup = [2000], set(), 30, 5
        args.http_products, args.http_requests = 2000, 20
    info = machine()
    mix = query_mix(args.warmup + args.queries)
    rows: list[dict[str, Any]] = []
    with contextmanager_or_none(bool(pg_sizes)) as server:
        for products in sizes:
            searchers = [Searcher("sqlite", f"sqlite:///{sqlite_catalog(products)}")]
            pg_seed_s = None
            if server is not None and products in pg_sizes:
                url, pg_seed_s = postgres_catalog(server.url, products)
                # Kept beside the server's files, like its catalog, for later runs.
                index_dir = scratch("pg") / f"search-{products}"
                searchers.append(Searcher("postgresql", url, index_dir))
            load_1m = machine()["load_1m"]
            try:
                samples = measure(searchers, mix, args.warmup, args.budget)
            finally:
                for searcher in searchers:
                    searcher.close()
            for label, measured in samples.items():
                stats = summary(wall for _, wall, _ in measured)
                cpu = summary(cpu for _, _, cpu in measured)
                kinds = {
                    kind: summary(wall for k, wall, _ in measured if k == kind)
                    for kind in sorted({k for k, _, _ in measured})
                }
                target = TARGETS_MS.get(products) if label == "sqlite" else None
                rows.append(
                    {
                        "backend": label,
                        "products": products,
                        **stats,
                        "target_p95_ms": target,
                        "met": None if target is None else stats["p95"] <= target,
                        "seed_s": pg_seed_s if label == "postgresql" else None,
                        "index_s": next(s.index_s for s in searchers if s.label == label),
                        "thread_cpu": cpu,
                        "by_kind": kinds,
                        "load_1m": load_1m,
                    }
                )
                print(f"{label:>10} {products:>9,}: {fmt(stats)}", flush=True)
                print(f"{'thread CPU':>20}: {fmt(cpu)}", flush=True)
                if args.by_kind:
                    for kind, kind_stats in kinds.items():
                        print(f"{kind:>40}: {fmt(kind_stats)}", flush=True)
    http = None
    if args.http_products:
        http = over_http(args.http_products, args.http_requests)
        print(f"HTTP, {args.http_products:,} products, mixed words: {fmt(http['stats_ms'])}")
    if not args.no_plot and not args.quick:
        plot(rows)
    write_result(
        "search",
        {
            "name": "search",
            "command": command_line("bench.search", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "rows": rows,
            "http": http,
            "target": (
                "p95 <= 25 ms at 100k and <= 50 ms at 1M products on SQLite (in-process), "
                "<= 50 ms over HTTP at 1M with mixed words"
            ),
            "met": all(judged) if (judged := _judged(rows, http)) else None,
        },
    )


def _judged(rows: list[dict[str, Any]], http: dict[str, Any] | None) -> list[bool]:
    judged = [bool(r["met"]) for r in rows if r["met"] is not None]
    if http is not None and http["met"] is not None:
        judged.append(bool(http["met"]))
    return judged


def over_http(products: int, requests: int) -> dict[str, Any]:
    """`GET /api/v1/products?q=...` over loopback HTTP on a copy of the SQLite catalog:
    single and two-word queries in a seeded mix, one after another, after a warm-up."""
    import tempfile

    import httpx

    from bench.catalogs import copy_catalog
    from marketplace.app import create_app
    from marketplace.core.clock import FrozenClock
    from marketplace.core.db import Database
    from marketplace.core.settings import Settings
    from sandbox.liveserver import LiveServer

    info = machine()
    rng = random.Random(SEED)
    words = [rng.choice(SINGLE + DOUBLE) for _ in range(requests + 20)]
    with tempfile.TemporaryDirectory(prefix="search-http-") as tmp:
        path = copy_catalog(products, Path(tmp) / "catalog.sqlite")
        url = f"sqlite:///{path}"
        database = Database(url)
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url, policy="observe")
        app = create_app(settings, database=database, clock=FrozenClock(SEEDED_AT))
        wall: list[float] = []
        with (
            LiveServer(app) as server,
            httpx.Client(base_url=server.url, headers={"user-agent": CHROME}, timeout=60) as c,
        ):
            cpu_started = 0.0
            for i, q in enumerate(words):
                if i == 20:
                    cpu_started = time.process_time()
                started = time.perf_counter()
                c.get("/api/v1/products", params={"q": q, "page_size": 24}).raise_for_status()
                if i >= 20:
                    wall.append((time.perf_counter() - started) * 1000)
            cpu_ms = (time.process_time() - cpu_started) * 1000 / max(1, requests)
        database.dispose()
    stats = summary(wall)
    return {
        "products": products,
        "machine": info,
        "stats_ms": stats,
        "process_cpu_ms_per_request": round(cpu_ms, 2),
        "target_p95_ms": HTTP_TARGET_MS,
        "met": stats["p95"] <= HTTP_TARGET_MS if products >= 1_000_000 else None,
    }


@contextmanager
def contextmanager_or_none(wanted: bool) -> Iterator[Any]:
    if not wanted:
        yield None
        return
    with postgres_server() as server:
        yield _Server(server)


class _Server:
    def __init__(self, server: Any) -> None:
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"


if __name__ == "__main__":
    main()

"""HTTP throughput: product JSON and HTML pages against a bare Starlette hello-world (target 5).

Each server is uvicorn in its own process on loopback (1 worker, then 2 workers); the load
generator is locust, headless, in another process (closed loop, no think time). Everything
shares the same 2 cores, so the absolute figures are low and the ratio to the bare hello-world
served and loaded the same way, in the same run, is the figure. Configurations run in rounds,
the order reversed every round, and each ratio uses the median over rounds. The platform runs
the `observe` policy (every request decided and logged, none refused) over the 100k catalog.

    .venv/bin/python -m bench.throughput [--seconds 6] [--rounds 2] [--users 24]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.catalogs import copy_catalog
from bench.common import command_line, machine, write_result
from bench.serving import run_locust, uvicorn_server

TARGET_RATIO = 0.25
HTML_TARGET_RATIO = 0.15
TARGET = (
    "product JSON page >= 0.25 and HTML product page >= 0.15 of the bare Starlette "
    "hello-world's requests/s"
)


def judged(table: list[dict[str, Any]]) -> bool:
    """Every JSON and HTML row at or above its ratio to bare."""
    wanted = {"json": TARGET_RATIO, "html": HTML_TARGET_RATIO}
    return all(r["ratio_to_bare"] >= wanted[r["page"]] for r in table if r["page"] in wanted)


PAGES = {
    "json": ("/api/v1/products/{id}", "application/json"),
    "html": ("/products/{id}", "text/html"),
}


def configurations(workers: list[int]) -> list[tuple[str, int]]:
    return [(page, w) for w in workers for page in ("bare", "json", "html")]


def measure_one(
    page: str, workers: int, args: argparse.Namespace, platform_env: dict[str, str]
) -> dict[str, Any]:
    if page == "bare":
        app, env, path, accept, factory = "bench.bare:app", {}, "/", "application/json", False
    else:
        path, accept = PAGES[page]
        app, env, factory = "marketplace.app:create_app", platform_env, True
    with uvicorn_server(app, workers=workers, env=env, factory=factory) as url:
        rows = run_locust(
            "throughput.py",
            url,
            users=args.users,
            spawn_rate=args.users,
            seconds=args.seconds,
            env={"BENCH_PATH": path, "BENCH_PRODUCTS": str(args.products), "BENCH_ACCEPT": accept},
        )
    total = rows["Aggregated"]
    return {
        "page": page,
        "workers": workers,
        "rps": total["rps"],
        "failures": total["failures"],
        "requests": total["requests"],
        "p50_ms": total["median_ms"],
        "p95_ms": total["p95_ms"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="per configuration and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2 s per configuration, 1 worker")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    if args.quick:
        args.seconds, args.rounds, args.users, args.products, workers = 2, 1, 4, 2000, [1]
    info = machine()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        db_path = copy_catalog(args.products, Path(tmp) / "store.sqlite")
        platform_env = {
            "SANDBOX_DATABASE_URL": f"sqlite:///{db_path}",
            "SANDBOX_DATA_DIR": str(Path(tmp) / "data"),
            "SANDBOX_POLICY": "observe",
            "SANDBOX_CATALOG_SIZE": str(args.products),
        }
        order = configurations(workers)
        for round_no in range(args.rounds):
            for page, w in order if round_no % 2 == 0 else list(reversed(order)):
                result = measure_one(page, w, args, platform_env)
                result["round"] = round_no
                runs.append(result)
                print(
                    f"round {round_no} {page:>4} {w} worker(s): {result['rps']:8.1f} req/s, "
                    f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
                    f"failures {result['failures']}",
                    flush=True,
                )
    table: list[dict[str, Any]] = []
    for w in workers:
        bare = statistics.median(
            r["rps"] for r in runs if r["page"] == "bare" and r["workers"] == w
        )
        for page in ("bare", "json", "html"):
            rps = [r["rps"] for r in runs if r["page"] == page and r["workers"] == w]
            ratios = [
                r["rps"] / b["rps"]
                for r in runs
                if r["page"] == page and r["workers"] == w
                for b in runs
                if b["page"] == "bare" and b["workers"] == w and b["round"] == r["round"]
            ]
            table.append(
                {
                    "page": page,
                    "workers": w,
                    "rps_median": statistics.median(rps),
                    "rps_min": min(rps),
                    "rps_max": max(rps),
                    "ratio_to_bare": statistics.median(rps) / bare,
                    "ratio_by_round": ratios,
                }
            )
    for row in table:
        print(
            f"{row['page']:>4} {row['workers']}w: {row['rps_median']:8.1f} req/s "
            f"({row['rps_min']:.0f}-{row['rps_max']:.0f}), {row['ratio_to_bare']:.3f} of bare"
        )
    write_result(
        "throughput",
        {
            "name": "throughput",
            "command": command_line("bench.throughput", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "users": args.users,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "runs": runs,
            "table": table,
            "target": TARGET,
            "met": judged(table),
            "failures": sum(r["failures"] for r in runs),
        },
    )


if __name__ == "__main__":
    main()

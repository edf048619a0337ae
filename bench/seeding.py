"""Seeding: 1M products in at most 120 s with at most 1 GiB peak memory (target 4).

The seed runs in a child process (`sandbox`'s own `seed_catalog`, with its worker pool, then
the search index built from the seeded database, as `sandbox seed` does), so
its memory is measured alone: the peak of the whole process tree's resident memory, sampled
every 100 ms, and the largest single process's peak from getrusage(RUSAGE_CHILDREN). CPU time
is reported for the whole tree and for the seeding process alone (the serial part: inserting
and indexing), the rest being the generator workers. The seeded database is kept in
bench/results/db/ for the search benchmark, unless `--database` puts it elsewhere.

    .venv/bin/python -m bench.seeding [--products 1000000] [--database /tmp/catalog.sqlite]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from bench.catalogs import build_search_index, catalog_path, seed_sqlite
from bench.common import command_line, machine, write_result

TARGET_S = 120.0
TARGET_BYTES = 1 << 30


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def seed_child(products: int, path: Path, cpu_file: Path) -> None:
    """Seed and build the search index (in the child process), as `sandbox seed` does; record
    the index's share of the time and the CPU time of this process alone."""
    seed_sqlite(path, products)
    index_s = build_search_index(f"sqlite:///{path}")
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu_file.write_text(json.dumps({"main_cpu_s": own.ru_utime + own.ru_stime, "index_s": index_s}))


def measure(products: int, timeout_s: float, path: Path) -> dict[str, object]:
    cpu_file = path.with_suffix(".cpu.json")
    cpu_file.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.seeding", "--child", str(products), str(path), str(cpu_file)]
    )
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(watched))
        if time.perf_counter() - started > timeout_s:
            child.kill()
            child.wait()
            raise SystemExit(f"seeding {products:,} products took over {timeout_s:.0f} s")
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"the seeding child failed with exit code {child.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = json.loads(cpu_file.read_text())
    cpu_file.unlink()
    return {
        "products": products,
        "seconds": elapsed,
        "products_per_s": products / elapsed,
        "peak_tree_rss_bytes": peak,
        # ru_maxrss is in KiB on Linux, and the largest of any one waited-for descendant.
        "peak_single_rss_bytes": max(after.ru_maxrss, before.ru_maxrss) * 1024,
        # The whole tree: the seeding process and its (waited-for) generator workers.
        "child_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "main_cpu_s": own["main_cpu_s"],
        # Of `seconds`: building the search index from the seeded database.
        "index_s": own["index_s"],
        "database_bytes": Path(path).stat().st_size,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--quick", action="store_true", help="20,000 products (smoke test)")
    parser.add_argument(
        "--database",
        type=Path,
        help="seed this SQLite file instead of the shared catalog in bench/results/db/",
    )
    parser.add_argument("--child", nargs=3, metavar=("N", "PATH", "CPU"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        seed_child(int(args.child[0]), Path(args.child[1]), Path(args.child[2]))
        return
    products = 20_000 if args.quick else args.products
    info = machine()
    figures = measure(products, args.timeout, args.database or catalog_path(products))
    met = figures["seconds"] <= TARGET_S and figures["peak_tree_rss_bytes"] <= TARGET_BYTES  # type: ignore[operator]
    result = {
        "name": "seeding",
        "command": command_line("bench.seeding", sys.argv[1:] if argv is None else argv),
        "machine": info,
        "figures": figures,
        "target": "1,000,000 products (and their search index) in <= 120 s, peak memory <= 1 GiB",
        "met": bool(met) if products >= 1_000_000 else None,
    }
    write_result("seeding", result)
    print(
        f"seeded {products:,} products in {figures['seconds']:.1f} s "
        f"(search index {figures['index_s']:.1f} s of it) "
        f"({figures['products_per_s']:,.0f}/s), peak tree RSS "
        f"{figures['peak_tree_rss_bytes'] / 2**20:,.0f} MiB (largest single process "  # type: ignore[operator]
        f"{figures['peak_single_rss_bytes'] / 2**20:,.0f} MiB), CPU {figures['child_cpu_s']:.1f} s "  # type: ignore[operator]
        f"(seeding process {figures['main_cpu_s']:.1f} s), load {info['load_1m']}"
    )


if __name__ == "__main__":
    main()

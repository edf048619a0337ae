"""Run every benchmark in turn, then write docs/benchmarks.md: `python -m bench [--quick]`.

Each benchmark runs in its own process (so one's memory and threads never colour the next's
figures), in an order that lets later ones reuse what earlier ones built: seeding leaves the
1M-product catalog for search, search leaves the 10k and 100k catalogs for the rest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import machine

ORDER = [
    "seeding",
    "search",
    "decide_latency",
    "gate_latency",
    "gate_overhead",
    "throughput",
    "checkout",
    "load",
    "design_costs",
    "hostile",
    "workshop",
]
TIMEOUT_S = 1200


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument("--no-report", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    only = [n for n in args.only.split(",") if n] or ORDER
    skip = {n for n in args.skip.split(",") if n}
    unknown = (set(only) | skip) - set(ORDER)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {ORDER}")
    print(f"machine: {machine()}", flush=True)
    failed: list[str] = []
    ran: list[str] = []
    started = time.perf_counter()
    for name in ORDER:
        if name not in only or name in skip:
            continue
        print(f"\n== bench.{name} ==", flush=True)
        ran.append(name)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]
        try:
            code = subprocess.run(cmd, timeout=TIMEOUT_S, check=False).returncode
        except subprocess.TimeoutExpired:
            code = -1
        print(f"-- bench.{name}: exit {code} in {time.perf_counter() - t0:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if not args.no_report and not args.quick:
        from bench.report import write_report

        print(f"wrote {write_report(total_s=time.perf_counter() - started, ran=ran)}")
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s; failed: {failed or 'none'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Load: 200 simulated shoppers and 50 outside agents for 60 s against a served platform (target 7).

The platform is served as `sandbox serve` serves it (uvicorn, one worker, on loopback, policy
`closed`) over a copy of the 100k catalog with the personas; the load generator is locust,
headless, in its own process (bench/locustfiles/load.py). Reported: the error rate (5xx and
broken connections; refusals 403/402/429 are answers), every agent answer checked against the
policy's table for the agent's class, latency by route, and the gate's own decision time per
visitor class as the server logged it (the decision log's `latency_us`), signed requests
included.

    .venv/bin/python -m bench.load [--seconds 60] [--shoppers 200] [--agents 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.catalogs import copy_catalog
from bench.common import SEED, SEEDED_AT, command_line, machine, summary, write_result
from bench.serving import run_locust, uvicorn_server


def gate_latency_by_class(url: str) -> dict[str, dict[str, float]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT visitor_class, latency_us FROM gate_decisions")).all()
    engine.dispose()
    by_class: dict[str, list[float]] = {}
    for visitor, latency in rows:
        by_class.setdefault(str(visitor), []).append(float(latency or 0) / 1000)
    return {visitor: summary(values) for visitor, values in sorted(by_class.items())}


def main(argv: list[str] | None = None) -> None:
    from marketplace.core.db import Database
    from sandbox.persona import load_personas
    from sandbox.seeding import seed_personas

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--policy", default="closed")
    parser.add_argument("--quick", action="store_true", help="10 s, 20 shoppers, 5 agents")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.shoppers, args.agents, args.products = 10, 20, 5, 2000
    info = machine()
    users = args.shoppers + args.agents
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        db_path = copy_catalog(args.products, Path(tmp) / "store.sqlite")
        url = f"sqlite:///{db_path}"
        database = Database(url)
        seed_personas(database, load_personas(), seed=SEED, now=SEEDED_AT)
        database.dispose()
        data_dir = Path(tmp) / "data"
        out = Path(tmp) / "checks.json"
        env = {
            "SANDBOX_DATABASE_URL": url,
            "SANDBOX_DATA_DIR": str(data_dir),
            "SANDBOX_POLICY": args.policy,
            "SANDBOX_CATALOG_SIZE": str(args.products),
        }
        with uvicorn_server("marketplace.app:create_app", factory=True, env=env) as served:
            stats = run_locust(
                "load.py",
                served,
                users=users,
                spawn_rate=max(10, users // 10),
                seconds=args.seconds,
                env={
                    "BENCH_PRODUCTS": str(args.products),
                    "BENCH_POLICY": args.policy,
                    "BENCH_KEY_FILE": str(data_dir / "platform-signing-key.pem"),
                    "BENCH_LOAD_OUT": str(out),
                    # Users are spread by weight: 20 : 2 : 2 : 1 is 200 shoppers and 50 agents.
                },
            )
        checks: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        gate = gate_latency_by_class(url)
    total = stats["Aggregated"]
    tally = checks.get("tally", {})
    error_rate = total["failures"] / total["requests"] if total["requests"] else float("nan")
    for name, row in sorted(stats.items()):
        print(
            f"{name:<44} {row['requests']:6d} req {row['failures']:4d} err  median "
            f"{row['median_ms']:6.0f} ms  p95 {row['p95_ms']:6.0f} ms  p99 {row['p99_ms']:6.0f} ms"
        )
    for visitor, s in gate.items():
        print(
            f"gate decision {visitor:<20} median {s['median']:.3f} ms "
            f"p99 {s['p99']:.3f} ms n={int(s['n'])}"
        )
    print(
        f"error rate {error_rate:.4%}; agent answers checked {tally.get('checked', 0)}, "
        f"not as the policy says {tally.get('mismatched', 0)}"
    )
    met = total["failures"] == 0 and tally.get("mismatched", 1) == 0 and tally.get("checked", 0) > 0
    write_result(
        "load",
        {
            "name": "load",
            "command": command_line("bench.load", sys.argv[1:] if argv is None else argv),
            "machine": info,
            "users": {"shoppers": args.shoppers, "agents": args.agents},
            "seconds": args.seconds,
            "policy": args.policy,
            "routes": stats,
            "error_rate": error_rate,
            "checks": checks,
            "gate_latency_ms_by_class": gate,
            "target": "error rate 0; every agent decision as the policy says",
            "met": met,
        },
    )


if __name__ == "__main__":
    main()

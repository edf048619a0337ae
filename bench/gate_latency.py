"""The policy gate's own decision latency: median and 99th percentile, in microseconds.

Measures what the middleware times for each request (building the normalised RequestFacts from an
ASGI scope, identification, rule lookup), over a realistic mix of visitors and paths, without
the network, the app or the database. Behaviour scoring runs against an in-memory shared state
(its writes are batched in the background in production too).

    .venv/bin/python bench/gate_latency.py [--requests 200000] [--policy closed]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from marketplace.core.clock import system_clock
from marketplace.gate.behaviour import BehaviourTracker
from marketplace.gate.compiled import CompiledPolicy
from marketplace.gate.engine import GateEngine
from marketplace.gate.metrics import GateMetrics
from marketplace.gate.middleware import build_facts
from marketplace.gate.policy import load_policy
from marketplace.gate.runtime import GateRuntime
from marketplace.gate.state import SessionSignals, SharedState

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MIX: list[tuple[str, str, str]] = [
    (CHROME, "GET", "/products/{n}"),
    (CHROME, "GET", "/static/store.css"),
    (CHROME, "GET", "/api/v1/products?q=lamp&page={n}"),
    (CHROME, "POST", "/api/v1/cart/items"),
    ("Mozilla/5.0 (compatible; GPTBot/1.1; +https://openai.com/gptbot)", "GET", "/products/{n}"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0",
        "GET",
        "/api/v1/products/{n}",
    ),
    ("curl/8.5.0", "GET", "/api/v1/cart"),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "GET",
        "/products/{n}",
    ),
    ("python-httpx/0.27.0", "GET", "/API/V1/%63art/"),
    (CHROME, "GET", "/no/such/page/{n}"),
]


class MemoryStore:
    """A shared-state store that keeps everything in this process (for the benchmark only)."""

    def claim_nonce(self, key: str, now: float, ttl_s: float) -> bool:
        return True

    def add_counts(self, batch: dict[Any, int], expires: dict[Any, float]) -> dict[Any, int]:
        return dict(batch)

    def merge_signals(self, deltas: dict[str, SessionSignals]) -> dict[str, SessionSignals]:
        return dict(deltas)

    def fetch_signals(self, ids: Any) -> dict[str, SessionSignals]:
        return {}

    def read_versions(self) -> dict[str, int]:
        return {}

    def read_value(self, name: str) -> tuple[int, str | None]:
        return 0, None

    def write_value(self, name: str, value: str | None, now: Any) -> int:
        return 1

    def purge(self, now: float) -> None:
        return None

    def close(self) -> None:
        return None


def scope_for(user_agent: str, method: str, path: str, session: str) -> dict[str, Any]:
    raw, _, query = path.partition("?")
    return {
        "type": "http",
        "method": method,
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "server": ("shop.test", 80),
        "client": ("203.0.113.7", 50000),
        "headers": [
            (b"host", b"shop.test"),
            (b"user-agent", user_agent.encode()),
            (b"accept", b"text/html,application/xhtml+xml"),
            (b"accept-language", b"en-GB,en;q=0.9"),
            (b"cookie", f"nile_session={session}".encode()),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--policy", default="closed")
    args = parser.parse_args()

    state = SharedState(MemoryStore(), background=False)  # type: ignore[arg-type]
    compiled = CompiledPolicy(load_policy(args.policy))
    engine = GateEngine(compiled, tracker=BehaviourTracker(state), state=state, clock=system_clock)
    runtime = GateRuntime(
        engine,
        decision_log=None,
        metrics=GateMetrics(),
        state=None,
        startup_text="",
        startup_source=args.policy,
    )
    scopes = [
        scope_for(ua, method, path.format(n=i % 500), f"s{i % 2000}")
        for i in range(5000)
        for ua, method, path in [MIX[i % len(MIX)]]
    ]
    # Warm-up: caches (normalised paths, user agent matches) fill as they would in a server.
    for scope in scopes:
        engine.decide(build_facts(scope, runtime))
    # Wall-clock time is what a request waits; on a busy machine it includes time the process
    # was not scheduled at all. Thread CPU time is the gate's own work. Both are reported.
    wall: list[float] = []
    cpu: list[float] = []
    perf, thread = time.perf_counter, time.thread_time
    for i in range(args.requests):
        scope = scopes[i % len(scopes)]
        started, started_cpu = perf(), thread()
        engine.decide(build_facts(scope, runtime))
        cpu.append(thread() - started_cpu)
        wall.append(perf() - started)
    print(f"policy={args.policy} requests={args.requests} mix of {len(MIX)} visitor/path kinds")
    for label, samples in (("wall-clock", wall), ("thread CPU", cpu)):
        us = sorted(s * 1e6 for s in samples)
        p99 = us[int(len(us) * 0.99) - 1]
        print(
            f"{label:>10}: median {statistics.median(us):7.1f} us   p99 {p99:8.1f} us   "
            f"max {us[-1]:9.1f} us"
        )


if __name__ == "__main__":
    main()

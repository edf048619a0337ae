"""Costs behind design choices in the code: the figures its comments rely on, measured here.

Each figure explains why a piece of the platform is built the way it is (the code says why; the
numbers live here):

- a password check with argon2id at OWASP's minimum profile (accounts/service.py);
- a normal-like draw from four uniforms against `random.Random.gauss` (catalog/generator.py);
- the memory of the anonymous-token set per entry and at its bound (accounts/anonymous.py);
- scanning a 100,000-node YAML document with libyaml against PyYAML's pure-Python parser, which
  decides how cheaply an oversized file is refused (core/yamlfile.py);
- a nonce claim as one precompiled autocommit statement on the nonce file, against the same
  upsert as a pooled SQLAlchemy transaction, and what a claim adds to the file's write-ahead log
  (core/shared/database_store.py, core/shared/nonce_file.py).

    .venv/bin/python -m bench.design_costs [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
import timeit
import tracemalloc
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/design_costs.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml
from argon2 import PasswordHasher

from bench.common import command_line, machine, summary, write_result
from marketplace.accounts.anonymous import MAX_REMEMBERED, AnonymousTokens
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.core.shared.database_store import DatabaseStore


def password_check_ms(rounds: int) -> dict[str, float]:
    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    stored = hasher.hash("correct-horse-9")
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.verify(stored, "correct-horse-9")
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


def normal_draw_ns(draws: int) -> dict[str, float]:
    rng = random.Random(1)
    r = rng.random
    root3 = 3**0.5
    uniforms = timeit.timeit(lambda: (r() + r() + r() + r() - 2.0) * root3, number=draws)
    gauss = timeit.timeit(lambda: rng.gauss(0.0, 1.0), number=draws)
    return {
        "four_uniforms_ns": uniforms / draws * 1e9,
        "gauss_ns": gauss / draws * 1e9,
        "ratio": gauss / uniforms,
    }


def anonymous_tokens_bytes(entries: int) -> dict[str, float]:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tokens = AnonymousTokens(capacity=entries)
    for i in range(entries):
        tokens.remember(hashlib.sha256(i.to_bytes(8, "big")).hexdigest())
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_entry = used / entries
    return {
        "bytes_per_entry": per_entry,
        "entries": entries,
        "mib_at_bound": per_entry * MAX_REMEMBERED / 2**20,
    }


def yaml_scan_s(nodes: int) -> dict[str, float]:
    document = "items:\n" + "".join(f"  - {i}\n" for i in range(nodes))
    out: dict[str, float] = {"nodes": nodes}
    loaders: dict[str, Any] = {"pure_python_s": yaml.SafeLoader}
    if hasattr(yaml, "CSafeLoader"):
        loaders["libyaml_s"] = yaml.CSafeLoader
    for name, loader in loaders.items():
        started = time.perf_counter()
        for _ in yaml.parse(document, Loader=loader):
            pass
        out[name] = time.perf_counter() - started
    return out


def nonce_claim_us(claims: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="design-costs-") as tmp:
        path = Path(tmp) / "store.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        database = Database(url)
        store = DatabaseStore(database.engine)
        try:
            store.claim_nonce("warm-up", time.time(), 60)
            wal = Path(f"{path}-nonces-wal")
            wal_before = wal.stat().st_size if wal.exists() else 0
            for i in range(claims):  # the claim connection never checkpoints by itself
                store.claim_nonce(f"w{i}", time.time(), 60)
            wal_after = wal.stat().st_size if wal.exists() else 0
            precompiled, pooled = [], []
            for i in range(claims):  # alternated, so both arms see the same machine
                started = time.thread_time()
                store.claim_nonce(f"p{i}", time.time(), 60)
                precompiled.append((time.thread_time() - started) * 1e6)
                values = {"key": f"t{i}", "expires_at": time.time() + 60, "now": time.time()}
                started = time.thread_time()
                with store.nonce_engine.begin() as conn:
                    conn.execute(store._claim, values).first()
                pooled.append((time.thread_time() - started) * 1e6)
        finally:
            store.close()
            database.dispose()
    return {
        "precompiled_cpu_us": summary(precompiled),
        "pooled_transaction_cpu_us": summary(pooled),
        "wal_kib_per_claim": (wal_after - wal_before) / 1024 / claims,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds of each")
    args = parser.parse_args(argv)
    scale = 0.05 if args.quick else 1.0
    info = machine()
    result = {
        "command": command_line("bench.design_costs", ["--quick"] if args.quick else []),
        "machine": info,
        "target": "none: these figures explain choices in the code",
        "met": "no target",
        "password_check_ms": password_check_ms(max(3, int(40 * scale))),
        "normal_draw": normal_draw_ns(max(1000, int(500_000 * scale))),
        "anonymous_tokens": anonymous_tokens_bytes(max(1000, int(MAX_REMEMBERED * scale))),
        "yaml_scan": yaml_scan_s(max(1000, int(100_000 * scale))),
        "nonce_claim": nonce_claim_us(max(50, int(2000 * scale))),
    }
    path = write_result("design_costs", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""What every benchmark shares: the machine, percentiles, result files and a scratch folder."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
# A fixed moment for seeded data, so the catalogs are the same from run to run.
SEEDED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SEED = 42
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """nproc, CPU model and the load average now: printed and stored next to every figure."""
    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "load_1m": round(load[0], 2),
        "load_5m": round(load[1], 2),
        "python": sys.version.split()[0],
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of unsorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: Iterable[float]) -> dict[str, float]:
    """Median and spread (p5, p25, p75, p95, p99) of a sample, with its size."""
    data = list(values)
    if not data:
        return {"n": 0}
    return {
        "n": len(data),
        "median": statistics.median(data),
        "p5": percentile(data, 0.05),
        "p25": percentile(data, 0.25),
        "p75": percentile(data, 0.75),
        "p95": percentile(data, 0.95),
        "p99": percentile(data, 0.99),
        "max": max(data),
    }


def fmt(s: dict[str, float], unit: str = "ms", digits: int = 1) -> str:
    if not s.get("n"):
        return "no samples"
    return (
        f"median {s['median']:.{digits}f} {unit} (p5 {s['p5']:.{digits}f}, p95 "
        f"{s['p95']:.{digits}f}, p99 {s['p99']:.{digits}f}; n={int(s['n'])})"
    )


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Store one benchmark's figures as bench/results/<name>.json (read by bench.report)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def command_line(module: str, argv: Sequence[str]) -> str:
    return " ".join([".venv/bin/python -m", module, *argv])


def scratch(name: str) -> Path:
    """A folder for large artefacts (databases) that later benchmarks may reuse."""
    path = RESULTS / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class Deadline:
    """A time bound for a loop: every loop in the benchmarks stops by count or by time."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() > self.end

"""Each benchmark runs end to end with tiny sizes (`--quick`); no timing is asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import ORDER

ROOT = Path(__file__).resolve().parents[2]
RESULT_NAMES = {"decide_latency": "decide", "seeding": "seeding"}


@pytest.mark.xdist_group("bench")
@pytest.mark.parametrize("name", ORDER)
def test_benchmark_runs_quick(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / f"{RESULT_NAMES.get(name, name)}.json").read_text())
    assert result["command"].startswith(".venv/bin/python -m bench.")
    assert result["machine"]["nproc"] >= 1


def test_report_renders_every_section(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS": str(tmp_path)}
    code = (
        "import bench.report as r; from pathlib import Path; "
        f"r.DOC = Path({str(tmp_path / 'b.md')!r}); r.write_report()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    text = (tmp_path / "b.md").read_text()
    assert text.count("Not run yet.") == 9

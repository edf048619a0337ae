"""Run the official UCP conformance suite against a live store; print the counts per file.

The suite (`../shared/reference/ucp-conformance`, read, never copied) runs in its own venv with
`ucp-sdk==0.1.0`, made once under `.cache/ucp-venv`. The store is `sandbox serve` on a free
loopback port, with a fresh SQLite database seeded with the suite's flower shop, the `observe`
policy and a simulation secret. Each test file runs as the suite's README runs it.

    python -m sandbox.ucp_conformance [--suite DIR] [--min-passed 57]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.liveserver import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = ROOT.parent / "shared" / "reference" / "ucp-conformance"
DEFAULT_VENV = ROOT / ".cache" / "ucp-venv"
REQUIREMENTS = (
    "ucp-sdk==0.1.0",
    "absl-py>=1.0.0",
    "httpx>=0.26.0",
    "pydantic>=2.12.0",
    "fastapi>=0.109.0",
    "uvicorn[standard]>=0.38.0",
)
FIXTURE = "test_data/flower_shop"
TOTAL_TESTS = 59
MIN_PASSED = 57
FILE_TIMEOUT_S = 300

_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
_FAILED = re.compile(r"^(FAIL|ERROR): (\w+) \(", re.M)


@dataclass
class FileResult:
    name: str
    ran: int
    failed: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def passed(self) -> int:
        return self.ran - len(self.failed)


def ensure_venv(path: Path = DEFAULT_VENV) -> Path:
    """The suite's venv (made and filled on first use); returns its python."""
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        venv.create(path, with_pip=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS,
        ],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def _sandbox_env(data_dir: Path, secret: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_") or k == "SANDBOX_LLM"
    }
    env.update(
        SANDBOX_DATA_DIR=str(data_dir),
        SANDBOX_POLICY="observe",
        SANDBOX_UCP_SIMULATION_SECRET=secret,
        PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT / "agents"), str(ROOT)]),
    )
    return env


@contextmanager
def live_store(suite: Path, secret: str) -> Iterator[str]:
    """`sandbox serve` with the flower shop under `observe`; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="ucp-conformance-") as tmp:
        env = _sandbox_env(Path(tmp), secret)
        seed = [sys.executable, "-m", "sandbox", "seed", "--products", "50"]
        subprocess.run(
            [*seed, "--ucp-fixture", str(suite / FIXTURE)],
            env=env,
            check=True,
            capture_output=True,
            cwd=tmp,
        )
        port = free_port()
        log = (Path(tmp) / "serve.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, server, output=(Path(tmp) / "serve.log").read_text)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def run_file(python: Path, suite: Path, test_file: str, base_url: str, secret: str) -> FileResult:
    """One test file, as the suite's README runs it; the store's UCP binding is its server URL."""
    command = [
        str(python),
        test_file,
        f"--server_url={base_url}/ucp/v1",
        f"--simulation_secret={secret}",
        f"--conformance_input={FIXTURE}/conformance_input.json",
        f"--test_data_dir={FIXTURE}",
        f"--mock_webhook_port={free_port()}",
        f"--mock_agent_port={free_port()}",
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(
            command,
            cwd=suite,
            env=env,
            capture_output=True,
            text=True,
            timeout=FILE_TIMEOUT_S,
        )
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        partial = [
            p.decode(errors="replace") if isinstance(p, bytes) else p or ""
            for p in (exc.stdout, exc.stderr)
        ]
        output = f"timed out after {FILE_TIMEOUT_S} s\n" + "".join(partial)
    ran = _RAN.search(output)
    failed = [name for _, name in _FAILED.findall(output)]
    return FileResult(test_file, int(ran.group(1)) if ran else 0, failed, output)


def run_suite(suite: Path = DEFAULT_SUITE, venv_path: Path = DEFAULT_VENV) -> list[FileResult]:
    python = ensure_venv(venv_path)
    secret = "conformance-" + os.urandom(8).hex()
    files = sorted(p.name for p in suite.glob("*_test.py"))
    with live_store(suite, secret) as url:
        return [run_file(python, suite, name, url, secret) for name in files]


def report(results: list[FileResult]) -> str:
    lines = [f"{'file':<34} {'passed':>6} / {'ran':<4} failing"]
    for r in results:
        lines.append(f"{r.name:<34} {r.passed:>6} / {r.ran:<4} {', '.join(r.failed)}")
    passed = sum(r.passed for r in results)
    ran = sum(r.ran for r in results)
    lines.append(f"{'total':<34} {passed:>6} / {ran:<4} (the suite has {TOTAL_TESTS} tests)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--min-passed", type=int, default=MIN_PASSED)
    parser.add_argument("-v", "--verbose", action="store_true", help="print failing output")
    args = parser.parse_args(argv)
    if not (args.suite / "integration_test_utils.py").is_file():
        print(f"error: no UCP conformance suite at {args.suite}", file=sys.stderr)
        return 2
    results = run_suite(args.suite, args.venv)
    print(report(results))
    if args.verbose:
        for r in results:
            if r.failed or r.ran == 0:
                print(f"\n===== {r.name}\n{r.output[-6000:]}")
    passed = sum(r.passed for r in results)
    return 0 if passed >= args.min_passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Platform worker processes for tests that need several: uvicorn on ports of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandbox.liveserver import free_port, wait_until_healthy


class Worker:
    """One `uvicorn marketplace.app:create_app --factory` process on a port of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "marketplace.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                # As `sandbox serve` runs it with SANDBOX_TRUSTED_PROXIES unset.
                "--no-proxy-headers",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 60) -> None:
        wait_until_healthy(self.url, self.proc, timeout_s=timeout_s)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

"""A throwaway PostgreSQL server from Debian's packages (initdb in a temp folder, pg_ctl)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sandbox.liveserver import free_port


def find_pg_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (initdb, pg_ctl), newest first."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """One cluster; runs as the `postgres` user under root, since initdb refuses root."""

    def __init__(self, bin_dir: Path, root: Path | None = None) -> None:
        """`root` keeps the cluster there across runs (the benchmarks reuse a seeded catalog);
        without it the cluster lives in a temp folder and is removed when it stops."""
        self.bin_dir = bin_dir
        self.port = free_port()
        self.keep = root is not None
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self.root = root or Path(tempfile.mkdtemp(prefix="sandbox-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else os.environ.get("USER", "postgres")

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300 -c shared_buffers=128MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        )

    def stop(self) -> None:
        # A kept cluster shuts down cleanly (its fsync is off); a throwaway one is just removed.
        mode = "fast" if self.keep else "immediate"
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "stop")
        finally:
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)

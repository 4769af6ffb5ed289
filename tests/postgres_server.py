"""A private PostgreSQL server on loopback for the tests: initdb in a fresh folder, a free port, stopped at
the end of the session. Needs Debian's ``postgresql`` package (``.ci/run`` installs it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self):
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
        self.bin = binaries[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="synthaug-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        # The server refuses to run as root: run it as the package's postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")

    def start(self) -> str:
        run = lambda *args: subprocess.run([*self.as_user, *map(str, args)], check=True, capture_output=True)  # noqa: E731
        run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres")
        run(self.bin / "pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-w", "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=100", "start")
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

"""A throw-away PostgreSQL cluster on a loopback port, for tests of shared Optuna studies.

``initdb`` refuses to run as root, so as root the cluster belongs to Debian's ``postgres`` user
(created by the ``postgresql`` package); otherwise to the test user. Password authentication
over TCP, so wrong credentials are refused as they would be on a real server.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER, PASSWORD, DATABASE = "hatespeech", "s3cret-test-pw", "postgres"


def postgres_bin() -> Path | None:
    """The folder with initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(versions[-1]).parent if versions else None


class PostgresCluster:
    """``start()`` initialises and starts a cluster in a temporary folder; ``stop()`` removes it."""

    def __init__(self):
        self.bin = postgres_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="hatespeech-pg-"))
        self.port = _free_port()
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True, text=True, timeout=120)

    def pause(self) -> None:
        """Stop the server, keeping its data (an outage)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop")

    def resume(self) -> None:
        self._serve()

    def start(self) -> "PostgresCluster":
        data, password_file = self.folder / "data", self.folder / "password"
        password_file.write_text(PASSWORD)
        if self.run_as:
            shutil.chown(self.folder, "postgres")
            shutil.chown(password_file, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={password_file}",
                  "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-instructions")  # fmt: skip
        return self._serve()

    def _serve(self) -> "PostgresCluster":
        data = self.folder / "data"
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip
        deadline = time.monotonic() + 30
        while True:  # pg_ctl -w waited for the server; make sure TCP answers too
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

"""A PostgreSQL server of Debian's package, run from a folder of ours (tests, `make prod`).

The server runs as an unprivileged user: the caller itself, or when that is root (containers,
CI), the `postgres` account the Debian package creates, since `initdb` refuses to run as root.
It listens on 127.0.0.1 only, on a port of the caller's choosing, with trust authentication
for local connections: a development and test server, never a production one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_ACCOUNT = "postgres"
_START_TIMEOUT = 60.0


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries here, or the server would not start."""


def server_bin() -> Path:
    """The folder of the newest installed PostgreSQL server's binaries (`initdb`, `pg_ctl`).

    Raises `PostgresUnavailableError` when Debian's `postgresql` package is not installed.
    """
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise PostgresUnavailableError(
            "PostgreSQL server is not installed: run `make postgres` (apt-get install postgresql)"
        )
    return found[-1].parent


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as the server's unprivileged account."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError as error:
        raise PostgresUnavailableError(
            f"no `{SERVER_ACCOUNT}` account to run PostgreSQL as: reinstall Debian's postgresql"
        ) from error
    return ["runuser", "-u", SERVER_ACCOUNT, "--"]


@dataclass
class LocalPostgres:
    """One server: its data folder under `folder`, listening on 127.0.0.1:`port`."""

    folder: Path
    port: int
    user: str = "sync"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """A `postgresql://` URL for `database` (no password: local trust authentication)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> LocalPostgres:
        """Create the cluster if new (`initdb`), start the server and wait until it accepts.

        Raises `PostgresUnavailableError` (one line: what, and what to do) when the server
        binaries are missing, the server account cannot reach `folder`, or the server fails.
        """
        binaries = server_bin()
        prefix = _as_server_user()
        self.folder.mkdir(parents=True, exist_ok=True)
        if prefix:
            shutil.chown(self.folder, SERVER_ACCOUNT, SERVER_ACCOUNT)
            reach = subprocess.run([*prefix, "test", "-w", str(self.folder)], check=False)
            if reach.returncode != 0:
                raise PostgresUnavailableError(
                    f"the `{SERVER_ACCOUNT}` account cannot reach {self.folder} (a parent "
                    "folder is private to root): choose a folder others may enter, or use "
                    "local_postgres.temporary_server()"
                )
        if not (self.data / "PG_VERSION").exists():
            self._run(
                [
                    *prefix,
                    str(binaries / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            [
                *prefix,
                str(binaries / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-t",
                str(int(_START_TIMEOUT)),
                "start",
            ]
        )
        return self

    def stop(self) -> None:
        """Stop the server quickly (open sessions are ended)."""
        if not (self.data / "postmaster.pid").exists():
            return
        binaries = server_bin()
        command = [*_as_server_user(), str(binaries / "pg_ctl"), "-D", str(self.data)]
        subprocess.run([*command, "-m", "fast", "-w", "stop"], capture_output=True, check=False)

    def create_database(self, name: str) -> str:
        """Create database `name` (dropped first if it exists); return its URL."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL command with `psql`; its output."""
        deadline = time.monotonic() + 10
        while True:
            done = subprocess.run(
                ["psql", "-X", "-q", "-t", "-A", self.url(database), "-c", sql],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if done.returncode != 0:
            raise PostgresUnavailableError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PostgresUnavailableError(
                f"{Path(command[-1]).name if command else ''} failed: "
                f"{(done.stderr or done.stdout).strip()} {tail}".strip()
            )


@contextmanager
def temporary_server() -> Iterator[LocalPostgres]:
    """A running server in a new folder directly under the system's temp folder (which the
    server account can enter even when the caller is root), stopped and removed afterwards."""
    # Local import: processes imports httpx, which this module's other users do not need.
    from sync_pipeline.processes import free_port

    folder = Path(tempfile.mkdtemp(prefix="sync-pipeline-pg-"))
    server = LocalPostgres(folder, free_port())
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

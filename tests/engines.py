"""Throwaway PostgreSQL and Redis servers for the tests: Debian's packages, free loopback ports.

`make test` installs the packages; a missing server fails the tests that need
it with the command to install it, rather than skipping them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    pytest.fail("PostgreSQL is not installed: apt-get install postgresql (make test does it)")


def _as_server_user(folder: Path) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the package's postgres user then."""
    if os.geteuid() != 0:
        return []
    shutil.chown(folder, "postgres", "postgres")
    return ["runuser", "-u", "postgres", "--"]


def _wait_for(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port} within {timeout:.0f}s")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server in a temporary folder; yields the DSN of its `postgres` database."""
    binaries = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="samestory-pg-"))
    folder.chmod(0o755)
    user = _as_server_user(folder)
    data, port = folder / "data", free_port()
    subprocess.run(
        [*user, str(binaries / "initdb"), "-D", str(data), "-U", "samestory", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        [*user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        _wait_for(port, "PostgreSQL")
        yield f"postgresql://samestory@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server_dsn: str, name: str) -> str:
    """A new, empty database on the server; returns its DSN."""
    import psycopg

    with psycopg.connect(server_dsn, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    return server_dsn.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis server without persistence in a temporary folder; yields its redis:// URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("Redis is not installed: apt-get install redis-server (make test does it)")
    folder = Path(tempfile.mkdtemp(prefix="samestory-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)

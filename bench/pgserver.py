"""A private PostgreSQL server for the tests and benchmarks that stop and start their database:
initdb in a folder of its own, its own port on 127.0.0.1, never the shared server. As root the
server runs as the ``postgres`` user (PostgreSQL refuses root); its folder is removed
afterwards. ``Unavailable`` says why one cannot be had on this machine (the tests skip)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import free_port


class Unavailable(RuntimeError):
    """No private PostgreSQL server can be run here (no binaries, no ``postgres`` user)."""


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class PrivatePostgres:
    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise Unavailable("no PostgreSQL binaries (initdb) on this machine")
        self._bin = bin_dir
        self.port = free_port()
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable(
                    "running as root and there is no postgres user to run PostgreSQL"
                ) from None
            self._user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        # Not under the run's TMPDIR: that folder is root's alone, and postgres must reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="sms-bridge-pg-", dir="/tmp"))
        if self._user:
            os.chown(self.folder, self._user["user"], self._user["group"])
        self.data = self.folder / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True, env=self._env(), **self._user)

    def _env(self) -> dict[str, str]:
        # The test run's mark (tests/conftest.py) goes along, so a server left running is found.
        mark = {k: v for k, v in os.environ.items() if k == "SMS_BRIDGE_TEST_RUN"}
        return {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC", **mark}

    def init(self) -> None:
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        )

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [
                str(self._bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=60",
            ],
            stdout=log,
            stderr=log,
            env=self._env(),
            **self._user,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            probe = subprocess.run(
                [str(self._bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited: {(self.folder / 'server.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.1)

    def stop(self, *, immediate: bool = True) -> None:
        """Stop the server (by default as a crash would: SIGQUIT, no checkpoint)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()

"""Shared fixtures: a clean environment, the fakes, and a database of each kind.

The database fixture runs every test that takes it on SQLite and on PostgreSQL. PostgreSQL is
found at ``SMS_BRIDGE_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
each test gets a database of its own, dropped afterwards. Without a server the PostgreSQL half
is skipped, unless ``SMS_BRIDGE_REQUIRE_PG=1`` (as in CI), where it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).parent))

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.db import create_engine, migrate

from harness import ACCESSKEY, BOT_TOKEN, WEBHOOK_SECRET

PG_ADMIN_URL = os.environ.get("SMS_BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("SMS_BRIDGE_REQUIRE_PG") == "1"

# -- nothing left behind -----------------------------------------------------------------------
# Every process the run starts inherits SMS_BRIDGE_TEST_RUN (unless a test gives it a bare
# environment, which only short commands do), so one still alive at the end is found by it,
# even orphaned (a killed benchmark's fake host and services were); and every temporary file
# of the run, in-process or a child's, goes to a folder of its own (TMPDIR), which must be
# empty at the end. Either fails the run.
_RUN_MARK = "SMS_BRIDGE_TEST_RUN"
_LEAK_GRACE_SECONDS = 10.0


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(_RUN_MARK):
        return  # a pytest started by a test: the outer run checks
    run = uuid.uuid4().hex
    os.environ[_RUN_MARK] = run
    # pytest's own tmp_path folders stay where they were (it keeps the last three runs).
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    folder = tempfile.mkdtemp(prefix=f"sms-bridge-tests-{run[:8]}-")
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder
    config.stash[_RUN_KEY] = (run, folder)


_RUN_KEY = pytest.StashKey[tuple[str, str]]()


def _left_processes(run: str) -> dict[int, str]:
    """The processes other than this one whose environment carries ``run``'s mark."""
    mark = f"{_RUN_MARK}={run}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if command:  # a zombie has none: it is dead, only not yet reaped
            found[int(entry.name)] = command.strip()
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    marked = session.config.stash.get(_RUN_KEY, None)
    if marked is None or not Path("/proc/self/environ").exists():
        return
    run, folder = marked
    deadline = time.monotonic() + _LEAK_GRACE_SECONDS
    left = _left_processes(run)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)  # a child that was told to stop may still be closing
        left = _left_processes(run)
    problems = [f"process {pid} still running: {command}" for pid, command in left.items()]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)  # started by this run: ended by it too
    stray = sorted(p.name for p in Path(folder).iterdir())
    problems += [f"left in the temporary folder: {name}" for name in stray]
    if not stray:
        Path(folder).rmdir()
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "the test run left things behind:\n  " + "\n  ".join(problems)
        if reporter is not None:
            reporter.write_line(text, red=True)
        else:
            print(text, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_CLEARED = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "SLACK_APP_TOKEN",
    "VOIPBIN_ACCESSKEY",
    "VOIPBIN_API_URL",
    "VOIPBIN_WEBHOOK_SECRET",
    "DATABASE_URL",
    "SMS_BRIDGE_CONFIG",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real token or proxy from the developer's shell may leak into a test."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def fake_voipbin() -> Iterator[FakeVoipbin]:
    with FakeVoipbin(accesskey=ACCESSKEY, webhook_secret=WEBHOOK_SECRET) as fake:
        yield fake


async def _pg_available() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@contextlib.asynccontextmanager
async def _pg_database() -> AsyncIterator[str]:
    """A throw-away PostgreSQL database, dropped afterwards."""
    import asyncpg

    if not await _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (SMS_BRIDGE_REQUIRE_PG=1); {PG_ADMIN_URL} is down")
        pytest.skip("PostgreSQL is not reachable; set SMS_BRIDGE_TEST_PG to run this half")
    name = f"smsb_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"
        return
    async with _pg_database() as url:
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with _pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database engine on ``database_url`` (SQLite and PostgreSQL)."""
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()

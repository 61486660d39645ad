"""Issue 18, finding 2: DATABASE_URL as operators write it, and a database that cannot be
reached or written, answered in words by every command (the real CLI, as a subprocess)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import free_port, write_config
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgresql_url_uses_the_driver_sms_bridge_ships(scheme: str, pg_url: str) -> None:
    written = pg_url.replace("postgresql+asyncpg://", f"{scheme}://", 1)
    env = operator_env(DATABASE_URL=written)
    assert_said(sms_bridge(["migrate"], env=env), 0, "database schema is up to date")
    assert_said(sms_bridge(["jobs"], env=env), 0, "no jobs")


@pytest.mark.parametrize(
    "command",
    [["serve"], ["migrate"], ["jobs"], ["audit"], ["worker"]],
    ids=lambda c: c[0],
)
def test_an_unreachable_database_is_one_line_naming_database_url(
    command: list[str], tmp_path: Path
) -> None:
    url = f"postgresql://sms:secret-pw@127.0.0.1:{free_port()}/bridge"
    ran = sms_bridge(
        [
            *command,
            *(["--config", write_config(tmp_path)] if command[0] in ("serve", "worker") else []),
        ],
        env=operator_env(DATABASE_URL=url),
    )
    assert_said(ran, 4, "DATABASE_URL=postgresql://sms:***@127.0.0.1:", "connection refused")
    assert "secret-pw" not in ran.text
    assert len(ran.err.strip().splitlines()) <= 2, ran.err


def test_a_missing_sqlite_folder_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no-such-folder/bridge.db"
    ran = sms_bridge(["migrate"], env=operator_env(DATABASE_URL=url))
    assert_said(ran, 4, f"DATABASE_URL=sqlite:///{tmp_path}/no-such-folder/bridge.db")
    assert "the folder exists" in ran.err


def test_a_read_only_sqlite_file_is_named(tmp_path: Path) -> None:
    database = tmp_path / "bridge.db"
    database.touch()
    # The tests run as root, whom file modes do not stop; the immutable flag does.
    if subprocess.run(["chattr", "+i", str(database)], check=False).returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    try:
        ran = sms_bridge(["migrate"], env=operator_env(DATABASE_URL=f"sqlite:///{database}"))
    finally:
        subprocess.run(["chattr", "-i", str(database)], check=True)
    assert_said(ran, 4, "DATABASE_URL=sqlite:///", "readonly", "must be able to write")


def test_a_driver_that_is_not_shipped_is_a_configuration_error() -> None:
    ran = sms_bridge(["migrate"], env=operator_env(DATABASE_URL="postgresql+psycopg://h/db"))
    assert_said(ran, 2, "DATABASE_URL uses postgresql+psycopg://", "postgresql://")


def test_the_traceback_is_shown_when_log_level_is_debug() -> None:
    url = f"postgresql://sms@127.0.0.1:{free_port()}/bridge"
    ran = sms_bridge(["migrate"], env=operator_env(DATABASE_URL=url, LOG_LEVEL="debug"))
    assert ran.code == 4, ran.text
    assert "Traceback" in ran.err
    assert ran.err.strip().splitlines()[-1].startswith("sms-bridge: cannot use the database")

"""Issue 18, finding 5: ``jobs``, ``audit`` and ``worker`` run from the wrong folder (or at an
empty database) say where they looked, and create nothing (the real CLI, as a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import write_config
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    "command", [["jobs"], ["jobs", "dead"], ["audit"], ["worker"]], ids=" ".join
)
def test_the_default_database_missing_from_this_folder_is_not_created(
    command: list[str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "not-the-service-folder"
    elsewhere.mkdir()
    args = [*command, *(["--config", write_config(tmp_path)] if command == ["worker"] else [])]
    ran = sms_bridge(args, env=operator_env(), cwd=elsewhere)
    assert_said(ran, 4, f"no database at {elsewhere / 'sms-bridge.db'}", "DATABASE_URL")
    assert list(elsewhere.iterdir()) == []


def test_a_database_without_the_schema_is_said_and_left_empty(pg_url: str) -> None:
    env = operator_env(DATABASE_URL=pg_url)
    ran = sms_bridge(["jobs"], env=env)
    assert_said(ran, 4, "has no sms-bridge tables", "sms-bridge migrate")
    # Still empty: `migrate` is what creates the schema, and it finds nothing to keep.
    assert "database schema is up to date" in sms_bridge(["migrate"], env=env).out
    assert_said(sms_bridge(["audit"], env=env), 0, "no audit entries")

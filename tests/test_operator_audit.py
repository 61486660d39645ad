"""Issue 18, finding 4: ``sms-bridge audit``'s input mistakes are usage errors in words, and
``--number`` is read in app.yaml's region as /sms reads it (the real CLI, as a subprocess)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.store import audit
from bot.store.db import create_engine, migrate

from harness import OUR_NUMBER, write_config
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)

DUTCH = "+31612345678"
AMERICAN = "+16125551234"


async def _two_entries(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            for peer, text in ((DUTCH, "to the dutch mobile"), (AMERICAN, "to minneapolis")):
                await audit.add_audit(
                    conn,
                    actor="U0ANNA",
                    action="sent",
                    now=time.time(),
                    our_number=OUR_NUMBER,
                    peer_number=peer,
                    segments=1,
                    detail=text,
                )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("since", ["yesterday", "7x", "2026-13-45", ""])
async def test_a_since_that_is_not_a_moment_is_a_usage_error(since: str, sqlite_url: str) -> None:
    await _two_entries(sqlite_url)
    ran = sms_bridge(["audit", "--since", since], env=operator_env(DATABASE_URL=sqlite_url))
    assert_said(ran, 2, "--since", "2h or 7d")
    assert ran.out == ""


async def test_spans_and_dates_are_read(sqlite_url: str) -> None:
    await _two_entries(sqlite_url)
    env = operator_env(DATABASE_URL=sqlite_url)
    assert_said(sms_bridge(["audit", "--since", "2h"], env=env), 0, "to minneapolis")
    assert_said(sms_bridge(["audit", "--since", "2999-01-01"], env=env), 0, "no audit entries")


async def test_a_national_number_is_read_in_the_region_of_app_yaml(
    sqlite_url: str, tmp_path: Path
) -> None:
    await _two_entries(sqlite_url)
    env = operator_env(DATABASE_URL=sqlite_url, SMS_BRIDGE_CONFIG=write_config(tmp_path))
    ran = sms_bridge(["audit", "--number", "0612345678"], env=env)  # region: NL
    assert_said(ran, 0, "to the dutch mobile")
    assert "minneapolis" not in ran.out


async def test_a_number_that_cannot_be_read_is_said(sqlite_url: str, tmp_path: Path) -> None:
    await _two_entries(sqlite_url)
    env = operator_env(DATABASE_URL=sqlite_url)
    ran = sms_bridge(["audit", "--number", "06-12"], env=env, cwd=tmp_path)
    assert_said(ran, 2, "--number 06-12", "app.yaml")
    ran = sms_bridge(["audit", "--number", "12", "--config", write_config(tmp_path)], env=env)
    assert_said(ran, 2, "--number 12")

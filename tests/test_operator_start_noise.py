"""Issue 18, finding 10: what ``sms-bridge serve`` logs from start to stop, as a real process
against the fakes: one JSON object a line, times in UTC with milliseconds and the offset,
booleans as booleans, and none of the libraries' start-up chatter."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import ServiceProcess, write_config

pytestmark = pytest.mark.timeout(120)

UTC_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


async def test_a_start_and_a_stop_log_only_what_an_operator_reads(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    log = tmp_path / "service.log"
    service = ServiceProcess(
        slack=fake_slack,
        voipbin=fake_voipbin,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}",
        config_path=write_config(tmp_path),
        log_path=str(log),
        env={"TZ": "America/New_York"},  # local time must not leak into the lines
    )
    service.start()
    try:
        await service.wait_ready()
    finally:
        assert await asyncio.to_thread(service.terminate) == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    messages = [e["message"] for e in entries]
    assert all(UTC_MILLIS.match(e["time"]) for e in entries), entries
    started = next(e for e in entries if e["message"].startswith("sms-bridge started"))
    assert started["jobs"] is True
    assert not any("Context impl" in m or "token` will be unused" in m for m in messages), messages
    assert {e["logger"].split(".")[0] for e in entries} == {"bot"}, messages

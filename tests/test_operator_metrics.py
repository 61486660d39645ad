"""Issue 18, finding 12: ``GET /metrics`` of the real service after one ordinary send: no
``_created`` series, the process, Python and build series, and a queue depth whose "pending"
is only work due now (the stuck check of the send is "scheduled")."""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import version

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import CHANNEL, Service, serve, wait_for

pytestmark = pytest.mark.timeout(120)

PEER = "+31612345678"
NOTHING_DUE = 'sms_bridge_job_queue_depth{state="pending"} 0.0'


async def metrics_once_nothing_is_due(service: Service, timeout: float = 15) -> str:
    """The exposition once no job is due: the send's jobs run in the background."""
    deadline = time.monotonic() + timeout
    while True:
        text = (await service.http.get("/metrics")).text
        if NOTHING_DUE in text or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.05)


async def test_after_one_send_the_queue_is_empty_but_for_the_scheduled_check(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        assert (await service.slash(f"{PEER} one ordinary send")).status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) >= 1)
        text = await metrics_once_nothing_is_due(service)
    assert NOTHING_DUE in text, text
    # What is left waits for alerts.stuck_after (is the SMS still queued then?).
    assert 'sms_bridge_job_queue_depth{state="scheduled"} 1.0' in text, text
    assert "_created" not in text
    assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text
    assert "python_info{" in text and "python_gc_objects_collected_total" in text
    assert f'sms_bridge_build_info{{version="{version("sms-bridge")}"}} 1.0' in text

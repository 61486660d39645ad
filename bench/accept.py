"""``python -m bench.accept``: the CPU one ``/sms`` costs in the bridge's intake
(``Bridge.accept_send``: the policy check and the transaction that records the message, its
send job and its audit row), in-process on a SQLite file, without HTTP or Bolt.

Prints milliseconds of CPU per call (``time.process_time()``: every thread of the process,
so SQLite's thread is counted) and of wall time, and the trips to SQLite's thread per call.
For comparing a change to the data layer with its parent; the full benchmark is
``python -m bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.bridge.service import Bridge
from bot.config import AppConfig
from bot.store import onetrip
from bot.store.db import create_engine, migrate

CHANNEL = "C0BENCH0001"


async def run(calls: int) -> None:
    trips: Counter[str] = Counter()
    original = onetrip.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[getattr(fn, "__name__", "?")] += 1
        return await original(self, fn, *args, **kwargs)

    config = AppConfig.model_validate(
        {
            "region": "NL",
            "numbers": [{"number": "+31201234567", "channel": CHANNEL}],
            "slack": {"enabled": False},
            # The quotas would refuse this volume; they are off in `python -m bench` too.
            "policy": {"daily_segments_per_user": None, "daily_segments_total": None},
        }
    )
    with tempfile.TemporaryDirectory() as workdir:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(workdir) / 'accept.db'}")
        await migrate(engine)
        # The intake touches neither Slack nor VoIPbin: no messenger or gateway is needed.
        bridge = Bridge(engine=engine, config=config, messenger=None, gateway=None)  # type: ignore[arg-type]
        peers = [f"+316{10_000_000 + i:08d}" for i in range(200)]

        async def send(i: int, tag: str) -> None:
            await bridge.accept_send(
                channel=CHANNEL,
                user="U0BENCH",
                recipients=[peers[i % len(peers)]],
                text=f"bench {tag} {i}",
                request_key=f"{tag}-{i}",
            )

        for i in range(300):  # warm-up: every conversation exists, caches are filled
            await send(i, "warm")
        onetrip.Connection._execute = counted  # type: ignore[method-assign]
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(calls):
                await send(i, "run")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            onetrip.Connection._execute = original  # type: ignore[method-assign]
        await engine.dispose()
    print(
        f"accept_send x {calls}: {1000 * cpu / calls:.2f} ms CPU, {1000 * wall / calls:.2f} ms "
        f"wall per call; {sum(trips.values()) / calls:.1f} trips to SQLite's thread per call "
        f"({', '.join(f'{k} {v / calls:.1f}' for k, v in trips.most_common())})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.accept", description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    asyncio.run(run(parser.parse_args().calls))


if __name__ == "__main__":
    main()

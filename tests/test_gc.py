"""``sms-bridge serve`` settles the garbage collector once started (bot.runtime): what is alive
then is frozen out of the collector's walks, and the youngest generation is collected less
often. Checked in a fresh interpreter, so this test process's collector is left alone."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc
import bot.web  # what serve has loaded when it settles the collector
from bot.runtime import GC_YOUNG_THRESHOLD, settle_garbage_collector
assert gc.get_freeze_count() == 0
before = gc.get_threshold()
settle_garbage_collector()
assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:]), gc.get_threshold()
print("ok")
"""


def test_settling_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

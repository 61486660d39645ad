"""The service with measuring aids patched in, for ``SMS_BRIDGE_BENCH_SERVE``:

    SMS_BRIDGE_BENCH_SERVE=bench/whatif.py BENCH_FIX=count BENCH_COUNT_OUT=sql.json \\
        .venv/bin/python -m bench --only webhook_intake

- ``count``: count SQL statements per kind and write them to ``$BENCH_COUNT_OUT`` at exit.

It is also the place to try a candidate fix by monkeypatching before changing ``bot/``: the
fixes measured this way in the first round (one SQLite connection, no geocoder, slots not held
while pacing, a shared Slack session) are now in ``bot/`` itself (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import sys
from typing import Any

FIXES = set(filter(None, os.environ.get("BENCH_FIX", "").split(",")))


def apply() -> None:
    if "count" in FIXES:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        counts: collections.Counter[str] = collections.Counter()

        @event.listens_for(Engine, "before_cursor_execute")
        def _count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            words = statement.split()
            table = ""
            for keyword in ("FROM", "INTO", "UPDATE"):
                if keyword in words and words.index(keyword) + 1 < len(words):
                    table = words[words.index(keyword) + 1]
                    break
            counts[f"{words[0]} {table}".strip()] += 1

        def dump() -> None:
            path = os.environ.get("BENCH_COUNT_OUT", "sql-counts.json")
            with open(path, "w") as out:
                json.dump(dict(counts), out, indent=1)

        atexit.register(dump)


if __name__ == "__main__":
    apply()
    from bot.cli import main

    sys.exit(main())

"""The service with candidate fixes applied by monkeypatching, to measure them without editing
bot/ (docs/PERFORMANCE.md quotes what they gave)::

    SMS_BRIDGE_BENCH_SERVE=bench/whatif.py BENCH_FIX=pool1,nogeo,conc32,session \\
        .venv/bin/python -m bench --only webhook_intake,paced_delivery

- ``pool1``: one SQLite connection per process (no waits in SQLite's busy handler);
- ``nogeo``: ``phonenumbers.geocoder`` replaced by a table of English region names;
- ``conc32``: ``jobs.concurrency`` 32 instead of 8;
- ``session``: one shared aiohttp session for the Slack client;
- ``count``: count SQL statements per kind and write them to ``$BENCH_COUNT_OUT`` at exit.

These patch private details of bot/ and may stop applying when it changes; they are a
measuring aid, not the fixes themselves.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import subprocess
import sys
import types
from typing import Any

FIXES = set(filter(None, os.environ.get("BENCH_FIX", "").split(",")))


def _region_names() -> dict[str, str]:
    # Generated in a child process, so this one never imports the 97 MB geocoder data.
    code = (
        "import json, phonenumbers\n"
        "from phonenumbers import geocoder\n"
        "names = {r: geocoder.country_name_for_number(phonenumbers.example_number(r), 'en')\n"
        "         for r in phonenumbers.SUPPORTED_REGIONS\n"
        "         if phonenumbers.example_number(r) is not None}\n"
        "print(json.dumps(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names: dict[str, str] = json.loads(out.stdout)
    return names


def apply() -> None:
    if "nogeo" in FIXES:
        import phonenumbers

        names = _region_names()
        stub = types.ModuleType("phonenumbers.geocoder")

        def country_name_for_number(numobj: Any, lang: str, *_: Any, **__: Any) -> str:
            return names.get(phonenumbers.region_code_for_number(numobj) or "", "")

        stub.country_name_for_number = country_name_for_number  # type: ignore[attr-defined]
        sys.modules["phonenumbers.geocoder"] = stub
        phonenumbers.geocoder = stub  # type: ignore[attr-defined]
    if "pool1" in FIXES:
        import bot.store.db as db

        original = db.create_async_engine

        def create_async_engine(url: Any, **kw: Any) -> Any:
            if str(url).startswith("sqlite"):
                kw.update(pool_size=1, max_overflow=0)
            return original(url, **kw)

        db.create_async_engine = create_async_engine  # type: ignore[assignment]
    if "conc32" in FIXES:
        import bot.jobs.runner as runner

        init = runner.JobRunner.__init__

        def __init__(self: Any, *, config: Any, **kw: Any) -> None:
            init(self, config=config.model_copy(update={"concurrency": 32}), **kw)

        runner.JobRunner.__init__ = __init__  # type: ignore[method-assign]
    if "session" in FIXES:
        import aiohttp
        from slack_sdk.web.async_client import AsyncWebClient

        import bot.web as web

        class SharedSessionClient(AsyncWebClient):
            async def _request(self, *, http_verb: str, api_url: str, req_args: dict) -> Any:  # type: ignore[type-arg]
                if self.session is None:
                    timeout = aiohttp.ClientTimeout(total=self.timeout)
                    self.session = aiohttp.ClientSession(timeout=timeout)
                return await super()._request(
                    http_verb=http_verb, api_url=api_url, req_args=req_args
                )

        web.AsyncWebClient = SharedSessionClient  # type: ignore[misc]
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

"""``python -m bench``: every scenario of issue "Fast, and close to the limits", against the
real service (``python -m bot.cli serve`` as a subprocess) and the fakes on 127.0.0.1.

Each figure is compared with a baseline measured in the same run, because the machine is
shared and noisy. Prints a table (scenario, figures, baseline, ratio, target, PASS/FAIL);
``--json PATH`` writes the results. Exits 0 when every scenario ran (met or not), 1 when one
could not run, and with ``--strict`` also 1 when a target was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.common import LOAD_CLIENT, Profiler
from bench.scenarios import FULL, QUICK, SCENARIOS, Context, Result


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "git": _git(),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _git() -> str:
    """The commit measured, and whether bot/ differs from it (read-only git commands)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes in bot/' if dirty else ''}" if head else "unknown"


def _fmt_ratio(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}"


def table(results: list[Result]) -> str:
    header = ["scenario", "figures", "baseline (same run)", "ratio", "target", "result"]
    rows = []
    for r in results:
        if r.error is not None:
            rows.append([r.name, f"ERROR: {r.error}", "-", "-", r.target, "ERROR"])
            continue
        failed = [k for k, ok in r.checks.items() if not ok]
        verdict = "PASS" if r.passed else "FAIL (" + ", ".join(failed) + ")"
        rows.append(
            [r.name, r.summary, r.baseline_summary or "-", _fmt_ratio(r.ratio), r.target, verdict]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)),
        "-+-".join("-" * w for w in widths),
    ]
    for row in rows:
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """JSON without NaN (as null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


async def run(args: argparse.Namespace) -> int:
    names = list(SCENARIOS)
    if args.only:
        wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in SCENARIOS]
        if unknown:
            print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(names)}")
            return 2
        names = [n for n in names if n in wanted]
    LOAD_CLIENT["kind"] = args.client
    workdir = Path(tempfile.mkdtemp(prefix="sms-bridge-bench-"))
    ctx = Context(
        sizes=QUICK if args.quick else FULL,
        workdir=workdir,
        profiler=Profiler(Path(args.profile) if args.profile else None),
        log=lambda text: print(text, flush=True),
    )
    info = machine()
    print(
        f"sms-bridge bench ({'quick' if args.quick else 'full'}): {info['nproc']} x "
        f"{info['cpu_model']}, {info['memory_gib']} GiB; code {info['git']}; work dir {workdir}",
        flush=True,
    )
    results: list[Result] = []
    started = time.monotonic()
    try:
        for name in names:
            print(f"== {name}", flush=True)
            began = time.monotonic()
            try:
                result = await SCENARIOS[name](ctx)
            except Exception as exc:
                traceback.print_exc()
                result = Result(
                    name=name,
                    title=name,
                    figures={},
                    baseline={},
                    ratio=None,
                    target="",
                    checks={},
                    error=f"{type(exc).__name__}: {exc}",
                )
            result.figures.setdefault("wall_seconds", time.monotonic() - began)
            results.append(result)
            verdict = "ERROR" if result.error else ("PASS" if result.passed else "FAIL")
            print(f"   {verdict}: {result.summary or result.error}", flush=True)
    finally:
        if args.keep:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results))
    print(f"\n{len(results)} scenarios in {time.monotonic() - started:.0f} s")
    if args.json:
        document = {
            "mode": "quick" if args.quick else "full",
            "machine": info,
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "scenarios": [r.as_json() for r in results],
        }
        text = json.dumps(_clean(document), indent=2) + "\n"
        await asyncio.to_thread(Path(args.json).write_text, text)
    if any(r.error for r in results):
        return 1
    if args.strict and not all(r.passed for r in results):
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Every performance scenario, against the real service (a subprocess) and "
        "the fakes on 127.0.0.1; prints figures, same-run baselines, ratios and targets.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these scenarios (repeat or comma-separate): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the service during each scenario (raw stacks)"
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator's HTTP client (raw: asyncio streams, ~0.1 ms/request; httpx: "
        "httpx.AsyncClient, ~2 ms/request of the generator's CPU)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, DBs)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

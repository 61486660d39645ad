"""The benchmark runs: ``python -m bench --quick`` finishes, exits 0 and reports every scenario
with numbers. Whether the targets are met is the benchmark's report, not this test's."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "sms_ack",
    "webhook_intake",
    "e2e_inbound",
    "paced_delivery",
    "mapping_scale",
    "pg_replicas",
    "pg_paced_replicas",
    "pg_paced_workers",
    "pg_paced_outages",
    "pg_sms_burst",
}
# The scenarios that need the shared PostgreSQL server (pg_paced_outages runs its own).
NEEDS_PG = {"pg_replicas", "pg_paced_replicas", "pg_paced_workers", "pg_sms_burst"}

pytestmark = pytest.mark.slow


def _pg_required() -> bool:
    return os.environ.get("SMS_BRIDGE_REQUIRE_PG") == "1"


def run_bounded(
    argv: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``argv`` to its end, in a process group of its own; at ``timeout`` the whole group
    (the benchmark's fake host and the services it started) is killed and the test fails
    with what was printed so far. ``subprocess.run``'s timeout killed the benchmark alone,
    and its children were still running 17 minutes later."""
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(
            f"{' '.join(argv[1:])} did not finish in {timeout:.0f} s:\n{out[-3000:]}{err[-3000:]}"
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever the group left behind
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


@pytest.mark.timeout(420)
def test_quick_bench_runs_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOIPBIN_"))}
    completed = run_bounded(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)], env=env, timeout=380
    )
    report = completed.stdout[-4000:] + completed.stderr[-4000:]
    results = json.loads(out.read_text()) if out.exists() else {"scenarios": []}
    by_name = {s["name"]: s for s in results["scenarios"]}
    pg = by_name.get("pg_replicas", {})
    if pg.get("error") and "not reachable" in pg["error"] and not _pg_required():
        # Without a PostgreSQL server that scenario cannot run; the rest must.
        for name in NEEDS_PG:
            by_name.pop(name, None)
        assert completed.returncode == 1, report
        assert all(not s["error"] for s in by_name.values()), report
        pytest.skip("PostgreSQL is not reachable; the other scenarios ran")
    assert completed.returncode == 0, report
    assert set(by_name) == SCENARIOS, report
    for name, scenario in by_name.items():
        assert scenario["error"] is None, f"{name}: {scenario['error']}"
        figures = scenario["figures"]
        assert figures, name
        assert all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in figures.values()
        ), (name, figures)
        assert any(v is not None and math.isfinite(v) and v > 0 for v in figures.values()), name
        assert isinstance(scenario["passed"], bool), name
        assert scenario["target"], name
    assert "scenario" in completed.stdout, report
    assert "PASS" in completed.stdout or "FAIL" in completed.stdout, report


@pytest.mark.timeout(120)
def test_the_intake_microbenchmark_runs_and_counts_its_trips() -> None:
    completed = run_bounded([sys.executable, "-m", "bench.accept", "--calls", "50"], timeout=100)
    assert completed.returncode == 0, completed.stderr[-4000:]
    line = completed.stdout.strip()
    assert line.startswith("accept_send x 50: "), line
    # Each /sms is a handful of statements and one commit, each one trip.
    trips = float(line.split("; ", 1)[1].split(" trips", 1)[0])
    assert 3 <= trips <= 12, line


@pytest.mark.timeout(60)
def test_a_run_past_its_deadline_fails_and_leaves_no_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    spawn = (
        "import subprocess, sys, time;"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid));"
        "time.sleep(600)"
    )
    with pytest.raises(pytest.fail.Exception, match="did not finish in 3 s"):
        run_bounded([sys.executable, "-c", spawn], timeout=3)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{grandchild}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered, the kernel reaps on its own time
    state = Path(f"/proc/{grandchild}/stat")
    assert not state.exists() or state.read_text().split(") ")[1].startswith("Z"), "still running"

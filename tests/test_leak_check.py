"""The end-of-run check of tests/conftest.py: a run that leaves a process running or a file in
its temporary folder fails, and says what it left (a pytest run as a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

LEAKY = """
import subprocess, sys, tempfile

def test_starts_a_process_and_leaves_it() -> None:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])

def test_leaves_a_temporary_folder() -> None:
    tempfile.mkdtemp(prefix="forgotten-")
"""

TIDY = """
import subprocess, sys, tempfile

def test_starts_a_process_and_waits_for_it() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    with tempfile.TemporaryDirectory():
        pass
"""


def run_pytest(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SMS_BRIDGE_TEST_RUN"}
    env["PYTHONPATH"] = str(TESTS)
    # The inner run's temporary folder, and what it leaves there, stay inside this test's.
    (tmp_path / "tmp").mkdir()
    env["TMPDIR"] = str(tmp_path / "tmp")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            os.devnull,
            "-p",
            "conftest",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_probe.py"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.timeout(120)
def test_a_run_that_leaves_a_process_or_a_temporary_folder_fails(tmp_path: Path) -> None:
    ran = run_pytest(tmp_path, LEAKY)
    assert ran.returncode == pytest.ExitCode.TESTS_FAILED, ran.stdout + ran.stderr
    assert "2 passed" in ran.stdout
    assert "the test run left things behind" in ran.stdout
    assert "still running:" in ran.stdout and "time.sleep(600)" in ran.stdout
    assert "left in the temporary folder: forgotten-" in ran.stdout


@pytest.mark.timeout(120)
def test_a_tidy_run_passes(tmp_path: Path) -> None:
    ran = run_pytest(tmp_path, TIDY)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "left things behind" not in ran.stdout

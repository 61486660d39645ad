"""Issue 18, finding 7: LOG_LEVEL, LOG_LIBRARY_LEVEL and LOG_FORMAT that mean nothing are said
before anything starts (the real CLI, as a subprocess); the masking of numbers in every line;
Bolt's one known start-up warning dropped and nothing else; the JSON lines as written.
:func:`logged` runs the set-up of ``sms-bridge`` in a fresh process (tests/rules uses it too)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.logs import MaskNumbers

from harness import write_config
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)

# What ``bot.cli`` does before anything else, then the lines given, each as
# (logger, level, message); level "exception" logs a traceback of RuntimeError(message).
_PROGRAM = """
import json, logging, sys
from bot.config import Settings
from bot.logs import setup_logging
setup_logging(Settings().secrets())
for name, level, message in json.loads(sys.argv[1]):
    logger = logging.getLogger(name)
    if level == "exception":
        try:
            raise RuntimeError(message)
        except RuntimeError:
            logger.exception("it failed")
    else:
        logger.log(logging.getLevelName(level.upper()), message)
"""


def stderr_of(lines: list[tuple[str, str, str]], **env: str | None) -> str:
    """What a process that set up logging as ``sms-bridge`` does wrote to stderr for
    ``lines``, with the test secrets in its environment and ``env`` on top."""
    ran = subprocess.run(
        [sys.executable, "-c", _PROGRAM, json.dumps(lines)],
        env=operator_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stderr


def logged(lines: list[tuple[str, str, str]], **env: str | None) -> list[dict[str, Any]]:
    """The JSON entries of :func:`stderr_of`."""
    return [json.loads(line) for line in stderr_of(lines, **env).splitlines()]


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOG_LEVEL", "verbose"), ("LOG_FORMAT", "yaml"), ("LOG_LIBRARY_LEVEL", "loud")],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_logging_setting_that_means_nothing_is_refused(
    command: str, name: str, value: str, tmp_path: Path
) -> None:
    env = operator_env(DATABASE_URL=f"sqlite:///{tmp_path}/bridge.db", **{name: value})
    ran = sms_bridge([command, "--config", write_config(tmp_path)], env=env)
    assert_said(ran, 2, f"{name}='{value}'", "use one of")
    assert not (tmp_path / "bridge.db").exists(), "it stopped before opening anything"


def test_numbers_are_masked_in_a_library_line_too() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskNumbers())
    logger = logging.getLogger("sqlalchemy.engine.test")
    logger.addHandler(handler)
    try:
        logger.warning("[generated] ('+31612345678', 'C0SMS00001', 1700000000.5, '+3120123456')")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "+31******678" in line and "+31*****456" in line
    assert "1700000000.5" in line, "only numbers written with + are masked"


def test_only_bolts_known_start_up_warning_is_dropped() -> None:
    """Bolt's warning that the client given wins over SLACK_BOT_TOKEN says nothing an operator
    could act on; every other line of Bolt's, and ours with the same words, is kept."""
    from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

    noise = warning_client_prioritized_and_token_skipped()
    entries = logged(
        [
            ("slack_bolt.AsyncApp", "warning", noise),
            ("slack_bolt.AsyncApp", "warning", "Failed to run a middleware"),
            ("bot.web", "warning", noise),
        ]
    )
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("slack_bolt.AsyncApp", "Failed to run a middleware"),
        ("bot.web", noise),
    ]


def test_a_json_line_keeps_its_words_and_booleans_as_written() -> None:
    """Text outside ASCII stays as written (a name is found by searching for it), and the
    ``key=False`` of our lines is the boolean false."""
    line = ("bot.web", "info", "sms-bridge started numbers=1 jobs=False listening=True by=Zoë")
    (raw,) = stderr_of([line]).splitlines()
    assert "by=Zoë" in raw
    entry = json.loads(raw)
    assert entry["jobs"] is False and entry["listening"] is True and entry["numbers"] == 1

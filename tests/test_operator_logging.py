"""Issue 18, finding 7: LOG_LEVEL, LOG_LIBRARY_LEVEL and LOG_FORMAT that mean nothing are said
before anything starts (the real CLI, as a subprocess); the masking of numbers in every line."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.logs import MaskNumbers

from harness import write_config
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)


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

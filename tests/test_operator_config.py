"""Issue 18, finding 8: the gaps of ``app.yaml``'s checks, as ``sms-bridge check`` and
``serve`` say them (the real CLI, as a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.exit_codes import Exit

from harness import CHANNEL
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)


def app_yaml(tmp_path: Path, number: str, indent: str = "    ") -> str:
    path = tmp_path / "app.yaml"
    path.write_text(
        f"region: NL\nnumbers:\n  - number: {number}\n{indent}channel: {CHANNEL}\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize("command", [["check", "--offline"], ["serve"]], ids=" ".join)
def test_an_unquoted_number_is_told_to_be_quoted(command: list[str], tmp_path: Path) -> None:
    env = operator_env(DATABASE_URL=f"sqlite:///{tmp_path}/bridge.db")
    ran = sms_bridge([*command, "--config", app_yaml(tmp_path, "+31201234567")], env=env)
    assert_said(ran, Exit.CONFIG, "numbers.0.number", 'put it in quotes, like "+31201234567"')


def test_a_number_too_short_to_exist_is_refused(tmp_path: Path) -> None:
    ran = sms_bridge(["check", "--offline", "--config", app_yaml(tmp_path, "'+3120123'")], env={})
    assert_said(ran, Exit.CONFIG, "numbers.0.number", "+3120123", "too short")
    assert "Value error" not in ran.text


def test_a_yaml_error_names_the_file(tmp_path: Path) -> None:
    path = app_yaml(tmp_path, "'+31201234567'", indent="   ")  # channel one space short
    ran = sms_bridge(["check", "--offline", "--config", path], env={})
    assert_said(ran, Exit.CONFIG, f'in "{path}", line 4')
    assert "<unicode string>" not in ran.text


def test_check_without_the_secrets_does_not_pass(tmp_path: Path) -> None:
    env = operator_env(SLACK_BOT_TOKEN=None, VOIPBIN_ACCESSKEY=None)
    ran = sms_bridge(["check", "--config", app_yaml(tmp_path, "'+31201234567'")], env=env)
    assert_said(ran, Exit.CONFIG, "valid", "SLACK_BOT_TOKEN is not set", "--offline")

"""app.yaml and the environment: validated before anything starts, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config, load_settings

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    return path


def test_the_example_app_yaml_is_valid() -> None:
    config = load_config(ROOT / "app.yaml", env={})
    assert config.region == "NL"
    assert config.channel_for("+31201234567") == "C0123456789"
    assert config.numbers_for("C0123456789") == ["+31201234567"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("region: NL\nnumbrs: []\n", "numbrs: unknown key"),
        ("numbers:\n  - number: '+31201234567'\n    channel: general\n", "numbers.0.channel"),
        ("numbers:\n  - number: '0201234567'\n    channel: C0123456789\n", "numbers.0.number"),
        ("numbers:\n  - channel: C0123456789\n", "numbers.0.number: required"),
        ("region: Narnia\n", "region"),
        ("alerts:\n  channel: '#alerts'\n", "alerts.channel"),
        ("alerts:\n  stuck_after: 0\n", "alerts.stuck_after"),
        (
            "numbers:\n  - {number: '+31201234567', channel: C0123456789}\n"
            "  - {number: '+31201234567', channel: C0123456780}\n",
            "listed twice",
        ),
        ("- just\n- a list\n", "mapping"),
        ("region: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_files_are_refused_naming_the_key(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), env={})
    assert names in str(error.value)


def test_secrets_are_referenced_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "alerts:\n  channel: ${ALERT_CHANNEL}\n")
    assert load_config(path, env={"ALERT_CHANNEL": "C0ALERTS01"}).alerts.channel == "C0ALERTS01"
    with pytest.raises(ConfigError, match=r"alerts\.channel: environment variable ALERT_CHANNEL"):
        load_config(path, env={})


def test_missing_secrets_are_named() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(env={"SLACK_BOT_TOKEN": "xoxb-1"})
    text = str(error.value)
    assert "SLACK_SIGNING_SECRET is not set" in text
    assert "VOIPBIN_ACCESSKEY is not set" in text
    assert "xoxb-1" not in text


def test_each_slack_mode_needs_its_own_secret_and_not_the_others() -> None:
    common = {"SLACK_BOT_TOKEN": "xoxb-1", "VOIPBIN_ACCESSKEY": "vb_1"}
    socket_mode = load_settings(env=common | {"SLACK_APP_TOKEN": "xapp-1"}, slack="socket_mode")
    assert socket_mode.slack_signing_secret is None
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        socket_mode.require_signing_secret()  # what the HTTP app would use
    with pytest.raises(ConfigError) as http:
        load_settings(env=common | {"SLACK_APP_TOKEN": "xapp-1"})
    assert "SLACK_SIGNING_SECRET is not set" in str(http.value)
    assert "serve --no-public-url" in str(http.value)  # the way out without a public URL
    with pytest.raises(ConfigError) as no_token:
        load_settings(env=common | {"SLACK_SIGNING_SECRET": "s"}, slack="socket_mode")
    assert "SLACK_APP_TOKEN is not set" in str(no_token.value)
    assert "SLACK_SIGNING_SECRET" not in str(no_token.value)
    with pytest.raises(ConfigError, match=r"SLACK_APP_TOKEN must be an app-level token \(xapp-"):
        load_settings(env=common | {"SLACK_APP_TOKEN": "xoxb-2"}, slack="socket_mode")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is set but empty"):
        load_settings(env=common | {"SLACK_SIGNING_SECRET": " "}, slack="socket_mode")
    either = load_settings(env=common, slack=None)  # the doctor's: it says what is missing
    assert either.secrets() == ["xoxb-1", "vb_1"]


def test_settings_defaults_follow_the_design() -> None:
    settings = load_settings(
        env={"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y", "VOIPBIN_ACCESSKEY": "z"}
    )
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.voipbin_api_url == "https://api.voipbin.net/v1.0"
    assert settings.database_url == "sqlite+aiosqlite:///./sms-bridge.db"
    assert settings.voipbin_webhook_secret is None
    assert "z" not in repr(settings)


def test_check_command_validates_without_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--offline", "--config", str(ROOT / "app.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = write(tmp_path, "numbers:\n  - number: '+31201234567'\n    channel: general\n")
    assert main(["check", "--config", str(bad)]) == 2
    assert "numbers.0.channel" in capsys.readouterr().err

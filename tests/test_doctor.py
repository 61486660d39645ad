"""``sms-bridge check``: the offline validation and the online doctor, against the fakes over
real HTTP. Each test reads the report as a person would: the ok / warn / FAIL lines, what they
say to do, the exit code, and that no secret is ever printed."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cli import main
from bot.doctor import webhook_uri_problems
from bot.fakes.slack import DEFAULT_SCOPES, FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from bot.fakes.voipbin import FakeVoipbin

from harness import (
    ACCESSKEY,
    ALERTS,
    BOT_TOKEN,
    CHANNEL,
    OUR_NUMBER,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    free_port,
    write_config,
)

HOOK = "https://sms-bridge.example.com/voipbin/webhook"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, ACCESSKEY, WEBHOOK_SECRET)
CUSTOMER_FIELDS = ("name", "detail", "email", "phone_number", "address")


def put_customer(voipbin: FakeVoipbin, **fields: str) -> None:
    """Set the fake account's customer the way VoIPbin's admin would (all seven fields)."""
    body = {
        "name": "Bike shop",
        "detail": "the shop's account",
        "email": "ops@bikeshop.example",
        "phone_number": "+31201112222",
        "address": "Damrak 1, Amsterdam",
        "webhook_method": "POST",
        "webhook_uri": HOOK,
    } | fields
    with httpx.Client(trust_env=False) as client:
        response = client.put(f"{voipbin.url}/customer", params={"accesskey": ACCESSKEY}, json=body)
    assert response.status_code == 200, response.text


def healthy(voipbin: FakeVoipbin) -> None:
    voipbin.add_number(OUR_NUMBER)
    put_customer(voipbin)


@dataclass
class Doctor:
    """``sms-bridge check --config <app.yaml>`` against the fakes, the environment of a working
    set-up already in place (see the ``doctor`` fixture); a test changes only what it is about."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    slack: FakeSlack
    voipbin: FakeVoipbin
    config: str  # the path of app.yaml (harness.write_config)

    def env(self, **values: str | None) -> None:
        """Set environment variables; ``None`` unsets one."""
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name)
            else:
                self.monkeypatch.setenv(name, value)

    def healthy(self) -> None:
        """The account owns OUR_NUMBER and its webhook points at the bridge."""
        healthy(self.voipbin)

    def run(self, *argv: str) -> tuple[int, pytest.CaptureResult[str]]:
        """Run ``sms-bridge check``; returns the exit code and what it printed."""
        code = main(["check", "--config", self.config, *argv])
        return code, self.capsys.readouterr()

    def check(self, *argv: str) -> tuple[int, list[str]]:
        """Run ``sms-bridge check``; returns the exit code and the finding lines."""
        code, captured = self.run(*argv)
        everything = captured.out + captured.err
        for secret in (*SECRETS, "not-the-secret", "vb_wrong_key"):
            assert secret not in everything
        findings = [
            line for line in captured.out.splitlines() if line.startswith(("ok ", "warn ", "FAIL "))
        ]
        return code, findings


@pytest.fixture
def doctor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
) -> Doctor:
    doctor = Doctor(monkeypatch, capsys, fake_slack, fake_voipbin, write_config(tmp_path))
    doctor.env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.url,
        VOIPBIN_ACCESSKEY=ACCESSKEY,
        VOIPBIN_API_URL=fake_voipbin.url,
        VOIPBIN_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    return doctor


def lines(findings: list[str], level: str) -> list[str]:
    return [f for f in findings if f.startswith(f"{level} ")]


# -- a healthy set-up ---------------------------------------------------------------------


def test_a_healthy_setup_is_all_ok(doctor: Doctor) -> None:
    doctor.healthy()
    code, findings = doctor.check()
    assert code == 0
    assert findings and findings == lines(findings, "ok"), findings
    text = "\n".join(findings)
    assert '"Fake" (T0001)' in text and "@sms-bridge (UBOT)" in text
    assert f"({CHANNEL}, for numbers[0] {OUR_NUMBER})" in text
    assert f"({ALERTS}, alerts.channel)" in text
    assert f"{OUR_NUMBER} (numbers[0]) is an active normal number" in text
    assert f"POST {HOOK}" in text
    assert "VOIPBIN_WEBHOOK_SECRET matches" in text
    # every routed channel was asked about
    asked = {c.params.get("channel") for c in doctor.slack.calls("conversations.info")}
    assert asked == {CHANNEL, ALERTS}
    # listing numbers and reading the customer changed nothing
    assert [r.method for r in doctor.voipbin.requests if r.path == "/v1.0/customer"] == [
        "PUT",
        "GET",
    ]


def test_offline_only_validates_the_file(doctor: Doctor) -> None:
    code, captured = doctor.run("--offline")
    out = captured.out
    assert code == 0
    assert "valid" in out and "online checks skipped (--offline)" in out
    assert doctor.slack.calls() == [] and doctor.voipbin.requests == []


def test_without_the_secrets_the_online_checks_are_skipped_and_the_check_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--config", write_config(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2, "the service could not start, so the check must not pass"
    assert "SLACK_BOT_TOKEN is not set" in out
    assert "online checks skipped" in out


# -- Slack ----------------------------------------------------------------------------------


def test_neither_a_signing_secret_nor_an_app_token_fails(doctor: Doctor) -> None:
    doctor.healthy()
    doctor.env(SLACK_SIGNING_SECRET=None)
    code, findings = doctor.check()
    assert code == 1
    (failure,) = lines(findings, "FAIL")
    assert "neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is set" in failure
    assert "`sms-bridge serve --no-public-url` needs SLACK_APP_TOKEN" in failure
    # everything else is still checked
    assert any("the bot is a member" in f for f in lines(findings, "ok"))
    assert any("VOIPBIN_WEBHOOK_SECRET matches" in f for f in lines(findings, "ok"))


async def run_check(config_path: str, env: dict[str, str]) -> tuple[int, list[str], str]:
    """``sms-bridge check`` as a process (the fakes answer from this test's event loop)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOIPBIN_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "check",
        "--config",
        config_path,
        env=keep | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    findings = [line for line in text.splitlines() if line.startswith(("ok ", "warn ", "FAIL "))]
    return int(process.returncode or 0), findings, text


async def test_a_socket_mode_setup_needs_no_signing_secret_and_its_app_token_is_checked(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    fake_voipbin.add_number(OUR_NUMBER)
    put_customer(fake_voipbin, webhook_uri="")  # the webhook is not used in this mode
    app_token = "xapp-1-A0001-doctor-app-token"
    async with FakeSocketMode(app_token=app_token, forward_to=fake_slack.base) as socket:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": app_token,
            "SLACK_API_URL": socket.url,  # Socket Mode and, passed on, FakeSlack's Web API
            "VOIPBIN_ACCESSKEY": ACCESSKEY,
            "VOIPBIN_API_URL": fake_voipbin.url,
            "VOIPBIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        code, findings, text = await run_check(write_config(tmp_path), env)
        assert code == 0, text
        assert findings == lines(findings, "ok"), findings
        assert (
            "ok    SLACK_APP_TOKEN works: `sms-bridge serve --no-public-url` can connect; "
            "SLACK_SIGNING_SECRET is not needed for it"
        ) in findings
        assert any(f"({CHANNEL}, for numbers[0]" in f for f in findings)
        assert any(f.startswith("ok    VoIPbin webhook not checked") for f in findings)
        assert socket.opened == 1 and socket.connections == 0  # asked, never connected

        code, findings, text = await run_check(
            write_config(tmp_path), env | {"SLACK_APP_TOKEN": "xapp-1-A0001-revoked"}
        )
        assert code == 1, text
        (failure,) = lines(findings, "FAIL")
        assert "Slack refused SLACK_APP_TOKEN (apps.connections.open: invalid_auth)" in failure
        assert "Socket Mode must be on" in failure
        for secret in (app_token, "xapp-1-A0001-revoked", BOT_TOKEN, ACCESSKEY, WEBHOOK_SECRET):
            assert secret not in text


def test_an_invalid_slack_token_fails(doctor: Doctor) -> None:
    doctor.healthy()
    with FakeSlack(bot_token="xoxb-another-token") as other:
        doctor.env(SLACK_API_URL=other.url)
        code, findings = doctor.check()
    assert code == 1
    (failure,) = lines(findings, "FAIL")
    assert "SLACK_BOT_TOKEN" in failure and "invalid_auth" in failure
    assert "Bot User OAuth Token" in failure  # says where to get a good one
    assert any("channels not checked" in w for w in lines(findings, "warn"))
    # VoIPbin is still checked
    assert any("active normal number" in f for f in lines(findings, "ok"))


# How the workspace is set up (FakeSlack's channel model), what the doctor says about CHANNEL.
CHANNEL_SETUPS: dict[str, tuple[Callable[[FakeSlack], None], str, str]] = {
    "the bot was never invited": (
        lambda slack: slack.add_channel(CHANNEL, name="support", bot_member=False),
        "FAIL",
        f"the bot is not a member of #support ({CHANNEL}, for numbers[0] {OUR_NUMBER}): "
        f"invite @sms-bridge to <#{CHANNEL}>",
    ),
    "the bot was removed": (
        lambda slack: slack.remove_bot(CHANNEL),
        "FAIL",
        f"invite @sms-bridge to <#{CHANNEL}>",
    ),
    "the channel was deleted": (
        lambda slack: slack.delete_channel(CHANNEL),
        "FAIL",
        f"Slack channel {CHANNEL} (for numbers[0] {OUR_NUMBER}) was not found",
    ),
    "a private channel the bot is not in": (
        lambda slack: slack.add_channel(CHANNEL, private=True, bot_member=False),
        "FAIL",
        "for a private channel, invite @sms-bridge first",
    ),
    "the channel is archived": (
        lambda slack: slack.add_channel(CHANNEL, name="support", archived=True),
        "FAIL",
        "#support (C0SMS00001, for numbers[0] +31201234567) is archived",
    ),
    "the token cannot read channels": (
        lambda slack: slack.set_scopes(DEFAULT_SCOPES - {"channels:read"}),
        "warn",
        "lacks the channels:read scope",
    ),
}


@pytest.mark.parametrize("setup", list(CHANNEL_SETUPS))
def test_a_channel_the_bot_cannot_use_is_reported(doctor: Doctor, setup: str) -> None:
    arrange, level, says = CHANNEL_SETUPS[setup]
    doctor.healthy()
    arrange(doctor.slack)
    # The alerts channel is a private one the bot was invited to: it stays fine, whatever
    # happened to the routed channel (unless the token cannot read public channels only).
    doctor.slack.add_channel(ALERTS, name="alerts", private=True)
    code, findings = doctor.check()
    assert code == (1 if level == "FAIL" else 0)
    (found,) = [f for f in findings if not f.startswith("ok ")]
    assert found.startswith(f"{level} ") and says in found, found
    assert (
        f"ok    Slack channel #alerts ({ALERTS}, alerts.channel): the bot is a member" in findings
    )


def test_inviting_the_bot_fixes_the_membership_finding(doctor: Doctor) -> None:
    doctor.healthy()
    doctor.slack.add_channel(CHANNEL, name="support", bot_member=False)
    assert doctor.check()[0] == 1
    doctor.slack.invite_bot(CHANNEL)
    code, findings = doctor.check()
    assert code == 0, findings
    where = f"({CHANNEL}, for numbers[0] {OUR_NUMBER})"
    assert f"ok    Slack channel #support {where}: the bot is a member" in findings


def test_an_unreachable_slack_fails(doctor: Doctor) -> None:
    doctor.healthy()
    doctor.env(SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    code, findings = doctor.check()
    assert code == 1
    assert any("unreachable" in f and "SLACK_API_URL" in f for f in lines(findings, "FAIL"))


# -- VoIPbin numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owned", "says"),
    [
        (None, "is not a number of this account"),
        ({"number": "+31209999999"}, "is not a number of this account"),
        ({"number": OUR_NUMBER, "type": "virtual"}, "virtual numbers cannot send or receive SMS"),
        ({"number": OUR_NUMBER, "status": ""}, "is not active"),
        ({"number": OUR_NUMBER, "status": "deleted"}, "is not a number of this account"),
    ],
)
def test_a_number_that_cannot_text_fails(
    doctor: Doctor, owned: dict[str, str] | None, says: str
) -> None:
    if owned is not None:
        doctor.voipbin.add_number(**owned)
    put_customer(doctor.voipbin)
    code, findings = doctor.check()
    assert code == 1
    (failure,) = lines(findings, "FAIL")
    assert f"{OUR_NUMBER} (numbers[0])" in failure and says in failure


def test_numbers_are_found_on_any_page(doctor: Doctor) -> None:
    doctor.voipbin.add_number(OUR_NUMBER)  # the oldest: listed last, on the third page
    for n in range(230):
        doctor.voipbin.add_number(f"+3120300{n:04d}")
    put_customer(doctor.voipbin)
    code, findings = doctor.check()
    assert code == 0, findings
    assert len([r for r in doctor.voipbin.requests if r.path == "/v1.0/numbers"]) == 3


def test_a_refused_access_key_fails(doctor: Doctor) -> None:
    doctor.healthy()
    doctor.env(VOIPBIN_ACCESSKEY="vb_wrong_key")
    code, findings = doctor.check("--fix-webhook", HOOK)
    assert code == 1
    refused, not_fixed = lines(findings, "FAIL")
    assert "refused VOIPBIN_ACCESSKEY" in refused and "INVALID_CREDENTIALS" in refused
    assert "--fix-webhook: not changed" in not_fixed
    assert [r.path for r in doctor.voipbin.requests if r.answered_status == 401] == [
        "/v1.0/numbers"
    ]


# -- VoIPbin webhook --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "level", "says"),
    [
        ({"webhook_uri": ""}, "FAIL", "webhook_uri is not set"),
        (
            {"webhook_uri": "https://old.example.com/hooks/sms?token=abc"},
            "FAIL",
            "https://old.example.com/hooks/sms?... does not end with /voipbin/webhook",
        ),
        ({"webhook_method": "GET"}, "FAIL", "webhook_method is GET"),
        (
            {"webhook_uri": "http://sms-bridge.example.com/voipbin/webhook"},
            "warn",
            "uses http",
        ),
    ],
)
def test_a_wrong_webhook_is_reported(
    doctor: Doctor, customer: dict[str, str], level: str, says: str
) -> None:
    doctor.voipbin.add_number(OUR_NUMBER)
    put_customer(doctor.voipbin, **customer)
    code, findings = doctor.check()
    assert code == (1 if level == "FAIL" else 0)
    (found,) = [f for f in findings if not f.startswith("ok ")]
    assert found.startswith(f"{level} ") and says in found, found
    assert "abc" not in found  # a query string may hold a token: never shown
    assert level == "warn" or "--fix-webhook" in found


def test_webhook_addresses() -> None:
    real = "https://api.voipbin.net/v1.0"
    fake = "http://127.0.0.1:9000/v1.0"
    assert webhook_uri_problems(HOOK, api_url=real) == []
    # localhost may use http; against a fake VoIPbin it is fine
    assert webhook_uri_problems("http://localhost:8080/voipbin/webhook", api_url=fake) == []
    assert webhook_uri_problems("http://127.0.0.1:8080/voipbin/webhook", api_url=fake) == []
    # but the real VoIPbin never delivers to a local or private address
    (local,) = webhook_uri_problems("http://127.0.0.1:8080/voipbin/webhook", api_url=real)
    assert local.level == "warn" and "public" in local.message
    (private,) = webhook_uri_problems("https://10.0.0.5/voipbin/webhook", api_url=real)
    assert private.level == "warn"
    (scheme,) = webhook_uri_problems("ftp://host/voipbin/webhook", api_url=real)
    assert scheme.level == "FAIL"


def test_a_mismatched_webhook_secret_fails_without_showing_either(doctor: Doctor) -> None:
    doctor.healthy()
    doctor.env(VOIPBIN_WEBHOOK_SECRET="not-the-secret")
    code, findings = doctor.check()  # checks no secret shows
    assert code == 1
    (failure,) = lines(findings, "FAIL")
    assert "VOIPBIN_WEBHOOK_SECRET does not match" in failure
    assert "GET /v1.0/customer" in failure


def test_an_unset_webhook_secret_is_a_warning(doctor: Doctor) -> None:
    doctor.healthy()
    doctor.env(VOIPBIN_WEBHOOK_SECRET=None)
    code, findings = doctor.check()
    assert code == 0
    (warning,) = lines(findings, "warn")
    assert "VOIPBIN_WEBHOOK_SECRET is not set" in warning and "unsigned" in warning
    assert "webhook_secret of GET /v1.0/customer" in warning


# -- --fix-webhook ------------------------------------------------------------------------------


def customer_puts(voipbin: FakeVoipbin) -> list[dict[str, Any]]:
    return [r.json for r in voipbin.requests if (r.method, r.path) == ("PUT", "/v1.0/customer")]


def test_fix_webhook_sets_it_and_keeps_the_other_fields(doctor: Doctor) -> None:
    doctor.voipbin.add_number(OUR_NUMBER)
    put_customer(doctor.voipbin, webhook_uri="https://old.example.com/hooks/sms", webhook_method="")
    before = doctor.voipbin.customer
    code, findings = doctor.check("--fix-webhook", HOOK)
    assert code == 0, findings
    assert findings == lines(findings, "ok"), findings
    assert any(
        f.startswith(f"ok    VoIPbin webhook set to POST {HOOK} and read back") for f in findings
    )
    sent = customer_puts(doctor.voipbin)[-1]
    assert set(sent) == {*CUSTOMER_FIELDS, "webhook_method", "webhook_uri"}
    assert {name: sent[name] for name in CUSTOMER_FIELDS} == {
        name: before[name] for name in CUSTOMER_FIELDS
    }
    assert (sent["webhook_method"], sent["webhook_uri"]) == ("POST", HOOK)
    after = doctor.voipbin.customer
    assert (after["webhook_method"], after["webhook_uri"]) == ("POST", HOOK)
    assert {name: after[name] for name in CUSTOMER_FIELDS} == {
        name: before[name] for name in CUSTOMER_FIELDS
    }
    # set-up PUT; then --fix-webhook: GET, PUT of all seven, GET to read it back; then the check
    calls = [r.method for r in doctor.voipbin.requests if r.path == "/v1.0/customer"]
    assert calls == ["PUT", "GET", "PUT", "GET", "GET"]


def test_fix_webhook_refuses_a_url_that_is_not_the_bridges(doctor: Doctor) -> None:
    doctor.healthy()
    puts = len(customer_puts(doctor.voipbin))
    wrong = "https://sms-bridge.example.com/"
    code, findings = doctor.check("--fix-webhook", wrong)
    assert code == 1
    (failure,) = lines(findings, "FAIL")
    assert failure.startswith("FAIL  --fix-webhook: not changed") and "/voipbin/webhook" in failure
    assert len(customer_puts(doctor.voipbin)) == puts
    assert doctor.voipbin.customer["webhook_uri"] == HOOK


def test_fix_webhook_needs_the_online_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path)
    assert main(["check", "--config", path, "--fix-webhook", HOOK, "--offline"]) == 2
    assert main(["check", "--config", path, "--fix-webhook", HOOK]) == 1
    assert "not changed" in capsys.readouterr().out

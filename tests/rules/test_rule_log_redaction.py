"""No secret and no full phone number leaves the process in a log line, whoever wrote it.

``sms-bridge serve`` and ``worker`` set up logging from the environment (``setup_logging``
with ``Settings().secrets()``); a library's line is filtered like ours. Each test runs that
set-up in a fresh process, writes lines through the libraries' own loggers (or ours) and
reads what reached stderr.
"""

from __future__ import annotations

import json

import pytest
from test_operator_logging import logged

from harness import ACCESSKEY, BOT_TOKEN

pytestmark = pytest.mark.timeout(60)


def test_a_secret_in_a_library_line_or_ours_is_hidden() -> None:
    entries = logged(
        [
            ("slack_sdk.web.async_base_client", "warning", f"Authorization: Bearer {BOT_TOKEN}"),
            ("bot.voipbin.client", "error", f"refused key={ACCESSKEY} status=401"),
        ]
    )
    assert [e["message"] for e in entries] == [
        "Authorization: Bearer ***",
        "refused key=*** status=401",
    ]


def test_a_secret_in_a_traceback_is_hidden_and_the_traceback_kept() -> None:
    (entry,) = logged([("bot.jobs.runner", "exception", f"token {BOT_TOKEN} refused")])
    assert entry["message"] == "it failed"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("RuntimeError: token *** refused")
    assert BOT_TOKEN not in json.dumps(entry)


def test_a_secret_that_holds_another_is_hidden_whole() -> None:
    """The signing secret is the start of the webhook secret: hiding the shorter one first
    would leave the rest of the longer one in the line."""
    entries = logged(
        [("httpx", "warning", "secret=hunter22-webhook-tail")],
        SLACK_SIGNING_SECRET="hunter22",
        VOIPBIN_WEBHOOK_SECRET="hunter22-webhook-tail",
    )
    assert [e["message"] for e in entries] == ["secret=***"]


def test_a_secret_of_four_characters_is_hidden_and_a_shorter_one_is_not() -> None:
    """Four characters are enough to be looked for. A shorter value would be replaced inside
    ordinary words of every line (and is no secret worth the name), so it is left alone."""
    entries = logged(
        [("bot.web", "warning", "wxyz and abc")],
        VOIPBIN_WEBHOOK_SECRET="wxyz",
        SLACK_APP_TOKEN="abc",
    )
    assert [e["message"] for e in entries] == ["*** and abc"]


def test_an_empty_webhook_secret_leaves_the_lines_as_written() -> None:
    """``VOIPBIN_WEBHOOK_SECRET=`` (set, but empty) is taken as no secret: nothing to hide."""
    entries = logged(
        [("bot.web", "warning", "webhook refused status=401")], VOIPBIN_WEBHOOK_SECRET=""
    )
    assert [e["message"] for e in entries] == ["webhook refused status=401"]


def test_a_full_number_in_a_library_line_is_masked_unless_log_unmasked() -> None:
    line = ("sqlalchemy.engine.Engine", "warning", "[generated] ('+31612345678', 'C0SMS00001')")
    (masked,) = logged([line])
    assert masked["message"] == "[generated] ('+31******678', 'C0SMS00001')"
    # LOG_UNMASKED=1 is a developer's own machine: the number as it is
    (unmasked,) = logged([line], LOG_UNMASKED="1")
    assert unmasked["message"] == "[generated] ('+31612345678', 'C0SMS00001')"


def test_request_urls_are_not_logged_at_the_info_level_of_the_libraries() -> None:
    """httpx logs every request URL at INFO, and VoIPbin's carry the access key: they are
    shown only at LOG_LIBRARY_LEVEL=debug, not at info, where other libraries' lines are."""
    request = ("httpx", "info", "HTTP Request: POST http://vb.example/v1.0/messages?x=1")
    statement = ("sqlalchemy.engine.Engine", "info", "SELECT 1")
    at_info = logged([request, statement], LOG_LIBRARY_LEVEL="info")
    assert [e["logger"] for e in at_info] == ["sqlalchemy.engine.Engine"]
    at_debug = logged([request, statement], LOG_LIBRARY_LEVEL="debug")
    assert [e["logger"] for e in at_debug] == ["httpx", "sqlalchemy.engine.Engine"]

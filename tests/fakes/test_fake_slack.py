"""FakeSlack, driven by the client the bridge uses: slack_sdk's AsyncWebClient."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Awaitable, Iterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import FakeSlack

CHANNEL = "C0TEST0001"
BLOCK = [{"type": "divider"}]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url)


async def test_posts_threads_and_updates_are_kept_as_slack_would(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    root = await client.chat_postMessage(channel=CHANNEL, text="root")
    assert root["ok"] and root["channel"] == CHANNEL
    assert root["message"]["user"] == "UBOT" and root["message"]["bot_id"] == "BBOT"
    reply = await client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])

    updated = await client.chat_update(
        channel=CHANNEL, ts=root["ts"], text="root, edited", blocks=[{"type": "divider"}]
    )
    assert updated["ts"] == root["ts"]

    assert [m["text"] for m in slack.messages(CHANNEL)] == ["root, edited", "reply"]
    assert slack.messages(CHANNEL)[0]["blocks"] == [{"type": "divider"}]
    assert [m["ts"] for m in slack.thread(CHANNEL, root["ts"])] == [root["ts"], reply["ts"]]
    assert [p["text"] for p in slack.posts(CHANNEL)] == ["root", "reply"]  # as sent
    assert [c.method for c in slack.calls()] == ["chat.postMessage"] * 2 + ["chat.update"]

    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel=CHANNEL, ts="1.000001", text="?")
    assert missing.value.response["error"] == "message_not_found"
    assert slack.calls("chat.update")[-1].failed


async def test_reactions_permalink_and_users(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel=CHANNEL, text="root")
    reply = await client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=root["ts"])

    await client.reactions_add(channel=CHANNEL, name="hourglass", timestamp=reply["ts"])
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel=CHANNEL, name="hourglass", timestamp=reply["ts"])
    await client.reactions_remove(channel=CHANNEL, name="hourglass", timestamp=reply["ts"])
    with pytest.raises(SlackApiError, match="no_reaction"):
        await client.reactions_remove(channel=CHANNEL, name="hourglass", timestamp=reply["ts"])
    await client.reactions_add(channel=CHANNEL, name="white_check_mark", timestamp="9.000001")
    assert slack.reactions(CHANNEL, "9.000001") == ["white_check_mark"]  # a person's message

    # chat.getPermalink is a GET with a query string from AsyncWebClient.
    link = await client.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"])
    digits = reply["ts"].replace(".", "")
    assert link["permalink"] == (
        f"https://fake.slack.test/archives/{CHANNEL}/p{digits}?thread_ts={root['ts']}&cid={CHANNEL}"
    )

    slack.set_user("U0ANNA", "Anna", real_name="Anna de Vries")
    user = await client.users_info(user="U0ANNA")
    assert user["user"]["profile"] == {"display_name": "Anna", "real_name": "Anna de Vries"}
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="U0NOBODY")

    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T0001")


async def test_history_and_replies_page_and_carry_metadata_on_request(
    client: AsyncWebClient,
) -> None:
    metadata = {"event_type": "sms_thread", "event_payload": {"key": "k1"}}
    first = await client.chat_postMessage(channel=CHANNEL, text="one", metadata=metadata)
    await client.chat_postMessage(channel=CHANNEL, text="in thread", thread_ts=first["ts"])
    await client.chat_postMessage(channel=CHANNEL, text="two")
    await client.chat_update(channel=CHANNEL, ts=first["ts"], text="one", blocks=[_section("1")])

    page = await client.conversations_history(channel=CHANNEL, limit=1)
    assert [m["text"] for m in page["messages"]] == ["two"]  # newest first, no replies
    assert page["has_more"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(
        channel=CHANNEL, cursor=cursor, include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["one"]
    assert rest["messages"][0]["metadata"] == metadata  # kept through the update
    assert rest["messages"][0]["blocks"] == [_section("1")]  # as updated
    plain = await client.conversations_history(channel=CHANNEL)
    assert all("metadata" not in m for m in plain["messages"])

    replies = await client.conversations_replies(channel=CHANNEL, ts=first["ts"])
    assert [m["text"] for m in replies["messages"]] == ["one", "in thread"]
    with pytest.raises(SlackApiError, match="thread_not_found"):
        await client.conversations_replies(channel=CHANNEL, ts="1.000001")


async def test_a_scripted_429_reaches_the_client_with_retry_after(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.fail_next(
        "chat.postMessage",
        status=429,
        headers={"Retry-After": "7"},
        body={"ok": False, "error": "ratelimited"},
    )
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="too soon")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert slack.messages(CHANNEL) == []

    await client.chat_postMessage(channel=CHANNEL, text="later")  # the fault was used up
    first, second = slack.calls("chat.postMessage")
    assert (first.failed, first.answered_status) == (True, 429)
    assert (second.failed, second.answered_status) == (False, 200)
    assert [p["text"] for p in slack.posts()] == ["later"]


async def test_scripted_errors_and_a_post_that_landed_before_its_500(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", body={"ok": False, "error": "not_in_channel"}, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel=CHANNEL, text="x")
        assert refused.value.response.status_code == 200
        assert refused.value.response["error"] == "not_in_channel"

    slack.fail_next("chat.postMessage", status=500, create_first=True)
    with pytest.raises(SlackApiError) as broken:
        await client.chat_postMessage(channel=CHANNEL, text="posted anyway")
    assert broken.value.response.status_code == 500
    assert [m["text"] for m in slack.messages(CHANNEL)] == ["posted anyway"]
    assert slack.posts() == []  # no successful call


async def test_a_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    intruder = AsyncWebClient(token="xoxb-wrong", base_url=slack.url)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await intruder.chat_postMessage(channel=CHANNEL, text="hi")
    assert slack.messages(CHANNEL) == []
    assert slack.calls()[0].failed


async def test_the_rate_limit_is_a_token_bucket_per_channel(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.set_rate_limit("chat.postMessage", per_second=0.5, burst=2)
    for n in range(2):
        await client.chat_postMessage(channel=CHANNEL, text=f"burst {n}")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="over")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "2"  # ceil(1 token / 0.5 per s)
    await client.chat_postMessage(channel="C0OTHER001", text="another channel")
    assert slack.rate_limited_count == 1

    slack.set_rate_limit(None)
    await client.chat_postMessage(channel=CHANNEL, text="free again")


async def test_response_url_posts_are_recorded(slack: FakeSlack) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await http.post(f"{slack.base}/response/abc", json={"text": "done"})
    assert answer.status_code == 200
    (call,) = slack.calls("response_url")
    assert call.params == {"text": "done", "path": "/response/abc"}


async def test_wait_for_times_out_with_a_summary(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=CHANNEL, text="only this")
    slack.wait_for(lambda s: len(s.posts()) == 1, timeout=1)
    with pytest.raises(AssertionError, match=r"chat\.postMessage C0TEST0001 -> 200"):
        slack.wait_for(lambda s: len(s.posts()) == 2, timeout=0.1)

    slack.reset()
    assert slack.calls() == [] and slack.messages(CHANNEL) == []


def test_standalone_process_with_its_control_api() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.fakes.slack", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/")
        base = url.removesuffix("/api/")
        with httpx.Client(trust_env=False, timeout=5) as http:
            scripted = http.post(
                f"{base}/_fake/fail_next", json={"method": "chat.postMessage", "status": 503}
            )
            assert scripted.status_code == 200
            headers = {"Authorization": "Bearer xoxb-test"}
            failed = http.post(f"{url}chat.postMessage", json={"channel": "C1"}, headers=headers)
            assert failed.status_code == 503
            calls = http.get(f"{base}/_fake/calls").json()["calls"]
        assert [(c["method"], c["answered_status"]) for c in calls] == [("chat.postMessage", 503)]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0


async def test_channel_membership_is_one_model_every_method_answers_from(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    async def error_of(call: Awaitable[Any]) -> str:
        with pytest.raises(SlackApiError) as failed:
            await call
        return str(failed.value.response["error"])

    slack.add_channel("C0IN000001", name="support", members=["U0ANNA"])
    slack.add_channel("C0OUT00001", name="sales", members=["U0ANNA"], bot_member=False)
    slack.add_channel("G0PRIV0001", name="secret", members=["U0ANNA"], bot_member=False)
    slack.add_channel("C0OLD00001", name="old", archived=True)

    info = (await client.conversations_info(channel="C0IN000001"))["channel"]
    assert (info["name"], info["is_member"], info["is_private"]) == ("support", True, False)
    assert (await client.conversations_info(channel="C0OUT00001"))["channel"]["is_member"] is False
    members = await client.conversations_members(channel="C0OUT00001")
    assert members["members"] == ["U0ANNA"]  # a public channel's members, bot or not
    mine = await client.users_conversations(types="public_channel,private_channel")
    assert [c["id"] for c in mine["channels"]] == ["C0IN000001", "C0OLD00001"]
    live = await client.users_conversations(exclude_archived=True)
    assert [c["id"] for c in live["channels"]] == ["C0IN000001"]
    anna = await client.users_conversations(user="U0ANNA", types="public_channel,private_channel")
    assert {c["id"] for c in anna["channels"]} == {"C0IN000001", "C0OUT00001", "G0PRIV0001"}

    # Posting: only where the bot is; a private channel it is not in does not exist for it.
    assert (await client.chat_postMessage(channel="C0IN000001", text="hi"))["ok"]
    assert await error_of(client.chat_postMessage(channel="C0OUT00001", text="x")) == (
        "not_in_channel"
    )
    assert await error_of(client.chat_postMessage(channel="C0OLD00001", text="x")) == "is_archived"
    assert await error_of(client.conversations_info(channel="G0PRIV0001")) == "channel_not_found"

    # /invite, /remove and a deleted channel change every answer at once.
    slack.invite_bot("C0OUT00001")
    assert (await client.conversations_info(channel="C0OUT00001"))["channel"]["is_member"] is True
    assert (await client.chat_postMessage(channel="C0OUT00001", text="now"))["ok"]
    slack.remove_bot("C0IN000001")
    assert "UBOT" not in (await client.conversations_members(channel="C0IN000001"))["members"]
    slack.delete_channel("C0IN000001")
    assert await error_of(client.conversations_info(channel="C0IN000001")) == "channel_not_found"
    assert await error_of(client.chat_postMessage(channel="C0IN000001", text="x")) == (
        "channel_not_found"
    )

    # A channel nobody set up is public with the bot in it; scopes are checked per kind.
    assert (await client.conversations_info(channel="C0NEW00001"))["channel"]["is_member"]
    slack.set_scopes({"chat:write", "groups:read"})
    assert await error_of(client.conversations_info(channel="C0NEW00001")) == "missing_scope"
    assert slack.calls("conversations.info")[-1].failed
    slack.invite_bot("G0PRIV0001")
    assert (await client.conversations_info(channel="G0PRIV0001"))["channel"]["is_private"]


async def test_views_publish_keeps_each_users_home_view(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    published = await client.views_publish(user_id="U0ANNA", view=home)
    assert published["view"]["type"] == "home" and published["view"]["id"].startswith("V")
    later = {"type": "home", "blocks": [{"type": "header", "text": _plain("Numbers")}]}
    await client.views_publish(user_id="U0ANNA", view=later)
    assert slack.home_view("U0ANNA") == later | _ids(slack.home_view("U0ANNA"))
    assert slack.home_view("U0BRAM") is None
    assert [c.params["user_id"] for c in slack.calls("views.publish")] == ["U0ANNA"] * 2

    with pytest.raises(SlackApiError) as modal:
        await client.views_publish(user_id="U0ANNA", view={"type": "modal", "blocks": BLOCK})
    assert modal.value.response["error"] == "invalid_arguments"
    assert slack.calls("views.publish")[-1].failed


def _ids(view: dict[str, Any] | None) -> dict[str, Any]:
    assert view is not None
    return {"id": view["id"], "team_id": view["team_id"]}


async def test_views_open_needs_a_trigger_and_a_modal_and_is_recorded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    modal = {"type": "modal", "title": _plain("Send SMS"), "blocks": BLOCK}
    opened = await client.views_open(trigger_id="1.2.3", view=modal)
    assert opened["view"]["id"].startswith("V") and opened["view"]["title"] == modal["title"]
    assert slack.calls("views.open")[0].params == {"trigger_id": "1.2.3", "view": modal}
    with pytest.raises(SlackApiError) as no_trigger:
        await client.views_open(trigger_id="", view=modal)
    assert no_trigger.value.response["error"] == "invalid_trigger_id"
    with pytest.raises(SlackApiError) as home:
        await client.views_open(trigger_id="1.2.3", view={"type": "home", "blocks": BLOCK})
    assert home.value.response["error"] == "invalid_arguments"


# -- what Slack refuses ------------------------------------------------------------------------
# Limits as documented at https://api.slack.com/reference/block-kit/blocks,
# https://api.slack.com/reference/block-kit/block-elements,
# https://api.slack.com/reference/block-kit/composition-objects,
# https://api.slack.com/reference/surfaces/views and https://api.slack.com/methods/chat.postMessage
# (text: "truncated beyond 40,000", msg_too_long). Each is tried at the limit (accepted) and one
# over (refused, with the pointer of what broke).


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": _plain(text), "action_id": "go"} | extra


def _select(options: int = 1, text: str = "one", value: str = "1", **extra: Any) -> dict[str, Any]:
    option = {"text": _plain(text), "value": value}
    return {
        "type": "static_select",
        "action_id": "pick",
        "options": [option | {"value": f"{value[:-3]}{n:03d}"} for n in range(options)]
        if options > 1
        else [option],
    } | extra


def _sections_of(total: int) -> list[dict[str, Any]]:
    """Sections whose texts add up to ``total`` (over 9,000), none over 3,000."""
    rest = total - 9000
    return [_section("s" * 3000)] * 3 + [
        _section("s" * (rest // 2)),
        _section("s" * (rest - rest // 2)),
    ]


def _message(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"channel": CHANNEL, "text": "fallback", "blocks": list(blocks)}


def _modal(blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    view = {"type": "modal", "title": _plain("Send SMS"), "blocks": blocks or BLOCK}
    return {"trigger_id": "1.2.3", "view": view | extra}


def _input(**element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "body",
        "label": _plain("Text"),
        "element": {"type": "plain_text_input", "action_id": "text"} | element,
    }


# (case, Web API method, params with n where the limit is, the limit, Slack's error, pointer)
LIMITS: list[tuple[str, str, Any, int, str, str]] = [
    # "&amp;" is 5 characters as sent, and Slack counts it so: 600 of them are exactly 3,000.
    (
        "section text, escapes counted",
        "chat.postMessage",
        lambda n: _message(_section("&amp;" * (n // 5) + "x" * (n % 5))),
        3000,
        "invalid_blocks",
        "/blocks/0/text/text",
    ),
    (
        "section fields",
        "chat.postMessage",
        lambda n: _message({"type": "section", "fields": [_plain("f")] * n}),
        10,
        "invalid_blocks",
        "/blocks/0/fields",
    ),
    (
        "section field text",
        "chat.postMessage",
        lambda n: _message({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * n}]}),
        2000,
        "invalid_blocks",
        "/blocks/0/fields/0/text",
    ),
    (
        "header text",
        "chat.postMessage",
        lambda n: _message({"type": "header", "text": _plain("h" * n)}),
        150,
        "invalid_blocks",
        "/blocks/0/text/text",
    ),
    (
        "context elements",
        "chat.postMessage",
        lambda n: _message({"type": "context", "elements": [_plain("c")] * n}),
        10,
        "invalid_blocks",
        "/blocks/0/elements",
    ),
    (
        "actions elements",
        "chat.postMessage",
        lambda n: _message(
            {"type": "actions", "elements": [_button(action_id=f"a{i}") for i in range(n)]}
        ),
        25,
        "invalid_blocks",
        "/blocks/0/elements",
    ),
    (
        "button text",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_button("b" * n)]}),
        75,
        "invalid_blocks",
        "/blocks/0/elements/0/text/text",
    ),
    (
        "button value",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_button(value="v" * n)]}),
        2000,
        "invalid_blocks",
        "/blocks/0/elements/0/value",
    ),
    (
        "button url",
        "chat.postMessage",
        lambda n: _message(
            {"type": "actions", "elements": [_button(url="https://x.test/" + "u" * (n - 15))]}
        ),
        3000,
        "invalid_blocks",
        "/blocks/0/elements/0/url",
    ),
    (
        "action_id",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_button(action_id="a" * n)]}),
        255,
        "invalid_blocks",
        "/blocks/0/elements/0/action_id",
    ),
    (
        "block_id",
        "chat.postMessage",
        lambda n: _message({"type": "divider", "block_id": "b" * n}),
        255,
        "invalid_blocks",
        "/blocks/0/block_id",
    ),
    (
        "static_select options",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_select(options=n, value="v000")]}),
        100,
        "invalid_blocks",
        "/blocks/0/elements/0/options",
    ),
    (
        "option text",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_select(text="o" * n)]}),
        75,
        "invalid_blocks",
        "/blocks/0/elements/0/options/0/text/text",
    ),
    (
        "option value",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_select(value="v" * n)]}),
        150,
        "invalid_blocks",
        "/blocks/0/elements/0/options/0/value",
    ),
    (
        "placeholder",
        "chat.postMessage",
        lambda n: _message({"type": "actions", "elements": [_select(placeholder=_plain("p" * n))]}),
        150,
        "invalid_blocks",
        "/blocks/0/elements/0/placeholder/text",
    ),
    (
        "blocks per message",
        "chat.postMessage",
        lambda n: _message(*BLOCK * n),
        50,
        "invalid_blocks",
        "/blocks",
    ),
    (
        "message text",
        "chat.postMessage",
        lambda n: {"channel": CHANNEL, "text": "t" * n},
        40_000,
        "msg_too_long",
        "/text",
    ),
    (
        "text of all blocks together",
        "chat.postMessage",
        lambda n: _message(*_sections_of(n)),
        12_000,  # MAX_BLOCKS_TEXT: see bot/fakes/slack_limits.py for where it comes from
        "msg_blocks_too_long",
        "/blocks",
    ),
    (
        "modal title",
        "views.open",
        lambda n: _modal(title=_plain("t" * n)),
        24,
        "invalid_arguments",
        "/view/title/text",
    ),
    (
        "modal submit",
        "views.open",
        lambda n: _modal([_input()], submit=_plain("s" * n)),
        24,
        "invalid_arguments",
        "/view/submit/text",
    ),
    (
        "modal close",
        "views.open",
        lambda n: _modal(close=_plain("c" * n)),
        24,
        "invalid_arguments",
        "/view/close/text",
    ),
    (
        "private_metadata",
        "views.open",
        lambda n: _modal(private_metadata="m" * n),
        3000,
        "invalid_arguments",
        "/view/private_metadata",
    ),
    (
        "callback_id",
        "views.open",
        lambda n: _modal(callback_id="c" * n),
        255,
        "invalid_arguments",
        "/view/callback_id",
    ),
    (
        "plain_text_input max_length",
        "views.open",
        lambda n: _modal([_input(max_length=n)], submit=_plain("Send")),
        3000,
        "invalid_arguments",
        "/view/blocks/0/element/max_length",
    ),
    (
        "blocks per modal",
        "views.open",
        lambda n: _modal(BLOCK * n),
        100,
        "invalid_arguments",
        "/view/blocks",
    ),
    (
        "blocks per home view",
        "views.publish",
        lambda n: {"user_id": "U0ANNA", "view": {"type": "home", "blocks": BLOCK * n}},
        100,
        "invalid_arguments",
        "/view/blocks",
    ),
]


@pytest.fixture
def unpaced(slack: FakeSlack) -> FakeSlack:
    """The fake without pacing: these tests post far more than 1/s to one channel, and are
    about what Slack refuses, not about how fast."""
    slack.set_rate_limit(None)
    return slack


@pytest.mark.parametrize(
    ("method", "make", "limit", "error", "pointer"),
    [pytest.param(*case[1:], id=case[0]) for case in LIMITS],
)
async def test_each_limit_is_accepted_at_its_boundary_and_refused_one_over(
    unpaced: FakeSlack,
    client: AsyncWebClient,
    method: str,
    make: Any,
    limit: int,
    error: str,
    pointer: str,
) -> None:
    accepted = await client.api_call(method, json=make(limit))
    assert accepted["ok"], accepted.data
    with pytest.raises(SlackApiError) as refused:
        await client.api_call(method, json=make(limit + 1))
    answer = refused.value.response
    assert answer.status_code == 200 and answer["error"] == error
    assert any(e.startswith(f"{pointer}: ") for e in answer["errors"]), answer["errors"]
    messages = answer["response_metadata"]["messages"]
    assert messages == [f"[ERROR] {e}" for e in answer["errors"]]
    last = unpaced.calls(method)[-1]
    assert (last.failed, last.error) == (True, error)
    if method == "chat.postMessage":
        assert len(unpaced.messages(CHANNEL)) == 1  # the refused one was not kept


async def test_a_repeated_block_id_or_action_id_is_refused(
    unpaced: FakeSlack, client: AsyncWebClient
) -> None:
    twice = _message({"type": "divider", "block_id": "b1"}, {"type": "divider", "block_id": "b1"})
    with pytest.raises(SlackApiError) as blocks:
        await client.api_call("chat.postMessage", json=twice)
    assert blocks.value.response["errors"] == ["/blocks/1/block_id: 'b1' repeats block 0"]

    buttons = {"type": "actions", "elements": [_button(), _button("Again")]}
    with pytest.raises(SlackApiError) as actions:
        await client.api_call("chat.postMessage", json=_message(buttons))
    assert actions.value.response["errors"] == [
        "/blocks/0/elements/1/action_id: 'go' repeats element 0"
    ]
    # The same action_id in two blocks is fine (unique within a block, as Slack says).
    other = {"type": "actions", "block_id": "b2", "elements": [_button()]}
    assert (
        await client.api_call(
            "chat.postMessage", json=_message(buttons | {"elements": [_button()]}, other)
        )
    )["ok"]
    assert unpaced.messages(CHANNEL)[0]["blocks"][1] == other


async def test_unknown_blocks_and_fields_are_refused_as_slack_sdk_reads_them(
    unpaced: FakeSlack, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("chat.postMessage", json=_message({"type": "sparkle"}))
    assert unknown.value.response["errors"] == [
        "/blocks/0/type: 'sparkle' is not a Block Kit block"
    ]
    with pytest.raises(SlackApiError) as extra:
        await client.api_call("chat.postMessage", json=_message({"type": "divider", "colour": 1}))
    assert extra.value.response["error"] == "invalid_blocks"
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "*no*"}}
    with pytest.raises(SlackApiError) as mrkdwn_header:
        await client.api_call("chat.postMessage", json=_message(header))
    assert mrkdwn_header.value.response["errors"] == [
        "/blocks/0/text/type: 'mrkdwn', must be plain_text"
    ]
    assert unpaced.messages(CHANNEL) == []


async def test_a_refused_update_changes_nothing(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel=CHANNEL, text="root", blocks=[_section("root")])
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(
            channel=CHANNEL, ts=root["ts"], text="edited", blocks=[_section("x" * 3001)]
        )
    assert refused.value.response["error"] == "invalid_blocks"
    (kept,) = slack.messages(CHANNEL)
    assert (kept["text"], kept["blocks"]) == ("root", [_section("root")])
    assert slack.calls("chat.update")[-1].failed


async def test_blocks_without_a_text_fallback_are_accepted_with_a_warning(
    slack: FakeSlack,
) -> None:
    # Slack accepts them (chat.postMessage: "the text field is not enforced as required when
    # using blocks"); slack_sdk warns client-side. The fake records the warning so a test can
    # assert there is none. Sent with httpx: AsyncWebClient would raise its UserWarning here.
    headers = {"Authorization": "Bearer xoxb-test"}
    async with httpx.AsyncClient(trust_env=False) as http:
        bare = {"channel": CHANNEL, "blocks": [_section("only blocks")]}
        answer = await http.post(f"{slack.url}chat.postMessage", json=bare, headers=headers)
        assert answer.json()["ok"]
        full = bare | {"text": "only blocks"}
        await http.post(f"{slack.url}chat.postMessage", json=full, headers=headers)
    first, second = slack.calls("chat.postMessage")
    assert first.warnings == ("missing_text_in_blocks",) and not first.failed
    assert second.warnings == ()
    assert slack.warned() == [first]


async def test_a_response_url_post_slack_refuses_is_a_400(slack: FakeSlack) -> None:
    # Response URLs answer like incoming webhooks: an HTTP error with the code as plain text
    # (github.com/slackapi/java-slack-sdk/issues/1017: "a 400 invalid_blocks back").
    async with httpx.AsyncClient(trust_env=False) as http:
        body = {"text": "done", "blocks": [_section("x" * 3001)]}
        answer = await http.post(f"{slack.base}/response/abc", json=body)
        assert (answer.status_code, answer.text) == (400, "invalid_blocks")
        fine = await http.post(f"{slack.base}/response/abc", json={"text": "done"})
        assert fine.status_code == 200
    refused, accepted = slack.calls("response_url")
    assert (refused.failed, refused.answered_status, refused.error) == (True, 400, "invalid_blocks")
    assert not accepted.failed


async def test_a_home_view_slack_refuses_is_not_published(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.views_publish(user_id="U0ANNA", view={"type": "home", "blocks": BLOCK})
    with pytest.raises(SlackApiError):
        await client.views_publish(user_id="U0ANNA", view={"type": "home", "blocks": BLOCK * 101})
    shown = slack.home_view("U0ANNA")
    assert shown is not None and shown["blocks"] == BLOCK


def test_app_answers_are_checked_with_the_same_rules() -> None:
    """The harness fails a test whose app answered Slack with what Slack refuses (a slash
    command's message, a view_submission's response_action)."""
    from harness import check_ack

    def answer(body: Any) -> httpx.Response:
        return httpx.Response(200, json=body)

    check_ack(httpx.Response(200))  # an empty ack
    check_ack(answer({"response_action": "errors", "errors": {"body": "Too long"}}))
    check_ack(answer({"response_action": "update", "view": _modal()["view"]}))
    check_ack(answer({"text": "ok", "blocks": [_section("ok")]}))
    with pytest.raises(AssertionError, match=r"/view/title/text: 25 characters, at most 24"):
        check_ack(
            answer({"response_action": "push", "view": _modal(title=_plain("t" * 25))["view"]})
        )
    with pytest.raises(AssertionError, match=r"/errors: must be a non-empty object"):
        check_ack(answer({"response_action": "errors", "errors": {}}))
    with pytest.raises(AssertionError, match=r"/blocks/0/text/text: 3,001 characters"):
        check_ack(answer({"text": "t", "blocks": [_section("x" * 3001)]}))
    with pytest.raises(AssertionError, match="missing_text_in_blocks"):
        check_ack(answer({"blocks": [_section("no fallback")]}))
    check_ack(httpx.Response(401, json={"blocks": "not checked: Slack's request was refused"}))


# -- pacing ------------------------------------------------------------------------------------


class Clock:
    """The fake's rate-limit time, moved by the test (no test waits a second)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_posts_are_paced_per_channel_by_default_as_slack_does() -> None:
    # https://api.slack.com/methods/chat.postMessage#rate_limiting: "1 message per second per
    # channel, short bursts allowed"; https://api.slack.com/apis/rate-limits: HTTP 429 with
    # Retry-After and {"ok": false, "error": "ratelimited"}.
    clock = Clock()
    with FakeSlack(clock=clock) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.url)
        for n in range(3):
            await client.chat_postMessage(channel=CHANNEL, text=f"burst {n}")
        with pytest.raises(SlackApiError) as limited:
            await client.chat_postMessage(channel=CHANNEL, text="over")
        answer = limited.value.response
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
        assert answer.data == {"ok": False, "error": "ratelimited"}
        await client.chat_postMessage(channel="C0OTHER001", text="another channel")

        clock.now += 1.0  # Retry-After later
        await client.chat_postMessage(channel=CHANNEL, text="after retry-after")
        assert [m["text"] for m in slack.messages(CHANNEL)] == [
            "burst 0",
            "burst 1",
            "burst 2",
            "after retry-after",
        ]
        assert slack.rate_limited_count == 1
        assert [c.answered_status for c in slack.calls("chat.postMessage")].count(429) == 1


async def test_updates_are_limited_per_minute_across_the_workspace() -> None:
    # chat.update is Tier 3 (https://api.slack.com/apis/rate-limits: "50+ per minute"), per
    # workspace: every channel draws on the same bucket.
    clock = Clock()
    with FakeSlack(clock=clock) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.url)
        roots = []
        for channel in ("C0ONE00001", "C0TWO00001"):
            roots.append(
                (channel, (await client.chat_postMessage(channel=channel, text="r"))["ts"])
            )
        for n in range(50):
            channel, ts = roots[n % 2]
            await client.chat_update(channel=channel, ts=ts, text=f"edit {n}")
        with pytest.raises(SlackApiError) as limited:
            await client.chat_update(channel=roots[0][0], ts=roots[0][1], text="edit 50")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "2"  # ceil(1 / (50/60 per s))
        assert slack.messages(roots[0][0])[0]["text"] == "edit 48"  # unchanged by the 429

        clock.now += 2.0
        await client.chat_update(channel=roots[0][0], ts=roots[0][1], text="edit 50")
        assert slack.messages(roots[0][0])[0]["text"] == "edit 50"
        assert slack.rate_limited_count == 1


async def test_a_limit_can_be_changed_or_lifted_by_a_test(slack: FakeSlack) -> None:
    slack.set_rate_limit("chat.update", per_second=1.0, burst=1)
    assert slack.rate_limits()["chat.update"].burst == 1
    assert slack.rate_limits()["chat.update"].per == "workspace"
    slack.set_rate_limit("chat.update", None)
    assert "chat.update" not in slack.rate_limits()
    assert "chat.postMessage" in slack.rate_limits()
    slack.set_rate_limit(None)
    assert slack.rate_limits() == {}
    with pytest.raises(ValueError, match="bad rate limit"):
        slack.set_rate_limit("chat.update", per_second=0)

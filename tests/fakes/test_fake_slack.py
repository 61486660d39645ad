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

    page = await client.conversations_history(channel=CHANNEL, limit=1)
    assert [m["text"] for m in page["messages"]] == ["two"]  # newest first, no replies
    assert page["has_more"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(
        channel=CHANNEL, cursor=cursor, include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["one"]
    assert rest["messages"][0]["metadata"] == metadata
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

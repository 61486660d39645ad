"""The WebSocket fakes, driven by aiohttp's client (what the bridge uses): FakeVoipbinWs
authenticates and checks topics as VoIPbin's source does, and both fakes pass what they do not
serve on to the REST fake behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from bot.fakes.voipbin import FakeVoipbin
from bot.fakes.voipbin_ws import FakeVoipbinWs

from harness import ACCESSKEY, BOT_TOKEN

APP_TOKEN = "xapp-1-A0001-fakesockets"


@pytest.fixture
async def ws_fake(fake_voipbin: FakeVoipbin) -> AsyncIterator[FakeVoipbinWs]:
    async with FakeVoipbinWs(
        accesskey=ACCESSKEY, customer_id=fake_voipbin.customer_id, forward_to=fake_voipbin.base
    ) as fake:
        yield fake


async def handshake(
    url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """The status of an upgrade attempt (101 when it upgraded) and, when it was refused, the
    reason in VoIPbin's error envelope (asked again without the upgrade)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, params=params, headers=headers) as ws:
                await ws.close()
                return 101, ""
        except aiohttp.WSServerHandshakeError as exc:
            status = exc.status
        if status == 200:
            return status, ""
        async with session.get(url, params=params, headers=headers) as response:
            assert response.status == status
            return status, str((await response.json())["error"]["reason"])


async def test_the_socket_takes_the_access_key_as_every_v1_route_does(
    ws_fake: FakeVoipbinWs,
) -> None:
    # §1.1: ?accesskey= or cookie; a JWT (?token=, cookie, Bearer) is looked at first, and
    # an access key is never read from a header.
    assert await handshake(ws_fake.url, params={"accesskey": ACCESSKEY}) == (101, "")
    assert await handshake(ws_fake.url, headers={"Cookie": f"accesskey={ACCESSKEY}"}) == (101, "")
    assert await handshake(ws_fake.url) == (401, "AUTHENTICATION_REQUIRED")
    assert await handshake(ws_fake.url, params={"accesskey": "vb_wrong"}) == (
        401,
        "INVALID_CREDENTIALS",
    )
    both = {"accesskey": ACCESSKEY, "token": "eyJhbGciOiJIUzI1NiJ9.e30.x"}
    assert await handshake(ws_fake.url, params=both) == (401, "INVALID_CREDENTIALS")
    bearer = {"Authorization": f"Bearer {ACCESSKEY}"}
    assert await handshake(ws_fake.url, headers=bearer) == (401, "INVALID_CREDENTIALS")
    assert ws_fake.connections == 2


async def test_an_older_voipbin_answers_an_access_key_without_upgrading(
    fake_voipbin: FakeVoipbin,
) -> None:
    async with FakeVoipbinWs(accesskey=ACCESSKEY, agents_only=True) as old:
        assert await handshake(old.url, params={"accesskey": ACCESSKEY}) == (200, "")
        assert await handshake(old.url, params={"accesskey": "vb_wrong"}) == (
            401,
            "INVALID_CREDENTIALS",
        )


async def test_a_topic_of_another_customer_ends_the_connection(
    fake_voipbin: FakeVoipbin, ws_fake: FakeVoipbinWs
) -> None:
    mine = f"customer_id:{fake_voipbin.customer_id}:message"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_fake.url, params={"accesskey": ACCESSKEY}) as ws,
    ):
        await ws.send_json({"type": "subscribe", "topics": [mine]})
        await ws_fake.wait_subscribed()
        other = "customer_id:00000000-0000-0000-0000-00000000beef:message"
        await ws.send_json({"type": "subscribe", "topics": [other]})
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await ws_fake.wait_for(lambda f: f.open_connections == 0)
    assert [s["topics"] for s in ws_fake.subscribes] == [[mine]]


async def test_what_the_socket_fakes_do_not_serve_reaches_the_rest_fakes(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, ws_fake: FakeVoipbinWs
) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{ws_fake.api_url}/messages"
        async with session.get(url, params={"accesskey": ACCESSKEY}) as response:
            assert response.status == 200
            assert (await response.json())["result"] == []
        async with session.get(url) as response:
            assert response.status == 401  # FakeVoipbin's own answer, passed back
    assert [(r.path, r.answered_status) for r in fake_voipbin.requests] == [
        ("/v1.0/messages", 200),
        ("/v1.0/messages", 401),
    ]

    async with FakeSocketMode(app_token=APP_TOKEN, forward_to=fake_slack.base) as socket:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=socket.url)
        posted = await client.chat_postMessage(channel="C0SMS00001", text="through the socket fake")
        assert posted["ok"]
        opened = await AsyncWebClient(base_url=socket.url).apps_connections_open(
            app_token=APP_TOKEN
        )
        assert str(opened["url"]).startswith("ws://127.0.0.1:")
    assert [p["text"] for p in fake_slack.posts("C0SMS00001")] == ["through the socket fake"]
    assert [c.method for c in fake_slack.calls()] == ["chat.postMessage"]  # not the open

"""A request body larger than ``max_body_bytes`` is answered 413 before any handler acts on it,
also when it is streamed without a Content-Length; one of exactly the limit is taken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import text

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import OUR_NUMBER, make_config, serve, sign_slack

LIMIT = 2048


async def streamed(size: int) -> AsyncIterator[bytes]:
    """``size`` bytes in chunks: sent chunked, with no Content-Length to go by."""
    body = b"{" + b" " * (size - 2) + b"}"
    for start in range(0, size, 500):
        yield body[start : start + 500]


async def test_a_streamed_body_over_the_limit_is_refused_and_one_at_it_is_taken(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(max_body_bytes=LIMIT)
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        over = await service.http.post("/voipbin/webhook", content=streamed(LIMIT + 1))
        assert over.status_code == 413
        # exactly the limit: read whole and judged on its (missing) signature
        at = await service.http.post("/voipbin/webhook", content=streamed(LIMIT))
        assert at.status_code == 401
        far_over = await service.http.post("/voipbin/webhook", content=streamed(4 * LIMIT))
        assert far_over.status_code == 413
        # the same with a Content-Length
        sized = b"{" + b" " * (LIMIT - 2) + b"}"
        assert (await service.http.post("/voipbin/webhook", content=sized)).status_code == 401
        over = await service.http.post("/voipbin/webhook", content=sized + b" ")
        assert over.status_code == 413
    assert fake_voipbin.sends() == []


async def test_a_signed_slack_body_that_is_no_json_object_is_turned_away(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        for body in ("payload=", "payload=&token=legacy"):
            headers = sign_slack(body) | {"content-type": "application/x-www-form-urlencoded"}
            answer = await service.http.post("/slack/events", content=body, headers=headers)
            assert answer.status_code == 400, body
        # JSON that is no object, with a charset in its content type
        headers = sign_slack("[1, 2]") | {"content-type": "application/json; charset=utf-8"}
        answer = await service.http.post("/slack/events", content="[1, 2]", headers=headers)
        assert answer.status_code == 400
    assert fake_slack.calls("chat.postMessage") == []


async def test_a_webhook_that_cannot_be_recorded_is_answered_503_for_voipbin_to_retry(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        async with service.app.state.components.engine.begin() as conn:
            await conn.execute(text("DROP TABLE jobs"))  # the database lost its job table
        message = fake_voipbin.inbound("+31612345678", OUR_NUMBER, "kept for the retry")
        answer = await service.webhook("message_created", message)
        assert answer.status_code == 503

"""A VoIPbin webhook is taken in only with the whole signature right (reference §4.4).

The bridge's webhook is on the internet: a signature checked on part of the HMAC (a prefix, a
few hex characters) lets a forger in after thousands of tries. Every forgery below differs
from the real ``X-VoIPBIN-Signature`` in one place; each must be refused with 401 and leave no
trace, and the genuine delivery of the same body is then taken in (so the refusals are not the
service refusing everything).
"""

from __future__ import annotations

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import jobs, messages

from harness import CHANNEL, OUR_NUMBER, serve, wait_for
from test_bridge_e2e import PEER, count


def _flip(hex_char: str) -> str:
    return "0" if hex_char != "0" else "1"


def forgeries(genuine: str) -> dict[str, str]:
    """Signatures one change away from ``genuine`` (``sha256=<64 hex>``)."""
    prefix, digest = genuine.split("=", 1)
    assert prefix == "sha256" and len(digest) == 64
    return {
        "last hex digit changed": f"sha256={digest[:-1]}{_flip(digest[-1])}",
        "a middle hex digit changed": f"sha256={digest[:32]}{_flip(digest[32])}{digest[33:]}",
        "first hex digit changed": f"sha256={_flip(digest[0])}{digest[1:]}",
        "only the first 8 hex digits": f"sha256={digest[:8]}",
        "all but the last hex digit": f"sha256={digest[:-1]}",
        "one hex digit too many": f"{genuine}0",
        "the digest without its sha256= label": digest,
        "another algorithm's label": f"sha1={digest}",
    }


async def test_a_signature_wrong_anywhere_is_refused_and_changes_nothing(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        message = fake_voipbin.inbound(PEER, OUR_NUMBER, "is this you?")
        body = FakeVoipbin.event("message_created", message)
        genuine = fake_voipbin.sign(body)
        answered = {}
        for name, signature in forgeries(genuine).items():
            response = await service.webhook("message_created", message, signature=signature)
            answered[name] = response.status_code
        assert answered == {name: 401 for name in answered}
        assert await count(service, jobs) == 0
        assert await count(service, messages) == 0
        assert fake_slack.posts() == []

        # the same body with its real signature is taken in and posted
        response = await service.webhook("message_created", message, signature=genuine)
        assert response.status_code == 200
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        assert "is this you?" in fake_slack.posts(CHANNEL)[-1]["text"]

"""Opt-out and opt-in keywords, each one texted in as an inbound SMS.

The words come from the carriers' conventions (CTIA's Messaging Principles and Best Practices,
as Twilio, Telnyx and Braze apply them; README "Opt-out"): STOP, STOPALL, UNSUBSCRIBE, CANCEL,
END and QUIT opt a number out; START, UNSTOP and YES opt it back in. A keyword counts alone on
its line, in any case, with spaces around it. What the test looks at is what people see: the
refusal ``/sms`` answers for an opted-out number, and the SMS VoIPbin receives once it is back.
Each word is texted by a number of its own, so one service checks them all and a failure names
every word that was missed.
"""

from __future__ import annotations

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import Service, serve
from test_bridge_e2e import idle

OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
OPT_IN = ["START", "UNSTOP", "YES"]


def numbers(count: int, block: int) -> list[str]:
    """``count`` Dutch mobile numbers of their own (``block`` 1, 2 or 5: +31 61…, 62…, 65…)."""
    return [f"+316{block}{i:07d}" for i in range(count)]


async def refused(service: Service, peer: str) -> bool:
    """Whether ``/sms`` to ``peer`` is refused because the number opted out."""
    answer = (await service.slash(f"{peer} are you there?")).json()["text"]
    return "has opted out" in answer


async def test_each_opt_out_word_stops_sms_to_the_number(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        # alone, in capitals, in lower case, with spaces around: all the same word
        texts = (
            [w for w in OPT_OUT]
            + [w.lower() for w in OPT_OUT]
            + [f"  {w.title()} \n" for w in OPT_OUT]
        )
        peers = numbers(len(texts), 1)
        for peer, text in zip(peers, texts, strict=True):
            await service.inbound(peer, text)
        await idle(service)
        outcome = {
            repr(text): await refused(service, peer)
            for peer, text in zip(peers, texts, strict=True)
        }
        assert outcome == {repr(text): True for text in texts}
        await idle(service)
    assert fake_voipbin.sends() == []


async def test_a_keyword_inside_a_sentence_is_not_one(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        texts = ["please stop calling me at work", "STOP IT", "the end", "stopped"]
        peers = numbers(len(texts), 2)
        for peer, text in zip(peers, texts, strict=True):
            await service.inbound(peer, text)
        await idle(service)
        outcome = {
            text: await refused(service, peer) for peer, text in zip(peers, texts, strict=True)
        }
        assert outcome == {text: False for text in texts}
        await idle(service)
    assert sorted(s["destinations"][0]["target"] for s in fake_voipbin.sends()) == sorted(peers)


async def test_each_opt_in_word_lets_sms_through_again(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        texts = [w for w in OPT_IN] + [f" {w.lower()} " for w in OPT_IN]
        peers = numbers(len(texts), 5)
        for peer in peers:
            await service.inbound(peer, "STOP")
        await idle(service)
        assert all([await refused(service, peer) for peer in peers])
        for peer, text in zip(peers, texts, strict=True):
            await service.inbound(peer, text)
        await idle(service)
        outcome = {
            repr(text): await refused(service, peer)
            for peer, text in zip(peers, texts, strict=True)
        }
        assert outcome == {repr(text): False for text in texts}
        await idle(service)
    assert sorted(s["destinations"][0]["target"] for s in fake_voipbin.sends()) == sorted(peers)

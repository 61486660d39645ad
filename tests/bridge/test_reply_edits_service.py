"""Reply edits, by the domain alone: a thread reply waits out the undo window, one deleted
inside it is never sent (and the thread says so), and the author of a reply edited or deleted
later is told, alone, that an SMS cannot be changed: in words for a reply still waiting, one
sent, and one that failed. The ports are recorded and scripted (``domain_ports``); the
database and the job runner are real."""

from __future__ import annotations

from typing import Any

from domain_ports import Domain, ScriptedGateway, domain, fast_config
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.ports import InboundSms, Rejected

from harness import CHANNEL, OUR_NUMBER

PEER = "+31612345678"
TEAM = "T1"


def undo_window(seconds: float) -> Any:
    return fast_config(policy={"countries": ["NL", "GB"], "send_delay_seconds": seconds})


async def thread(d: Domain) -> str:
    """The number's thread, opened by an SMS from it; its ts."""
    await d.bridge.accept_inbound(
        InboundSms(sms_id="in-1", our_number=OUR_NUMBER, sender=PEER, text="hi")
    )
    await d.until(lambda: bool(d.messenger.named("post_inbound")))
    (thread_ts,) = d.messenger.answers("open_thread")
    return thread_ts


async def reply(d: Domain, thread_ts: str, ts: str, text: str) -> None:
    taken = await d.bridge.accept_reply(
        team=TEAM, channel=CHANNEL, thread_ts=thread_ts, ts=ts, user="U0ANNA", text=text
    )
    assert taken == "queued"


async def change(d: Domain, ts: str, *, deleted: bool, key: str) -> str:
    return await d.bridge.reply_changed(
        team=TEAM, channel=CHANNEL, ts=ts, deleted=deleted, change_key=key, event_key=key
    )


def told(d: Domain) -> list[str]:
    """What the author was told alone (ephemeral), in order."""
    return [t["text"] for t in d.messenger.named("tell") if t["user"] == "U0ANNA"]


async def test_a_reply_deleted_inside_the_undo_window_is_never_sent(engine: AsyncEngine) -> None:
    async with domain(engine, config=undo_window(1)) as d:
        thread_ts = await thread(d)
        await reply(d, thread_ts, "2.1", "oops")
        assert await change(d, "2.1", deleted=True, key="e1") == "unsent"
        await d.until(lambda: len(d.messenger.named("post_notice")) == 1)
        (notice,) = d.messenger.named("post_notice")
        assert notice["thread_ts"] == thread_ts and notice["mention"] == "U0ANNA"
        assert notice["text"] == (
            "A reply was deleted before it went out, so it was not sent as SMS."
        )
        # A later reply goes out once its own window is over, so the first one's is too.
        await reply(d, thread_ts, "2.2", "right")
        await d.until(lambda: len(d.gateway.sends) == 1)
        await d.until_settled()
        assert [s["text"] for s in d.gateway.sends] == ["right"]


async def test_an_edit_inside_the_window_is_told_it_goes_out_as_first_written(
    engine: AsyncEngine,
) -> None:
    async with domain(engine, config=undo_window(1)) as d:
        thread_ts = await thread(d)
        await reply(d, thread_ts, "2.1", "first words")
        assert await change(d, "2.1", deleted=False, key="e1") == "noted"
        # The same edit delivered again says nothing more.
        assert await change(d, "2.1", deleted=False, key="e1") == "ignored"
        await d.until(lambda: len(d.gateway.sends) == 1)
        await d.until_settled()
        assert [s["text"] for s in d.gateway.sends] == ["first words"]
        assert told(d) == [
            "Your reply goes out as SMS to +31 6 12345678 as you first wrote it: an edit does "
            "not change an SMS. To change it, delete it before it goes out and write it again."
        ]


async def test_an_edit_or_delete_after_sending_is_told_the_sms_cannot_change(
    engine: AsyncEngine,
) -> None:
    async with domain(engine, config=undo_window(0)) as d:
        thread_ts = await thread(d)
        await reply(d, thread_ts, "2.1", "sent as is")
        await d.until(lambda: len(d.gateway.sends) == 1)
        await d.until_settled()
        assert await change(d, "2.1", deleted=False, key="e1") == "noted"
        assert await change(d, "2.1", deleted=True, key="e2") == "noted"
        await d.until(lambda: len(told(d)) == 2)
        head = "Your reply was sent as SMS to +31 6 12345678 as you first wrote it. An SMS "
        assert told(d) == [
            head + "cannot be changed or taken back once sent: your edit does not reach their "
            "phone.",
            head + "cannot be changed or taken back once sent: deleting it here does not reach "
            "their phone.",
        ]
        assert [t["thread_ts"] for t in d.messenger.named("tell")] == [thread_ts, thread_ts]
        assert len(d.gateway.sends) == 1


async def test_an_edit_of_a_failed_reply_is_told_that_retry_sends_it(
    engine: AsyncEngine,
) -> None:
    gateway = ScriptedGateway(outcomes=[Rejected("forbidden", status=403, detail="no")])
    async with domain(engine, gateway, config=undo_window(0)) as d:
        thread_ts = await thread(d)
        await reply(d, thread_ts, "2.1", "will fail")
        await d.until(lambda: any(n["retry"] for n in d.messenger.named("post_notice")))
        assert await change(d, "2.1", deleted=False, key="e1") == "noted"
        await d.until(lambda: len(told(d)) == 1)
        assert told(d) == [
            "Your reply was not delivered to +31 6 12345678: its SMS failed. Changing it here "
            "sends nothing; Retry on the failure notice sends it again as first written."
        ]


async def test_a_change_to_a_message_that_is_no_reply_we_took_is_ignored(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        await thread(d)
        assert await change(d, "9.9", deleted=True, key="e1") == "ignored"
        await d.until_settled()
        assert told(d) == [] and d.messenger.named("post_notice") == []

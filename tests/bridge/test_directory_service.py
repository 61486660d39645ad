"""The directory, by the domain alone: a contact's name is used wherever the bridge names the
number (its thread root, its SMS, the notices), history lists a number's messages oldest
first with their status, contacts lists the channel's numbers with their opt-out, and the
recent conversations mark the unanswered and the failed. The ports are recorded and scripted
(``domain_ports``); the database and the job runner are real."""

from __future__ import annotations

from domain_ports import Domain, ScriptedGateway, domain
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.ports import InboundSms, Rejected, StatusReport

from harness import CHANNEL, OUR_NUMBER

ANNA = "+31612345678"
BOB = "+31687654321"


async def inbound(d: Domain, sms_id: str, sender: str, text: str) -> None:
    await d.bridge.accept_inbound(
        InboundSms(sms_id=sms_id, our_number=OUR_NUMBER, sender=sender, text=text)
    )
    await d.until(lambda: text in [p["text"] for p in d.messenger.named("post_inbound")])


async def send(d: Domain, peer: str, text: str) -> None:
    queued = await d.bridge.accept_send(
        channel=CHANNEL, user="U0ANNA", recipients=[peer], text=text, request_key=text
    )
    assert isinstance(queued, list)
    await d.until(lambda: any(s["text"] == text for s in d.gateway.sends))
    await d.until_settled()


async def test_a_contact_s_name_is_used_wherever_the_bridge_names_the_number(
    engine: AsyncEngine,
) -> None:
    gateway = ScriptedGateway(outcomes=[Rejected("forbidden", status=403, detail="no")])
    async with domain(engine, gateway) as d:
        renamed = await d.bridge.directory.name_contact(
            channel=CHANNEL, user="U0STAFF", peer=ANNA, name="Anna de Vries"
        )
        assert (renamed.before, renamed.after, renamed.changed) == (None, "Anna de Vries", True)
        await inbound(d, "in-1", ANNA, "hi")
        (root,) = d.messenger.named("open_thread")
        assert root["name"] == "Anna de Vries"
        assert d.messenger.named("post_inbound")[0]["name"] == "Anna de Vries"
        await send(d, ANNA, "refused")
        (notice,) = [n for n in d.messenger.named("post_notice") if n["channel"] == CHANNEL]
        assert notice["text"].startswith("SMS to Anna de Vries (+31 6 12345678): VoIPbin refused")
        again = await d.bridge.directory.name_contact(
            channel=CHANNEL, user="U0STAFF", peer=ANNA, name="Anna de Vries"
        )
        assert again.changed is False
        forgotten = await d.bridge.directory.name_contact(
            channel=CHANNEL, user="U0STAFF", peer=ANNA, name=None
        )
        assert (forgotten.before, forgotten.after) == ("Anna de Vries", None)
        assert await d.bridge.directory.names([ANNA]) == {}


async def test_history_lists_a_number_s_messages_oldest_first_with_their_status(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        await inbound(d, "in-1", ANNA, "hi there")
        await send(d, ANNA, "hello back")
        await d.bridge.accept_status(StatusReport("sms-1", "delivered"))
        await d.until(
            lambda: any(
                u["view"].status == "delivered" for u in d.messenger.named("update_outgoing")
            )
        )
        found = await d.bridge.directory.history(channel=CHANNEL, peer=ANNA)
        assert found.source == "store"
        assert [(i.direction, i.text, i.status) for i in found.items] == [
            ("inbound", "hi there", "received"),
            ("outbound", "hello back", "delivered"),
        ]
        assert found.items[1].author == "U0ANNA"
        (thread_ts,) = d.messenger.answers("open_thread")
        assert found.thread is not None and found.thread.thread_ts == thread_ts
        other = await d.bridge.directory.history(channel="C0OTHER001", peer=ANNA)
        assert other.items == [] and other.source == "none"


async def test_contacts_and_recent_conversations_show_opt_outs_unanswered_and_failures(
    engine: AsyncEngine,
) -> None:
    gateway = ScriptedGateway(outcomes=[Rejected("forbidden", status=403, detail="no")])
    async with domain(engine, gateway) as d:
        await send(d, BOB, "this one fails")
        await inbound(d, "in-1", ANNA, "anyone?")
        await d.bridge.set_opt_out(channel=CHANNEL, user="U0STAFF", peer=BOB, opted_out=True)
        contacts = await d.bridge.directory.contacts(channel=CHANNEL)
        assert [(c.peer, c.opted_out) for c in contacts] == [(ANNA, False), (BOB, True)]
        recent = await d.bridge.directory.recent(channels=[CHANNEL])
        assert [(r.peer, r.unanswered, r.failed) for r in recent] == [
            (ANNA, True, False),
            (BOB, False, True),
        ]
        assert await d.bridge.directory.recent(channels=["C0OTHER001"]) == []

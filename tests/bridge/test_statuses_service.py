"""Statuses, by the domain alone: a status only moves forward (a late ``sent`` does not undo
``delivered``), a failed status is shown with its reason and alerted once, in the thread and
in the alert channel, and the stuck check alerts about an SMS VoIPbin never dispatched, and
only about that one. The ports are recorded and scripted (``domain_ports``); the database and
the job runner are real."""

from __future__ import annotations

from domain_ports import Domain, ScriptedGateway, domain, fast_config
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.ports import OutgoingView, StatusReport

from harness import ALERTS, CHANNEL

PEER = "+31612345678"


async def sent(d: Domain, text: str = "hello") -> str:
    """Send one SMS and return the provider's id for it (``sms-1`` for the first)."""
    queued = await d.bridge.accept_send(
        channel=CHANNEL, user="U0ANNA", recipients=[PEER], text=text, request_key=text
    )
    assert isinstance(queued, list) and len(queued) == 1
    await d.until_done("send_sms")
    return f"sms-{len(d.gateway.sends)}"


def shown(d: Domain) -> list[OutgoingView]:
    """Every redraw of the SMS's Slack message, in order."""
    return [u["view"] for u in d.messenger.named("update_outgoing")]


def thread_notices(d: Domain) -> list[str]:
    return [
        n["text"]
        for n in d.messenger.named("post_notice")
        if n["channel"] == CHANNEL and n["thread_ts"] is not None
    ]


def alert_channel_posts(d: Domain) -> list[str]:
    """What the alert channel was posted (each failure a roll-up lists, or a notice)."""
    texts: list[str] = []
    for call in d.messenger.calls:
        if call.args.get("channel") != ALERTS:
            continue
        if call.method == "post_rollup":
            texts.extend(item.text for item in call.args["items"])
        elif call.method == "post_notice":
            texts.append(call.args["text"])
    return texts


async def test_a_late_sent_does_not_undo_delivered(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        sms_id = await sent(d)
        assert await d.bridge.accept_status(StatusReport(sms_id, "delivered")) == "status"
        await d.until(lambda: [v.status for v in shown(d)][-1:] == ["delivered"])
        assert await d.bridge.accept_status(StatusReport(sms_id, "sent")) == "status-stale"
        assert await d.bridge.accept_status(StatusReport(sms_id, "queued")) == "status-stale"
        await d.until_settled()
        assert [v.status for v in shown(d)] == ["delivered"]


async def test_statuses_move_forward_in_the_order_they_happen(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        sms_id = await sent(d)
        # VoIPbin handed it to a carrier (its update, the status still queued), then the
        # carrier delivered it.
        await d.bridge.accept_status(StatusReport(sms_id, "queued", dispatched=True))
        await d.until(lambda: [v.status for v in shown(d)][-1:] == ["dispatched"])
        await d.bridge.accept_status(StatusReport(sms_id, "delivered"))
        await d.until(lambda: [v.status for v in shown(d)][-1:] == ["delivered"])
        assert [v.status for v in shown(d)] == ["dispatched", "delivered"]


async def test_a_failed_status_is_shown_and_alerted_once_in_the_thread_and_the_alert_channel(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        sms_id = await sent(d)
        await d.bridge.accept_status(StatusReport(sms_id, "gw_timeout"))
        await d.until(lambda: bool(thread_notices(d)) and bool(alert_channel_posts(d)))
        # Told again (a redelivery), and a later final status: neither alerts again.
        await d.bridge.accept_status(StatusReport(sms_id, "gw_timeout"))
        await d.bridge.accept_status(StatusReport(sms_id, "delivered"))
        await d.until_settled()
        said = (
            "SMS to +31 6 12345678 failed: the SMS gateway never confirmed the message "
            "(gateway timeout). It was not delivered."
        )
        assert thread_notices(d) == [said]
        assert alert_channel_posts(d) == [said]
        (failed,) = shown(d)
        assert failed.status == "gw_timeout"
        assert failed.note == "the SMS gateway never confirmed the message (gateway timeout)"


async def test_an_sms_never_dispatched_is_alerted_once_by_the_stuck_check(
    engine: AsyncEngine,
) -> None:
    config = fast_config(alerts={"channel": ALERTS, "stuck_after": 1})
    async with domain(engine, config=config) as d:
        sms_id = await sent(d)
        await d.until_done("check_stuck")
        await d.until(lambda: bool(thread_notices(d)) and bool(alert_channel_posts(d)))
        await d.until_settled()
        assert d.gateway.status_reads == [sms_id]
        (notice,) = thread_notices(d)
        assert notice.startswith(
            "SMS to +31 6 12345678 has not been handed to a carrier 1 min after it was sent"
        )
        assert alert_channel_posts(d) == [notice]
        assert shown(d)[-1].note == "VoIPbin has not handed it to a carrier after 1 min"
        # Dispatched after all: the note that said otherwise goes.
        await d.bridge.accept_status(StatusReport(sms_id, "sent"))
        await d.until(lambda: shown(d)[-1].status == "sent")
        assert shown(d)[-1].note == ""


async def test_the_stuck_check_takes_the_status_it_reads_and_does_not_alert(
    engine: AsyncEngine,
) -> None:
    config = fast_config(alerts={"channel": ALERTS, "stuck_after": 1})
    gateway = ScriptedGateway(statuses={"sms-1": "delivered"})
    async with domain(engine, gateway, config=config) as d:
        await sent(d)
        await d.until_done("check_stuck")
        await d.until(lambda: [v.status for v in shown(d)][-1:] == ["delivered"])
        await d.until_settled()
        assert thread_notices(d) == [] and alert_channel_posts(d) == []


async def test_a_dispatched_sms_is_not_stuck(engine: AsyncEngine) -> None:
    config = fast_config(alerts={"channel": ALERTS, "stuck_after": 1})
    async with domain(engine, config=config) as d:
        sms_id = await sent(d)
        await d.bridge.accept_status(StatusReport(sms_id, "queued", dispatched=True))
        await d.until_done("check_stuck")
        await d.until_settled()
        assert d.gateway.status_reads == [], "a dispatched SMS is not looked up"
        assert thread_notices(d) == [] and alert_channel_posts(d) == []
        assert [v.status for v in shown(d)] == ["dispatched"]

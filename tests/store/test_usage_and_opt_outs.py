"""What the sending quotas read from the audit log, and the opt-out state: the store's public
functions on real databases, both kinds. The figures are the ones the quotas compare with
their limits (tests/rules/test_rule_quota.py drives the same rules end to end)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import audit, opt_outs

N1 = "+31201234567"
N2 = "+31201234999"
PEER = "+31612345678"


async def sent(
    engine: AsyncEngine,
    actor: str,
    at: float,
    segments: int,
    our_number: str = N2,
    action: str = "sent",
) -> None:
    async with engine.begin() as conn:
        await audit.add_audit(
            conn,
            actor=actor,
            action=action,
            now=at,
            channel="C1",
            our_number=our_number,
            peer_number=PEER,
            segments=segments,
        )


async def usage(
    engine: AsyncEngine, *, actor: str | None, day: float, our_number: str | None, minute: float
) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        return await audit.usage(conn, actor=actor, day=day, our_number=our_number, minute=minute)


async def test_usage_counts_the_day_the_person_the_number_and_takes_unsent_back(
    engine: AsyncEngine,
) -> None:
    await sent(engine, "U1", 1000, 3)  # the day's first instant: counted
    await sent(engine, "U1", 999, 2)  # yesterday
    await sent(engine, "U2", 1200, 5)
    await sent(engine, "U1", 1300, 2, action="unsent")  # taken back before it went out
    await sent(engine, "U2", 1500, 1, our_number=N1)  # the minute's first instant
    await sent(engine, "U2", 1499, 1, our_number=N1)  # a minute and more ago
    await sent(engine, "U2", 1550, 1)  # this minute, from the other number
    await sent(engine, "U1", 1100, 7, our_number=N1, action="refused")  # never sent

    figures = await usage(engine, actor="U1", day=1000, our_number=N1, minute=1500)
    assert figures == (3 - 2, 3 + 5 - 2 + 1 + 1 + 1, 1)
    # a rule that is off reads 0
    assert await usage(engine, actor=None, day=1000, our_number=None, minute=1500) == (0, 9, 0)
    assert await usage(engine, actor="U2", day=1000, our_number=N2, minute=1500) == (8, 9, 1)


async def test_usage_never_goes_below_zero(engine: AsyncEngine) -> None:
    # sent yesterday, taken back today: nothing was counted today to take it from
    await sent(engine, "U3", 990, 1, our_number=N1)
    await sent(engine, "U3", 1010, 1, our_number=N1, action="unsent")
    assert await usage(engine, actor="U3", day=1000, our_number=N1, minute=1005) == (0, 0, 0)


async def test_the_minute_reaches_into_yesterday_just_after_midnight(
    engine: AsyncEngine,
) -> None:
    await sent(engine, "U1", 970, 2, our_number=N1)  # 30 s before midnight
    await sent(engine, "U1", 969, 2, our_number=N1)  # 31 s before
    assert await usage(engine, actor="U1", day=1000, our_number=N1, minute=970) == (0, 0, 1)


async def test_opting_out_is_per_pair_of_numbers_and_says_when_it_changed(
    engine: AsyncEngine,
) -> None:
    async def opted_out(our: str, peer: str) -> bool:
        async with engine.connect() as conn:
            return await opt_outs.is_opted_out(conn, our_number=our, peer_number=peer)

    async def set_to(value: bool, our: str = N1, peer: str = PEER) -> bool:
        async with engine.begin() as conn:
            return await opt_outs.set_opt_out(
                conn, our_number=our, peer_number=peer, opted_out=value, by="sms", now=1.0
            )

    assert not await opted_out(N1, PEER)
    assert not await set_to(False)  # opting in a number never opted out changes nothing
    assert await set_to(True)
    assert not await set_to(True)
    assert await opted_out(N1, PEER)
    assert not await opted_out(N2, PEER)
    assert not await opted_out(N1, "+31687654321")
    assert await set_to(True, our=N2)
    assert await set_to(False)
    assert not await opted_out(N1, PEER)
    assert await opted_out(N2, PEER)

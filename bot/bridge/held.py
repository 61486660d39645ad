"""Held sends: an ``/sms`` or modal send longer than ``policy.confirm_over_segments`` is kept
until its sender confirms it (the Send button) or drops it (Cancel); the prompt can be
confirmed for ``HELD_SEND_TTL_SECONDS``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import policy
from bot.bridge.checks import SendChecks
from bot.bridge.context import Clock
from bot.bridge.sending import Queued, Sending
from bot.store import pending_sends

# A long message held for Send / Cancel can be confirmed for this long.
HELD_SEND_TTL_SECONDS = 3600.0


class HeldSends:
    """Sends kept for their sender's Send / Cancel."""

    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, checks: SendChecks, sending: Sending
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._checks = checks
        self._sending = sending

    async def hold_send(
        self,
        *,
        channel: str,
        user: str,
        recipients: list[str],
        text: str,
        user_groups: set[str] | None = None,
        our_number: str | None = None,
    ) -> int | policy.Refusal:
        """Keep a send until its sender confirms it; returns its id. The policy is checked
        now (nobody is asked to confirm what would be refused) and again on confirmation."""
        route = self._checks.route_from(channel, our_number)
        now = self._clock()
        async with self._engine.begin() as conn:
            refusal = await self._checks.check_or_refuse(
                conn,
                route=route,
                channel=channel,
                user=user,
                user_groups=user_groups,
                peers=recipients,
                text=text,
                now=now,
            )
            if refusal is not None:
                return refusal
            return await pending_sends.hold_send(
                conn,
                channel=channel,
                user=user,
                our_number=route.number,
                recipients=recipients,
                text=text,
                now=now,
            )

    async def held(self, pending_id: int) -> pending_sends.PendingSend | None:
        async with self._engine.connect() as conn:
            return await pending_sends.get_pending(conn, pending_id)

    async def confirm_send(
        self, *, pending_id: int, user: str, user_groups: set[str] | None = None
    ) -> list[Queued] | policy.Refusal | str:
        """Send a held send (the Send button): exactly once however often it is clicked.
        Returns what was queued, the refusal (the policy is checked again), or the state it
        was already in (``sent``, ``cancelled``, ``refused``, ``expired`` after an hour;
        ``unknown`` for another user's or a missing one)."""
        held = await self.held(pending_id)
        if held is None or held.user_id != user:
            return "unknown"
        if held.state != "pending":
            return held.state
        now = self._clock()
        if now - held.created_at > HELD_SEND_TTL_SECONDS:
            # An old prompt left on screen: what it says may no longer be meant.
            async with self._engine.begin() as conn:
                await pending_sends.move_pending(
                    conn, pending_id, from_state="pending", to_state="expired", now=now
                )
            return "expired"

        async def claim(conn: AsyncConnection) -> bool:
            return await pending_sends.move_pending(
                conn, pending_id, from_state="pending", to_state="sent", now=now
            )

        result = await self._sending.accept_send(
            channel=held.channel,
            user=user,
            recipients=held.recipients,
            text=held.text,
            request_key=f"held:{pending_id}",
            user_groups=user_groups,
            our_number=held.our_number,
            claim=claim,
        )
        if isinstance(result, policy.Refusal):
            async with self._engine.begin() as conn:
                await pending_sends.move_pending(
                    conn, pending_id, from_state="sent", to_state="refused", now=now
                )
            return result
        if not result:  # another click claimed it first
            again = await self.held(pending_id)
            return again.state if again is not None else "unknown"
        return result

    async def cancel_send(self, *, pending_id: int, user: str) -> str:
        """Drop a held send (the Cancel button): ``cancelled``, or the state it was in."""
        async with self._engine.begin() as conn:
            held = await pending_sends.get_pending(conn, pending_id)
            if held is None or held.user_id != user:
                return "unknown"
            if await pending_sends.move_pending(
                conn, pending_id, from_state="pending", to_state="cancelled", now=self._clock()
            ):
                return "cancelled"
            return held.state

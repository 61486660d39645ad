"""Signatures, by the domain alone: a person's signature is added on a line of its own to
what they send, a change shows at once, clearing it sends the text as typed, and it is
theirs alone. The gateway is scripted (``domain_ports``); the database is real."""

from __future__ import annotations

from domain_ports import domain
from sqlalchemy.ext.asyncio import AsyncEngine

from harness import CHANNEL

PEER = "+31612345678"


async def test_a_signature_is_added_to_what_its_owner_sends_and_to_nobody_else_s(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        assert await d.bridge.signed("U0ANNA", "hi") == "hi"
        await d.bridge.set_signature("U0ANNA", "— Anna, Acme")
        assert await d.bridge.signature("U0ANNA") == "— Anna, Acme"
        text = await d.bridge.signed("U0ANNA", "hi")
        assert text == "hi\n— Anna, Acme"
        assert await d.bridge.signed("U0BOB", "hi") == "hi"
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text=text, request_key="k1"
        )
        assert isinstance(queued, list)
        await d.until(lambda: len(d.gateway.sends) == 1)
        assert d.gateway.sends[0]["text"] == "hi\n— Anna, Acme"
        await d.bridge.set_signature("U0ANNA", "— A.")
        assert await d.bridge.signed("U0ANNA", "hi") == "hi\n— A.", "a change shows at once"
        await d.bridge.set_signature("U0ANNA", None)
        assert await d.bridge.signed("U0ANNA", "hi") == "hi"

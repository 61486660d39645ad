"""Signatures: the text a person has appended, on a line of its own, to every SMS they send
(``/sms signature``).
"""

from __future__ import annotations

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.context import Clock
from bot.store import signatures

# How long a user's signature is kept in memory (see Signatures.signature).
SIGNATURE_TTL_SECONDS = 10.0


class Signatures:
    """Each person's signature, read through a short cache."""

    def __init__(self, *, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._signatures: TTLCache[str, str | None] = TTLCache(
            maxsize=10_000, ttl=SIGNATURE_TTL_SECONDS
        )

    async def signature(self, user: str) -> str | None:
        """``user``'s signature. Read for every SMS a person sends, so it is kept for
        ``SIGNATURE_TTL_SECONDS``: a change made through this process shows at once, one made
        through another replica within that time."""
        if user in self._signatures:
            return self._signatures[user]
        async with self._engine.connect() as conn:
            found = await signatures.get_signature(conn, user)
        self._signatures[user] = found
        return found

    async def set_signature(self, user: str, signature: str | None) -> None:
        """Set (or with None, clear) the text appended to ``user``'s SMS."""
        async with self._engine.begin() as conn:
            await signatures.set_signature(conn, user, signature, self._clock())
        self._signatures.pop(user, None)

    async def signed(self, user: str, text: str) -> str:
        """``text`` as it will be sent: with the user's signature on a line of its own."""
        signature = await self.signature(user)
        return f"{text}\n{signature}" if signature else text

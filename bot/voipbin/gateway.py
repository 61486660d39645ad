"""The domain's ``SmsGateway`` on VoIPbin's REST client."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.bridge.ports import ArchivedSms, RateLimited, Rejected, SentSms, Unavailable
from bot.voipbin.client import (
    VoipbinClient,
    VoipbinError,
    VoipbinRateLimited,
    VoipbinRejected,
)


def _translate(exc: VoipbinError) -> Exception:
    if isinstance(exc, VoipbinRateLimited):
        return RateLimited(exc.message, retry_after=exc.retry_after)
    if isinstance(exc, VoipbinRejected):
        return Rejected(exc.message, code=exc.reason)
    return Unavailable(exc.message)


class VoipbinGateway:
    def __init__(self, client: VoipbinClient) -> None:
        self._client = client

    async def send(self, *, source: str, destination: str, text: str) -> SentSms:
        try:
            message = await self._client.send_message(
                source=source, destination=destination, text=text
            )
        except VoipbinError as exc:
            raise _translate(exc) from None
        if not message.targets:
            # A 2xx without a usable message: it probably exists; treat the outcome as unknown
            # so the next attempt looks for it before sending again.
            raise Unavailable("VoIPbin answered the send without any target")
        return SentSms(id=message.id, status=message.status or "queued")

    async def status(self, sms_id: str) -> str:
        try:
            message = await self._client.get_message(sms_id)
        except VoipbinError as exc:
            raise _translate(exc) from None
        return message.status

    async def find_sent(
        self, *, source: str, destination: str, text: str, since: float
    ) -> list[SentSms]:
        found: list[SentSms] = []
        try:
            async for message in self._client.iter_messages(
                since=datetime.fromtimestamp(since, UTC)
            ):
                if (
                    message.direction == "outbound"
                    and message.source.target == source
                    and message.text == text
                    and message.tm_delete is None
                    and any(t.destination.target == destination for t in message.targets)
                ):
                    found.append(SentSms(id=message.id, status=message.status))
        except VoipbinError as exc:
            raise _translate(exc) from None
        return found

    async def recent_messages(self, *, scan: int) -> list[ArchivedSms]:
        """``GET /messages`` newest first, page by page (VoIPbin has no filters), stopping
        after ``scan`` messages."""
        found: list[ArchivedSms] = []
        seen = 0
        try:
            async for message in self._client.iter_messages():
                seen += 1
                if message.tm_delete is None and message.targets:
                    inbound = message.direction == "inbound"
                    target = message.targets[0].destination.target
                    found.append(
                        ArchivedSms(
                            direction="inbound" if inbound else "outbound",
                            our_number=target if inbound else message.source.target,
                            peer=message.source.target if inbound else target,
                            text=message.text,
                            status=message.status,
                            at=message.tm_create.timestamp() if message.tm_create else 0.0,
                        )
                    )
                if seen >= scan:
                    break
        except VoipbinError as exc:
            raise _translate(exc) from None
        return found

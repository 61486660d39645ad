"""The domain's ``SmsGateway`` on VoIPbin's REST client."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.bridge import status as st
from bot.bridge.ports import (
    ArchivedSms,
    MaybeRefused,
    RateLimited,
    Rejected,
    SentSms,
    TimedOut,
    Unavailable,
)
from bot.voipbin.client import (
    VoipbinClient,
    VoipbinError,
    VoipbinRateLimited,
    VoipbinRejected,
    VoipbinTimedOut,
)
from bot.voipbin.models import Message


def _translate(exc: VoipbinError) -> Exception:
    if isinstance(exc, VoipbinRateLimited):
        return RateLimited(exc.message, retry_after=exc.retry_after)
    if isinstance(exc, VoipbinRejected):
        return Rejected(
            exc.message, code=exc.reason, status=exc.http_status or 0, detail=exc.detail
        )
    if isinstance(exc, VoipbinTimedOut):
        return TimedOut(exc.message)
    return Unavailable(exc.message)


def _status(message: Message) -> str:
    """The domain's status of a message: VoIPbin's, or ``dispatched`` when VoIPbin handed a
    message to a provider that left it queued (its Telnyx path, reference §3.2)."""
    if message.direction != "outbound":
        return message.status
    return st.reported(message.status, dispatched=message.dispatched)


class VoipbinGateway:
    def __init__(self, client: VoipbinClient) -> None:
        self._client = client

    async def send(self, *, source: str, destination: str, text: str) -> SentSms:
        try:
            message = await self._client.send_message(
                source=source, destination=destination, text=text
            )
        except VoipbinError as exc:
            if exc.http_status == 500 and exc.reason == "INTERNAL":
                # How VoIPbin refuses a send for the balance or the identity check: its
                # message-manager returns a plain error, which the gateway answers as 500
                # INTERNAL (bin-message-manager/pkg/messagehandler/send.go, pkg/listenhandler/
                # main.go errorResponse; bin-api-manager/server/error_translate.go). A failure
                # after the message was stored looks the same.
                raise MaybeRefused(exc.message, status=500, detail=exc.detail) from None
            raise _translate(exc) from None
        if not message.targets:
            # A 2xx without a usable message: it probably exists; treat the outcome as unknown
            # so the next attempt looks for it before sending again.
            raise Unavailable("VoIPbin answered the send without any target")
        return SentSms(id=message.id, status=_status(message) or "queued")

    async def status(self, sms_id: str) -> str:
        try:
            message = await self._client.get_message(sms_id)
        except VoipbinError as exc:
            raise _translate(exc) from None
        return _status(message)

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
                    found.append(SentSms(id=message.id, status=_status(message)))
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
                            status=_status(message),
                            at=message.tm_create.timestamp() if message.tm_create else 0.0,
                        )
                    )
                if seen >= scan:
                    break
        except VoipbinError as exc:
            raise _translate(exc) from None
        return found

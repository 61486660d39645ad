"""Sending from Slack, wherever it starts (``/sms``, the Send SMS modal, the Send button of a
held message): signature, segment preview, the confirmation threshold, the policy, and the
answer the sender sees."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.bridge import segments
from bot.bridge.checks import NotRouted, NotRoutedHere, SendChecks
from bot.bridge.held import HeldSends
from bot.bridge.policy import Refusal
from bot.bridge.retry import Retries
from bot.bridge.sending import Queued, Sending
from bot.bridge.signatures import Signatures
from bot.config import AppConfig
from bot.phone import format_international
from bot.slack import messages, prompts
from bot.slack.commands import SetSignature
from bot.slack.mrkdwn import escape
from bot.slack.render import answer

log = logging.getLogger(__name__)

# (channel, user, our number or None) -> the senders groups the user is in
GroupsOf = Callable[[str, str, str | None], Awaitable[set[str]]]


def not_routed_here(number: str, channel_numbers: list[str]) -> str:
    ours = ", ".join(escape(format_international(n)) for n in channel_numbers) or "none"
    return messages.not_routed_here(escape(format_international(number)), ours)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a send, as the sender sees it: ``text`` and maybe ``blocks``.
    ``sent`` is True when SMS were queued, ``refusal`` holds the rule that stopped it."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    sent: bool = False
    held: bool = False
    pending_id: int | None = None
    refusal: Refusal | None = None

    def message(self) -> dict[str, Any]:
        """The answer as Block Kit with its ``text`` fallback."""
        if self.blocks is None:
            return answer(self.text)
        return {"text": self.text, "blocks": self.blocks}


class Sender:
    """One per Bolt app. ``config``: the confirmation threshold and the numbers of each
    channel; ``checks``: the number a send goes out from."""

    def __init__(
        self,
        *,
        config: AppConfig,
        checks: SendChecks,
        sending: Sending,
        held_sends: HeldSends,
        retries: Retries,
        signatures: Signatures,
        groups_of: GroupsOf,
    ) -> None:
        self._config = config
        self._checks = checks
        self._sending = sending
        self._held_sends = held_sends
        self._retries = retries
        self._signatures = signatures
        self._groups_of = groups_of

    async def send(
        self,
        *,
        channel: str,
        user: str,
        recipients: list[str],
        text: str,
        our_number: str | None = None,
        confirm: bool = True,
    ) -> Outcome:
        """Sign ``text``, then hold it for Send / Cancel when it is over the threshold (and
        ``confirm``), else record it. Never raises for what a person did wrong; an
        unexpected failure (the database, say) is raised to the caller's error wrapper."""
        try:
            signed = await self._signatures.signed(user, text)
            preview = segments.preview(signed)
            groups = await self._groups_of(channel, user, our_number)
            threshold = self._config.policy.confirm_over_segments
            if confirm and threshold is not None and preview.segments > threshold:
                held = await self._held_sends.hold_send(
                    channel=channel,
                    user=user,
                    recipients=recipients,
                    text=signed,
                    user_groups=groups,
                    our_number=our_number,
                )
                if isinstance(held, Refusal):
                    return Outcome(prompts.refused(held), refusal=held)
                route = self._checks.route_from(channel, our_number)
                rendered = prompts.confirm(
                    pending_id=held,
                    recipients=recipients,
                    our_number=route.number,
                    text=signed,
                    preview=preview,
                )
                return Outcome(rendered.text, rendered.blocks, held=True, pending_id=held)
            queued = await self._sending.accept_send(
                channel=channel,
                user=user,
                recipients=recipients,
                text=signed,
                request_key=uuid.uuid4().hex,
                user_groups=groups,
                our_number=our_number,
            )
        except NotRoutedHere:
            assert our_number is not None
            return Outcome(not_routed_here(our_number, self._config.numbers_for(channel)))
        except NotRouted:
            return Outcome(messages.no_number())
        if isinstance(queued, Refusal):
            return Outcome(prompts.refused(queued), refusal=queued)
        return Outcome(prompts.accepted(queued, preview), sent=True)

    async def confirm(self, *, pending_id: int, user: str) -> Outcome:
        """The Send button of a held message."""
        try:
            held = await self._held_sends.held(pending_id)
            if held is None or held.user_id != user:
                return Outcome(messages.held_state("unknown"))
            groups = await self._groups_of(held.channel, user, held.our_number)
            result = await self._held_sends.confirm_send(
                pending_id=pending_id, user=user, user_groups=groups
            )
        except NotRouted:
            return Outcome(messages.no_number())
        except Exception:
            log.exception("could not record a confirmed SMS pending_id=%d", pending_id)
            return Outcome(messages.failed())
        if isinstance(result, Refusal):
            return Outcome(prompts.refused(result), refusal=result)
        if isinstance(result, str):
            return Outcome(messages.held_state(result))
        return Outcome(prompts.accepted(result, segments.preview(held.text)), sent=True)

    async def cancel(self, *, pending_id: int, user: str) -> Outcome:
        state = await self._held_sends.cancel_send(pending_id=pending_id, user=user)
        if state == "cancelled":
            return Outcome(messages.cancelled())
        return Outcome(messages.held_state(state))

    async def retry(self, *, message_id: int, channel: str, user: str) -> str | None:
        """The Retry button of a failed SMS: None when it is on its way again (its status
        line says so), else what to tell the person who clicked."""
        try:
            our_number = await self._retries.sent_from(message_id)
            queued: Queued | Refusal | None = await self._retries.accept_retry(
                message_id=message_id,
                user=user,
                user_groups=await self._groups_of(channel, user, our_number),
            )
        except Exception:
            log.exception("could not record a retry message_id=%d", message_id)
            return messages.failed()
        if isinstance(queued, Refusal):
            return prompts.refused(queued)
        if queued is None:
            return messages.already_sent_again()
        return None

    async def set_signature(self, user: str, parsed: SetSignature) -> str:
        """``/sms signature``: show, set or clear the line added to the user's SMS."""
        if parsed.signature is None:
            current = await self._signatures.signature(user)
            if not current:
                return messages.no_signature()
            return messages.your_signature(escape(current))
        if not parsed.signature:
            await self._signatures.set_signature(user, None)
            return messages.signature_removed()
        await self._signatures.set_signature(user, parsed.signature)
        hint = segments.preview(parsed.signature).hint
        return messages.signature_set(escape(parsed.signature), escape(hint) if hint else None)

"""The bridge's jobs, typed: one frozen model per job kind.

A model holds what its job's payload holds (the fields, under the names stored rows use) and
where it runs (``route``: its key, lane and channel, which are columns of the row, not part
of the payload). It is written with ``enqueue`` (or ``job_row`` for the shared writer) and
handed back to its handler typed (``JobHandlers``), read from the stored row by ``read``.

Stored rows keep the shape the previous release wrote: the field names are the payload keys
it used, a key it left out reads as it did then (``Notice.broadcast`` as True, the others as
empty), and the lanes are spelled as before (``lanes``), so jobs written before an upgrade run
after it. ``bot.jobs`` stays generic: it stores a kind, a key, a lane, a channel and payload
JSON, and knows nothing of these models.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.bridge import messages
from bot.jobs import queue
from bot.jobs.runner import Handler
from bot.store import conversations, sms

# -- lanes -----------------------------------------------------------------------------------
# The jobs of one lane run one at a time, in the order they were written. The spellings are
# stored in the jobs table: a job written before an upgrade must queue behind the same lane.


def conversation_lane(conversation_id: int) -> str:
    """A conversation's lane: its sends, posts, status redraws and thread notices, in order."""
    return f"c{conversation_id}"


def reply_delay_lane(conversation_id: int) -> str:
    """The undo window of a conversation's thread replies: beside its lane, not in it, so an
    inbound SMS is not held up behind a reply waiting out the window."""
    return f"d{conversation_id}"


# The lane column holds 64 characters; a sender VoIPbin wrote at length (not a number) is
# keyed by its digest.
_SENDER_IN_LANE = 40


def inbound_lane(our_number: str, source: str) -> str:
    """The intake of one sender's SMS to one of our numbers (taken in, and so posted, in the
    order they were accepted). The sender is as VoIPbin wrote it, not yet a number."""
    if len(source) > _SENDER_IN_LANE:
        source = hashlib.sha256(source.encode()).hexdigest()[:40]
    return f"in:{our_number}:{source}"


def alerts_lane(source_channel: str) -> str:
    """The alert roll-up of one channel's failures."""
    return f"alerts:{source_channel}"


# -- the models ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """Where a job runs: the row's ``key`` (it deduplicates), ``lane`` and ``channel`` (the
    Slack channel it posts in, for the runner's per-channel limit)."""

    key: str
    lane: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class DeadNotice:
    """What the people of a conversation are told when a job about one of its messages gives
    up. ``unsent``: the SMS itself was never sent (it is marked failed, with a Retry)."""

    text: str
    unsent: bool = False


class BridgeJob(BaseModel):
    """A job of the bridge. Subclasses name their ``kind`` (stored in the row) and their
    payload fields."""

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)

    kind: ClassVar[str]
    # When it gives up, an alert says so (False: the job *is* the alert; only the log can).
    alerted_when_dead: ClassVar[bool] = True

    route: Route = Field(exclude=True)

    @property
    def key(self) -> str:
        return self.route.key

    @property
    def lane(self) -> str | None:
        return self.route.lane

    @property
    def channel(self) -> str | None:
        return self.route.channel

    def payload(self) -> dict[str, Any]:
        """The payload stored in the row (without ``route``, which is its columns)."""
        return self.model_dump()


class MessageJob(BridgeJob):
    """A job about one stored message; its death is told in the message's conversation."""

    message_id: int

    def dead_notice(
        self,
        message: sms.Message,
        conversation: conversations.Conversation,
        *,
        peer: str,
        reason: str,
    ) -> DeadNotice:
        """What the conversation is told when this job gave up for ``reason``; ``peer``
        names its other party."""
        return DeadNotice(messages.thread_update_failed(peer=peer, reason=reason))


class SendSms(MessageJob):
    """Post an outgoing SMS in its thread (when it came from ``/sms``), send it, show it."""

    kind: ClassVar[str] = "send_sms"

    @classmethod
    def of(cls, conversation: conversations.Conversation, message_id: int) -> SendSms:
        return cls(
            message_id=message_id,
            route=Route(
                key=f"send:{message_id}",
                lane=conversation_lane(conversation.id),
                channel=conversation.channel,
            ),
        )

    def dead_notice(
        self,
        message: sms.Message,
        conversation: conversations.Conversation,
        *,
        peer: str,
        reason: str,
    ) -> DeadNotice:
        if message.voipbin_id is not None:
            return super().dead_notice(message, conversation, peer=peer, reason=reason)
        return DeadNotice(messages.not_sent(peer=peer, reason=reason), unsent=True)


class ShowStatus(MessageJob):
    """Redraw a message's status. It runs in the conversation's lane: two redraws of one
    message never race, so an older status can never be drawn over a newer one. ``force``
    redraws an unchanged status (its note changed)."""

    kind: ClassVar[str] = "show_status"

    force: bool = False

    @classmethod
    def of(cls, message: sms.Message, label: str, *, force: bool = False) -> ShowStatus:
        return cls(
            message_id=message.id,
            force=force,
            route=Route(
                key=f"show:{message.id}:{label}", lane=conversation_lane(message.conversation_id)
            ),
        )


class PostInbound(MessageJob):
    """Post a stored inbound SMS in its conversation's thread."""

    kind: ClassVar[str] = "post_inbound"

    @classmethod
    def of(cls, conversation: conversations.Conversation, message_id: int) -> PostInbound:
        return cls(
            message_id=message_id,
            route=Route(
                key=f"inbound:{message_id}",
                lane=conversation_lane(conversation.id),
                channel=conversation.channel,
            ),
        )

    def dead_notice(
        self,
        message: sms.Message,
        conversation: conversations.Conversation,
        *,
        peer: str,
        reason: str,
    ) -> DeadNotice:
        return DeadNotice(
            messages.inbound_not_posted(
                peer=peer, reason=reason, text=message.text, number=conversation.peer_number
            )
        )


class CheckStuck(MessageJob):
    """``alerts.stuck_after`` after a send: is the SMS still not dispatched?"""

    kind: ClassVar[str] = "check_stuck"

    @classmethod
    def of(cls, message_id: int) -> CheckStuck:
        return cls(message_id=message_id, route=Route(key=f"stuck:{message_id}"))


class ReleaseReply(MessageJob):
    """A thread reply's send, once its undo window is over."""

    kind: ClassVar[str] = "release_reply"

    @classmethod
    def of(cls, conversation: conversations.Conversation, message_id: int) -> ReleaseReply:
        return cls(
            message_id=message_id,
            route=Route(key=f"release:{message_id}", lane=reply_delay_lane(conversation.id)),
        )


class TakeInbound(BridgeJob):
    """An accepted inbound SMS, as VoIPbin delivered it, to be stored and posted."""

    kind: ClassVar[str] = "take_inbound"

    voipbin_id: str
    our_number: str
    source: str
    text: str
    received_at: float

    @classmethod
    def of(
        cls, *, voipbin_id: str, our_number: str, source: str, text: str, received_at: float
    ) -> TakeInbound:
        return cls(
            voipbin_id=voipbin_id,
            our_number=our_number,
            source=source,
            text=text,
            received_at=received_at,
            route=Route(key=f"take:{voipbin_id}", lane=inbound_lane(our_number, source)),
        )


class Notice(BridgeJob):
    """A notice posted in ``channel``: in the conversation's thread (``conversation_id``),
    or, as an ``alert``, in the alert channel with a link to the thread, or, with neither,
    in the channel itself. ``retry``: a failed thread reply's message id (a Retry button);
    ``mention``: the user it is addressed to."""

    kind: ClassVar[str] = "notice"
    alerted_when_dead: ClassVar[bool] = False

    # Each field as the previous release read it: ``broadcast`` absent meant True.
    channel_id: str = Field(alias="channel", serialization_alias="channel")
    conversation_id: int | None = None
    text: str
    alert: bool = False
    broadcast: bool = True
    mention: str | None = None
    retry: int | None = None

    model_config = ConfigDict(populate_by_name=True)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @classmethod
    def in_thread(
        cls,
        conversation: conversations.Conversation,
        *,
        key: str,
        text: str,
        broadcast: bool = False,
        mention: str | None = None,
        retry: int | None = None,
    ) -> Notice:
        """A notice in the conversation's thread, after everything already queued for it (in
        the conversation's lane, so it never lands before the message it is about)."""
        return cls(
            channel_id=conversation.channel,
            conversation_id=conversation.id,
            text=text,
            broadcast=broadcast,
            mention=mention,
            retry=retry,
            route=Route(
                key=f"notice:{key}",
                lane=conversation_lane(conversation.id),
                channel=conversation.channel,
            ),
        )

    @classmethod
    def in_channel(cls, channel: str, *, key: str, text: str) -> Notice:
        """A notice in the channel itself (its conversation has no thread)."""
        return cls(channel_id=channel, text=text, route=Route(key=f"notice:{key}", channel=channel))

    @classmethod
    def alert_post(
        cls, alerts: str, *, key: str, text: str, conversation_id: int | None = None
    ) -> Notice:
        """A post in the alert channel ``alerts``, linking to the conversation's thread."""
        return cls(
            channel_id=alerts,
            conversation_id=conversation_id,
            text=text,
            alert=True,
            route=Route(key=f"alert:{key}", channel=alerts),
        )


class Tell(BridgeJob):
    """A message only ``user`` sees (ephemeral), in ``thread_ts`` when given."""

    kind: ClassVar[str] = "tell"
    alerted_when_dead: ClassVar[bool] = False

    channel_id: str = Field(alias="channel", serialization_alias="channel")
    user: str
    thread_ts: str | None = None
    text: str

    model_config = ConfigDict(populate_by_name=True)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @classmethod
    def of(cls, *, key: str, channel: str, user: str, thread_ts: str | None, text: str) -> Tell:
        return cls(
            channel_id=channel,
            user=user,
            thread_ts=thread_ts,
            text=text,
            route=Route(key=f"tell:{key}"),
        )


class RollupAlert(BridgeJob):
    """A failure of ``source``'s conversation, for the alert channel's roll-up."""

    kind: ClassVar[str] = "rollup_alert"

    source: str
    conversation_id: int
    text: str

    @classmethod
    def of(
        cls, alerts: str, *, key: str, conversation: conversations.Conversation, text: str
    ) -> RollupAlert:
        return cls(
            source=conversation.channel,
            conversation_id=conversation.id,
            text=text,
            route=Route(key=f"alert:{key}", lane=alerts_lane(conversation.channel), channel=alerts),
        )


class RollupRedraw(BridgeJob):
    """Redraw a roll-up alert with every failure it lists; one per ``slot_seconds`` slot."""

    kind: ClassVar[str] = "rollup_redraw"

    rollup_id: int

    @classmethod
    def of(
        cls, alerts: str | None, *, rollup_id: int, now: float, slot_seconds: float
    ) -> tuple[RollupRedraw, float]:
        """The redraw of the slot ``now`` is in, and when it runs (when the slot ends)."""
        slot = math.floor(now / slot_seconds)
        job = cls(
            rollup_id=rollup_id,
            route=Route(key=f"rollup-redraw:{rollup_id}:{slot}", channel=alerts),
        )
        return job, (slot + 1) * slot_seconds


KINDS: Mapping[str, type[BridgeJob]] = {
    model.kind: model
    for model in (
        SendSms,
        ShowStatus,
        PostInbound,
        CheckStuck,
        ReleaseReply,
        TakeInbound,
        Notice,
        Tell,
        RollupAlert,
        RollupRedraw,
    )
}


def read(job: queue.Job) -> BridgeJob | None:
    """The model of a stored job (None for a kind the bridge does not know). Raises
    pydantic's ValidationError for a payload that does not fit its kind."""
    model = KINDS.get(job.kind)
    if model is None:
        return None
    route = Route(key=job.key, lane=job.lane, channel=job.channel)
    return model.model_validate({**job.payload, "route": route})


# -- writing ---------------------------------------------------------------------------------


async def enqueue(
    conn: AsyncConnection, job: BridgeJob, *, now: float, run_after: float | None = None
) -> bool:
    """Write ``job`` in the caller's transaction, to run from ``run_after`` (default: now).
    False when a job with its key exists already."""
    return await queue.enqueue(
        conn,
        kind=job.kind,
        key=job.key,
        payload=job.payload(),
        lane=job.lane,
        channel=job.channel,
        now=now,
        run_after=run_after,
    )


def job_row(job: BridgeJob, *, now: float, run_after: float | None = None) -> dict[str, Any]:
    """The jobs row of ``job`` (for ``JobWriter``)."""
    return queue.job_row(
        kind=job.kind,
        key=job.key,
        payload=job.payload(),
        lane=job.lane,
        channel=job.channel,
        now=now,
        run_after=run_after,
    )


# -- running ---------------------------------------------------------------------------------

J = TypeVar("J", bound=BridgeJob)

# A handler gets its job, typed, and the number of this attempt (from 1).
TypedHandler = Callable[[J, int], Awaitable[None]]


class JobHandlers:
    """The handler of each job type; ``for_runner`` is what ``JobRunner`` takes."""

    def __init__(self) -> None:
        self._handlers: dict[type[BridgeJob], Callable[[Any, int], Awaitable[None]]] = {}

    def register(self, job_type: type[J], handler: TypedHandler[J]) -> None:
        self._handlers[job_type] = handler

    def for_runner(self) -> dict[str, Handler]:
        return {job_type.kind: self._runner_handler(job_type) for job_type in self._handlers}

    def _runner_handler(self, job_type: type[BridgeJob]) -> Handler:
        handler = self._handlers[job_type]

        async def run(job: queue.Job) -> None:
            route = Route(key=job.key, lane=job.lane, channel=job.channel)
            await handler(job_type.model_validate({**job.payload, "route": route}), job.attempts)

        return run

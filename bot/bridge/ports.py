"""What the domain needs from Slack and from the SMS provider, the errors they raise, and the
facts that come in from the provider (``InboundSms``, ``StatusReport``), in the domain's own
terms: the adapters (``bot.voipbin``, ``bot.nopublic``) translate the provider's wire format to
them, so nothing of it reaches the domain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class DeliveryError(Exception):
    """A call to Slack or to the SMS provider failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unavailable(DeliveryError):
    """Try again later (timeouts, 5xx, transient errors). For an SMS send: the outcome is
    unknown, the SMS may exist."""


class TimedOut(Unavailable):
    """No answer in time: the provider may still be working on it. For an SMS send: it may
    be stored after a look-up made at once."""


class RateLimited(Unavailable):
    """Wait ``retry_after`` seconds before the next call."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(DeliveryError):
    """Refused for good (an invalid request, a channel the bot is not in, ...). ``status``
    and ``detail``: the provider's HTTP status and its own words, when it gave them."""

    def __init__(self, message: str, *, code: str = "", status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.detail = detail


class MaybeRefused(Unavailable):
    """An SMS send answered with the provider's internal error. VoIPbin refuses a send this
    way (the account's balance, an unverified identity: 500 INTERNAL), but the same answer
    can come after it created the SMS, so it is a refusal only once a look-up finds no SMS.
    ``status`` and ``detail``: the HTTP status and the provider's words."""

    def __init__(self, message: str, *, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An SMS someone sent to one of our numbers, as the provider delivered it. ``sms_id`` is
    the provider's id (a redelivery has the same one); ``sender`` is the other party as the
    provider wrote it, not yet normalised (a number, or a sender name)."""

    sms_id: str
    our_number: str
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The provider's status of an SMS we sent (``sms_id``: its id). ``dispatched``: the
    provider has handed it to a carrier, whatever its status says (some carriers leave it
    ``queued``)."""

    sms_id: str
    status: str
    dispatched: bool = False


# What the provider tells the bridge of its own accord.
Delivery = InboundSms | StatusReport


@dataclass(frozen=True, slots=True)
class SentSms:
    id: str
    status: str


class SmsGateway(Protocol):
    async def send(self, *, source: str, destination: str, text: str) -> SentSms:
        """Send one SMS. Raises Rejected, RateLimited or Unavailable (outcome unknown; its
        MaybeRefused: refused, unless a look-up finds the SMS)."""
        ...

    async def status(self, sms_id: str) -> str:
        """The current status of a sent SMS, ``dispatched`` (``status.DISPATCHED``) when the
        provider handed it to a carrier without a status of its own."""
        ...

    async def find_sent(
        self, *, source: str, destination: str, text: str, since: float
    ) -> list[SentSms]:
        """Sent SMS matching these, created at or after ``since`` (epoch seconds), newest
        first: how a send whose outcome is unknown is reconciled before sending again."""
        ...


@dataclass(frozen=True, slots=True)
class OutgoingView:
    """What the Slack message of an outgoing SMS shows."""

    peer: str
    our_number: str
    author: str  # Slack user id
    text: str
    status: str  # raw status string
    note: str = ""  # e.g. why it failed
    message_id: int = 0  # what a Retry button on a failed SMS sends again (0: no button)
    name: str | None = None  # the contact's name (``/sms name``), when it has one


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One failure listed in a rolled-up alert; ``link`` points at its thread."""

    text: str
    link: str | None = None


class Messenger(Protocol):
    """Slack as the domain sees it. ``key`` makes a post reconcilable: when ``reconcile`` is
    true an earlier attempt may have posted it already, and that post is returned instead of
    posting again."""

    async def open_thread(
        self,
        *,
        channel: str,
        peer: str,
        our_number: str,
        key: str,
        reconcile: bool,
        opted_out: bool = False,
        name: str | None = None,
        previous_thread_ts: str | None = None,
    ) -> str:
        """Post the root message of a number's thread (saying so when the number has opted
        out); returns its ts. ``name``: the contact's name; ``previous_thread_ts``: the
        thread the number used before this one, linked from the root."""
        ...

    async def post_outgoing(
        self, *, channel: str, thread_ts: str, view: OutgoingView, key: str, reconcile: bool
    ) -> str:
        """Post an outgoing SMS (typed with /sms) in its thread; returns its ts."""
        ...

    async def update_outgoing(self, *, channel: str, ts: str, view: OutgoingView) -> None:
        """Show a new status on an outgoing SMS's message."""
        ...

    async def mark_reply(self, *, channel: str, ts: str, status: str, previous: str | None) -> None:
        """Show the status of a thread reply sent as SMS (a person's message: reactions)."""
        ...

    async def post_inbound(
        self,
        *,
        channel: str,
        thread_ts: str,
        sender: str,
        text: str,
        key: str,
        reconcile: bool,
        name: str | None = None,
    ) -> str:
        """Post a received SMS in its thread (``name``: the sender's contact name); returns
        its ts."""
        ...

    async def post_notice(
        self,
        *,
        channel: str,
        thread_ts: str | None,
        text: str,
        broadcast: bool,
        key: str,
        reconcile: bool,
        link: str | None = None,
        mention: str | None = None,
        retry: int | None = None,
    ) -> str:
        """Post a bridge notice. ``text`` is plain text (it is escaped, never interpreted as
        markup); ``link`` is shown as a "view thread" link, ``mention`` (a Slack user id) as
        who did it, ``retry`` (a failed SMS's message id) as a Retry button."""
        ...

    async def tell(self, *, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        """A message only ``user`` sees (plain text, escaped)."""
        ...

    async def post_rollup(
        self, *, channel: str, source: str, items: list[AlertItem], key: str, reconcile: bool
    ) -> str:
        """Post an alert listing failures in channel ``source``; returns its ts."""
        ...

    async def update_rollup(
        self, *, channel: str, ts: str, source: str, items: list[AlertItem]
    ) -> None:
        """Redraw a rolled-up alert with the failures it lists now."""
        ...

    async def permalink(self, *, channel: str, ts: str) -> str | None:
        """A link to a message, or None when Slack cannot give one."""
        ...

    async def user_names(self, user_ids: list[str]) -> dict[str, str]:
        """Display names of Slack users (unknown ones are left out)."""
        ...


@dataclass(frozen=True, slots=True)
class ArchivedSms:
    """An SMS as the provider keeps it: ``peer`` is the other party as the provider wrote
    it (not normalised), ``at`` the creation time in epoch seconds."""

    direction: str  # inbound | outbound
    our_number: str
    peer: str
    text: str
    status: str
    at: float


@runtime_checkable
class SmsArchive(Protocol):
    """The provider's own record of SMS, for numbers the bridge has no messages of."""

    async def recent_messages(self, *, scan: int) -> list[ArchivedSms]:
        """Up to ``scan`` of the account's most recent SMS (both directions, deleted ones
        left out), newest first. Raises RateLimited, Unavailable or Rejected."""
        ...

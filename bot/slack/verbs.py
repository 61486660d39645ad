"""The ``/sms`` verbs, each registered once: the words that call it, its line in the usage,
its parser (pure: text in, what to do or a mistake out) and its handler (does it, returns the
ephemeral answer). The usage shown by ``/sms help`` is generated from the registrations, the
dispatch is a look-up, and every verb runs inside one error wrapper (``Registry.respond``).

A new verb is one registered function::

    @VERBS.verb("claim", help="• `/sms claim`: …", section=SEND, parse=rest_of_line)
    async def claim(rest: str, ctx: Context) -> Answer: ...

The verbs themselves are registered in ``bot.slack.commands`` (sending, opt-out, signature,
help) and ``bot.slack.directory_commands`` (history, contacts, name, status).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.slack import messages
from bot.slack.mrkdwn import mentioned_user_ids
from bot.slack.render import answer

if TYPE_CHECKING:
    from bot.bridge.opt_outs import OptOuts
    from bot.slack.directory_commands import Lookups
    from bot.slack.sending import Sender

log = logging.getLogger(__name__)

Answer = dict[str, Any]  # the ephemeral answer: ``text`` and ``blocks``
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class CommandError:
    """A mistake in what was typed, explained (already safe for Slack); nothing was done."""

    message: str


@dataclass(frozen=True, slots=True)
class Typed:
    """What ``/sms`` was given, as a parser sees it."""

    text: str  # the whole text, stripped, as Slack sends it (``&amp;`` etc.)
    rest: str  # what follows the verb's word and its space
    region: str
    user_names: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use to answer: who asked where, and the parts of the bridge."""

    channel: str
    user: str
    region: str
    opt_outs: OptOuts
    sender: Sender
    lookups: Lookups
    user_names: Callable[[list[str]], Awaitable[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the usage: its title, then its verbs' lines, then ``notes``."""

    title: str
    notes: tuple[str, ...] = ()


SEND = Section(
    "*Send an SMS from this channel's number:*",
    notes=(
        "• The answer tells you how many SMS segments (and which encoding) a message costs; "
        "long messages ask you to confirm with Send / Cancel before they go out.",
        "• Or use the *Send SMS* shortcut, or *Send as SMS* on any message (its ⋮ menu).",
    ),
)
LOOK_UP = Section("*Look things up (only you see the answers):*")
SECTIONS = (SEND, LOOK_UP)


@dataclass(frozen=True)
class Verb(Generic[P]):
    name: str
    words: tuple[str, ...]  # what is typed first (lower case); empty for prefix/default
    help: str  # its line(s) in the usage
    section: Section
    parse: Callable[[Typed], P | CommandError | None]  # None: not this verb after all
    handle: Callable[[P, Context], Awaitable[Answer]]
    prefix: str | None = None  # matched by how the text starts (``from:``)


@dataclass(frozen=True, slots=True)
class Call(Generic[P]):
    """A parsed ``/sms``: the verb, and what its parser made of the text."""

    verb: Verb[P]
    parsed: P | CommandError


def rest_of_line(typed: Typed) -> str:
    """The parser of a verb that takes whatever follows it."""
    return typed.rest.strip()


@dataclass
class Registry:
    verbs: list[Verb[Any]] = field(default_factory=list)
    _words: dict[str, Verb[Any]] = field(default_factory=dict)
    _default: Verb[Any] | None = None

    def verb(
        self,
        name: str,
        *also: str,
        help: str,
        section: Section,
        parse: Callable[[Typed], P | CommandError | None],
        prefix: str | None = None,
        default: bool = False,
    ) -> Callable[
        [Callable[[P, Context], Awaitable[Answer]]], Callable[[P, Context], Awaitable[Answer]]
    ]:
        """Register the decorated handler as the verb ``name`` (also called by ``also``), or
        as the verb of texts starting with ``prefix``, or as the ``default`` (sending)."""

        def register(
            handle: Callable[[P, Context], Awaitable[Answer]],
        ) -> Callable[[P, Context], Awaitable[Answer]]:
            words = () if prefix is not None or default else (name, *also)
            self.add(Verb(name, words, help, section, parse, handle, prefix), default=default)
            return handle

        return register

    def add(self, verb: Verb[Any], *, default: bool = False) -> None:
        """Register ``verb`` (what ``verb()`` does, for a verb built by hand)."""
        taken = [w for w in verb.words if w.lower() in self._words]
        if taken or any(v.name == verb.name for v in self.verbs):
            raise ValueError(f"/sms {verb.name} is registered twice ({taken or verb.name})")
        if default:
            if self._default is not None:
                raise ValueError("/sms has one default verb")
            self._default = verb
        for word in verb.words:
            self._words[word.lower()] = verb
        self.verbs.append(verb)

    def usage(self) -> str:
        """Every registered verb's line, by section, in the order they were registered."""
        parts = []
        for section in SECTIONS:
            lines = [v.help for v in self.verbs if v.section is section]
            if lines:
                parts.append("\n".join([section.title, *lines, *section.notes]))
        return "\n\n".join(parts)

    def parse(
        self, text: str, *, region: str, user_names: dict[str, str] | None = None
    ) -> Call[Any]:
        """Which verb ``text`` calls, and what its parser made of it."""
        stripped = text.strip()
        word, _, rest = stripped.partition(" ")
        typed = Typed(text=stripped, rest=rest, region=region, user_names=user_names)
        candidates = [self._words[word.lower()]] if word.lower() in self._words else []
        candidates += [v for v in self.verbs if v.prefix and stripped.lower().startswith(v.prefix)]
        for verb in candidates:
            parsed = verb.parse(typed)
            if parsed is not None:
                return Call(verb, parsed)
        assert self._default is not None, "no default /sms verb registered"
        parsed = self._default.parse(typed)
        assert parsed is not None, "the default verb takes every text"
        return Call(self._default, parsed)

    async def respond(self, text: str, ctx: Context) -> Answer:
        """The answer to ``/sms <text>``, whatever happens: a mistake is explained, and an
        unexpected failure in any verb is logged once with its traceback and answered with
        the same words (``messages.failed``), so the ack always goes out."""
        name = "(parsing)"
        try:
            names = await ctx.user_names(mentioned_user_ids(text))
            call = self.parse(text, region=ctx.region, user_names=names)
            name = call.verb.name
            if isinstance(call.parsed, CommandError):
                return answer(messages.mistake(call.parsed.message))
            return await call.verb.handle(call.parsed, ctx)
        except Exception:
            log.exception("/sms %s failed channel=%s user=%s", name, ctx.channel, ctx.user)
            return answer(messages.failed())


VERBS = Registry()

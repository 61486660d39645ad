"""``/sms history|contacts|name|status``: parsing them, and answering them (ephemeral).

Parsing never touches the store; an invalid command is an error message and changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.bridge.directory import HISTORY_DEFAULT, HISTORY_MAX, Directory
from bot.config import AppConfig
from bot.phone import PhoneNumberError, parse_recipients
from bot.slack import directory_render as view
from bot.slack import messages
from bot.slack.links import ThreadLinks
from bot.slack.mrkdwn import escape, to_plain_text
from bot.slack.render import Rendered
from bot.slack.verbs import LOOK_UP, VERBS, Answer, CommandError, Context, Typed, Verb

log = logging.getLogger(__name__)

NAME_MAX = 80
# /sms contacts counts up to this many numbers, and asks Slack for links to the first ones.
CONTACTS_COUNTED = 2_000
CONTACTS_LINKED = 100
# The number: one piece, or Slack's <tel:...|...> wrapper (which holds spaces).
_NUMBER_THEN_REST = re.compile(r"^\s*(<[^<>]*>|\S+)(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ShowHistory:
    number: str
    limit: int = HISTORY_DEFAULT


@dataclass(frozen=True, slots=True)
class ListContacts:
    pass


@dataclass(frozen=True, slots=True)
class NameContact:
    number: str
    name: str | None  # None: remove the name


@dataclass(frozen=True, slots=True)
class ShowStatus:
    pass


DirectoryCommand = ShowHistory | ListContacts | NameContact | ShowStatus
DIRECTORY_VERBS = frozenset({"history", "contacts", "name", "status"})


def _number(raw: str, region: str, example: str) -> str:
    try:
        return parse_recipients(raw, region, max_recipients=1)[0]
    except PhoneNumberError as exc:
        # What was typed is Slack-encoded and could hold <!channel>: decode, then escape.
        raise ValueError(
            messages.write_it_like(escape(to_plain_text(exc.reason)), example)
        ) from None


def parse_directory_command(verb: str, rest: str, *, region: str) -> DirectoryCommand | str | None:
    """``/sms <verb> <rest>`` when ``verb`` is one of ours: the command, or an error message
    to show (already safe for Slack). None when ``verb`` is not one of these commands."""
    verb = verb.lower()
    if verb not in DIRECTORY_VERBS:
        return None
    rest = rest.strip()
    if verb in ("contacts", "status"):
        if rest:
            return messages.takes_nothing(verb)
        return ListContacts() if verb == "contacts" else ShowStatus()
    example = (
        "/sms history +31612345678" if verb == "history" else "/sms name +31612345678 Anna de Vries"
    )
    match = _NUMBER_THEN_REST.match(rest)
    if match is None:
        return messages.which_number(example)
    try:
        number = _number(match.group(1), region, example)
    except ValueError as exc:
        return str(exc)
    tail = (match.group(2) or "").strip()
    if verb == "history":
        if not tail:
            return ShowHistory(number=number)
        if not tail.isdigit() or not 1 <= int(tail) <= HISTORY_MAX:
            return messages.history_count(HISTORY_MAX, HISTORY_DEFAULT)
        return ShowHistory(number=number, limit=int(tail))
    name = " ".join(to_plain_text(tail).split())
    if not name:
        return messages.name_missing()
    if name == "-":
        return NameContact(number=number, name=None)
    if len(name) > NAME_MAX:
        return messages.name_too_long(len(name), NAME_MAX)
    return NameContact(number=number, name=name)


class Lookups:
    """Answers the directory commands of ``/sms``."""

    def __init__(self, *, directory: Directory, links: ThreadLinks, config: AppConfig) -> None:
        self._directory = directory
        self._links = links
        self._config = config

    async def reply(self, command: DirectoryCommand, *, channel: str, user: str) -> dict[str, Any]:
        """The ephemeral answer's ``text`` and ``blocks``. A failure is raised, to the error
        wrapper every verb runs in (``bot.slack.verbs``)."""
        rendered = await answer(
            command,
            channel=channel,
            user=user,
            directory=self._directory,
            links=self._links,
            config=self._config,
        )
        return {"text": rendered.text, "blocks": rendered.blocks}


async def answer(
    command: DirectoryCommand,
    *,
    channel: str,
    user: str,
    directory: Directory,
    links: ThreadLinks,
    config: AppConfig,
) -> Rendered:
    """Run a directory command for ``user`` in ``channel``; the ephemeral answer."""
    if isinstance(command, ShowStatus):
        return view.status(await directory.health())
    if isinstance(command, NameContact):
        renamed = await directory.name_contact(
            channel=channel, user=user, peer=command.number, name=command.name
        )
        return view.renamed(renamed)
    if not config.numbers_for(channel):
        return Rendered(
            text=messages.no_conversations(), blocks=[view.section(messages.no_conversations())]
        )
    if isinstance(command, ShowHistory):
        history = await directory.history(channel=channel, peer=command.number, limit=command.limit)
        link = None
        if history.thread is not None:
            link = await links.link(history.thread.channel, history.thread.thread_ts)
        return view.history(history, thread_link=link)
    # All of them, to say how many are not shown; links only for those that can be (one
    # message holds about 60 lines of a contact, each with its link).
    contacts = await directory.contacts(channel=channel, limit=CONTACTS_COUNTED)
    found = await links.links(
        (c.thread.channel, c.thread.thread_ts)
        for c in contacts[:CONTACTS_LINKED]
        if c.thread is not None
    )
    return view.contacts(contacts, links=found)


# -- the verbs ---------------------------------------------------------------------------------


def _parse(typed: Typed) -> DirectoryCommand | CommandError | None:
    parsed = parse_directory_command(typed.text.partition(" ")[0], typed.rest, region=typed.region)
    return CommandError(parsed) if isinstance(parsed, str) else parsed


async def _look_up(parsed: DirectoryCommand, ctx: Context) -> Answer:
    return await ctx.lookups.reply(parsed, channel=ctx.channel, user=ctx.user)


def _verb(name: str, help: str) -> None:
    # One handler for the four; the type is spelled out, as mypy cannot infer a union.
    VERBS.add(Verb[DirectoryCommand](name, (name,), help, LOOK_UP, _parse, _look_up))


_verb(
    "history",
    "• `/sms history +31612345678 [count]`: the last messages with a number in this channel "
    f"({HISTORY_DEFAULT} unless you say, at most {HISTORY_MAX}).",
)
_verb(
    "contacts",
    "• `/sms contacts`: the numbers this channel has texted, with links to their threads.",
)
_verb(
    "name",
    "• `/sms name +31612345678 Anna de Vries`: name a number everywhere the bridge shows it "
    "(`/sms name +31612345678 -` removes the name).",
)
_verb(
    "status",
    "• `/sms status`: the bridge's health: its queue, recent errors, opted-out numbers.",
)

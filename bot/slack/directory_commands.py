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
from bot.slack import render
from bot.slack.links import ThreadLinks
from bot.slack.mrkdwn import escape, to_plain_text
from bot.slack.render import Rendered

log = logging.getLogger(__name__)

NAME_MAX = 80
# /sms contacts counts up to this many numbers, and asks Slack for links to the first ones.
CONTACTS_COUNTED = 2_000
CONTACTS_LINKED = 100
# The number: one piece, or Slack's <tel:...|...> wrapper (which holds spaces).
_NUMBER_THEN_REST = re.compile(r"^\s*(<[^<>]*>|\S+)(?:\s+(.*))?$", re.DOTALL)

USAGE = (
    "• `/sms history +31612345678 [count]`: the last messages with a number in this channel "
    f"({HISTORY_DEFAULT} unless you say, at most {HISTORY_MAX}).\n"
    "• `/sms contacts`: the numbers this channel has texted, with links to their threads.\n"
    "• `/sms name +31612345678 Anna de Vries`: name a number everywhere the bridge shows it "
    "(`/sms name +31612345678 -` removes the name).\n"
    "• `/sms status`: the bridge's health: its queue, recent errors, opted-out numbers."
)


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
DIRECTORY_COMMANDS = (ShowHistory, ListContacts, NameContact, ShowStatus)
VERBS = frozenset({"history", "contacts", "name", "status"})


def _number(raw: str, region: str, example: str) -> str:
    try:
        return parse_recipients(raw, region, max_recipients=1)[0]
    except PhoneNumberError as exc:
        # What was typed is Slack-encoded and could hold <!channel>: decode, then escape.
        raise ValueError(
            f"{escape(to_plain_text(exc.reason))}\n\nWrite it like `{example}`"
        ) from None


def parse_directory_command(verb: str, rest: str, *, region: str) -> DirectoryCommand | str | None:
    """``/sms <verb> <rest>`` when ``verb`` is one of ours: the command, or an error message
    to show (already safe for Slack). None when ``verb`` is not one of these commands."""
    verb = verb.lower()
    if verb not in VERBS:
        return None
    rest = rest.strip()
    if verb in ("contacts", "status"):
        if rest:
            return f"`/sms {verb}` takes nothing after it. Write just `/sms {verb}`."
        return ListContacts() if verb == "contacts" else ShowStatus()
    example = (
        "/sms history +31612345678" if verb == "history" else "/sms name +31612345678 Anna de Vries"
    )
    match = _NUMBER_THEN_REST.match(rest)
    if match is None:
        return f"Which number? Write it like `{example}`"
    try:
        number = _number(match.group(1), region, example)
    except ValueError as exc:
        return str(exc)
    tail = (match.group(2) or "").strip()
    if verb == "history":
        if not tail:
            return ShowHistory(number=number)
        if not tail.isdigit() or not 1 <= int(tail) <= HISTORY_MAX:
            return (
                f"After the number, write how many messages to show (1 to {HISTORY_MAX}), or "
                f"nothing for the last {HISTORY_DEFAULT}: `/sms history +31612345678 20`"
            )
        return ShowHistory(number=number, limit=int(tail))
    name = " ".join(to_plain_text(tail).split())
    if not name:
        return (
            "Write the name after the number: `/sms name +31612345678 Anna de Vries` "
            "(or `-` instead of a name to remove it)."
        )
    if name == "-":
        return NameContact(number=number, name=None)
    if len(name) > NAME_MAX:
        return f"That name is {len(name)} characters; keep it to {NAME_MAX}."
    return NameContact(number=number, name=name)


NOT_ROUTED = (
    ":warning: This channel has no VoIPbin number, so it has no SMS conversations. Use a "
    "channel listed under `numbers` in the bridge's app.yaml."
)


class Lookups:
    """Answers the directory commands of ``/sms``."""

    def __init__(self, *, directory: Directory, links: ThreadLinks, config: AppConfig) -> None:
        self._directory = directory
        self._links = links
        self._config = config

    async def reply(self, command: DirectoryCommand, *, channel: str, user: str) -> dict[str, Any]:
        """The ephemeral answer's ``text`` and ``blocks``."""
        try:
            rendered = await answer(
                command,
                channel=channel,
                user=user,
                directory=self._directory,
                links=self._links,
                config=self._config,
            )
        except Exception:
            log.exception("/sms %s failed channel=%s", type(command).__name__, channel)
            return render.answer(
                ":x: The bridge could not answer that right now; nothing was changed. "
                "Please try again in a minute."
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
        return Rendered(text=NOT_ROUTED, blocks=[view.section(NOT_ROUTED)])
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

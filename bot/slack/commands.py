"""Parsing the text of ``/sms`` into what to do, with errors a person can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.phone import PhoneNumberError, parse_recipients
from bot.slack.directory_commands import USAGE as DIRECTORY_USAGE
from bot.slack.directory_commands import DirectoryCommand, parse_directory_command
from bot.slack.mrkdwn import escape, to_plain_text

# The recipients: one or more numbers separated by commas; a number may be wrapped by Slack
# as <tel:+31...|+31 6 ...>, which holds spaces, so a wrapper counts as one piece.
_PIECE = r"(?:<[^<>]*>|[^\s,<>]+)"
_COMMAND = re.compile(rf"^\s*({_PIECE}(?:\s*,\s*{_PIECE})*)(?:\s+(.*))?$", re.DOTALL)

USAGE = (
    "*Send an SMS from this channel's number:*\n"
    "`/sms +31612345678 Your message`\n"
    "• The number: international (`+31612345678`), or national in this workspace's region "
    "(`0612345678`); `-`, `(`, `)` and `.` may separate digits, spaces may not.\n"
    "• Several numbers: separate them with commas, no spaces: `/sms +31612345678,+31687654321 Hi`"
    " — each number gets its own thread.\n"
    "• The conversation continues in the number's thread: reply there to send another SMS.\n"
    "• `/sms optout +31612345678` / `/sms optin +31612345678`: stop or allow SMS to a number "
    "that asked for it in another way (numbers that text STOP are opted out by themselves).\n"
    "• `/sms from:+442079460958 +31612345678 Hi`: send from another of this channel's numbers "
    "(without `from:`, the channel's first number sends).\n"
    '• `/sms signature "— Anna, Acme"`: add a line to every SMS you send (`/sms signature '
    "off` removes it; it counts toward the message's length).\n"
    "• The answer tells you how many SMS segments (and which encoding) a message costs; long "
    "messages ask you to confirm with Send / Cancel before they go out.\n"
    "• Or use the *Send SMS* shortcut, or *Send as SMS* on any message (its ⋮ menu)."
)
# Looking things up: history, contacts, names, status (bot/slack/directory_commands.py).
USAGE = f"{USAGE}\n\n*Look things up (only you see the answers):*\n{DIRECTORY_USAGE}"


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class SendSms:
    recipients: list[str]
    text: str
    sender: str | None = None  # from:+44...: which of the channel's numbers sends


@dataclass(frozen=True, slots=True)
class SetSignature:
    signature: str | None  # None: show the current one; "" clears it


SIGNATURE_MAX = 100
_FROM = re.compile(r"^from:\s*(<[^<>]*>|\S+)(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)
_QUOTES = "\"'“”‘’„«»"


@dataclass(frozen=True, slots=True)
class SetOptOut:
    number: str
    opted_out: bool


@dataclass(frozen=True, slots=True)
class CommandError:
    message: str


def _reason(error: PhoneNumberError) -> str:
    # The reason repeats what was typed, which is Slack-encoded and could hold <!channel>:
    # decode it, then escape it, so it is shown as typed and can never ping anyone.
    return escape(to_plain_text(error.reason))


def parse_sms_command(
    text: str, *, region: str, user_names: dict[str, str] | None = None
) -> ShowHelp | SendSms | SetOptOut | SetSignature | DirectoryCommand | CommandError:
    """What ``/sms <text>`` asks for. ``text`` is as Slack sends it (``&amp;`` etc.)."""
    stripped = text.strip()
    if not stripped or stripped.lower() in {"help", "-h", "--help", "?"}:
        return ShowHelp()
    verb, _, rest = stripped.partition(" ")
    if verb.lower() in {"optout", "optin"}:
        try:
            number = parse_recipients(rest.strip(), region, max_recipients=1)[0]
        except PhoneNumberError as exc:
            return CommandError(
                f"{_reason(exc)}\n\nWrite it like `/sms {verb.lower()} +31612345678`"
            )
        return SetOptOut(number=number, opted_out=verb.lower() == "optout")
    if verb.lower() == "signature":
        return _signature(rest)
    lookup = parse_directory_command(verb, rest, region=region)
    if isinstance(lookup, str):
        return CommandError(lookup)
    if lookup is not None:
        return lookup
    sender_match = _FROM.match(stripped)
    if sender_match is not None:
        return _from(sender_match, region=region, user_names=user_names)
    match = _COMMAND.match(stripped)
    if match is None:
        return CommandError(f"I could not find a phone number at the start.\n\n{USAGE}")
    token, body = match.group(1), (match.group(2) or "")
    try:
        recipients = parse_recipients(re.sub(r"\s*,\s*", ",", token), region)
    except PhoneNumberError as exc:
        return CommandError(f"{_reason(exc)}\n\n{USAGE}")
    message = to_plain_text(body, user_names=user_names).strip()
    if not message:
        return CommandError(
            "There is no text to send. Write the message after the number: "
            "`/sms +31612345678 Your message`"
        )
    return SendSms(recipients=recipients, text=message)


def _signature(rest: str) -> SetSignature | CommandError:
    """``/sms signature "— Anna, Acme"`` sets it, ``off`` clears it, nothing shows it."""
    value = to_plain_text(rest).strip()
    if not value:
        return SetSignature(None)
    if value.lower() in {"off", "none", "clear", "remove"}:
        return SetSignature("")
    if len(value) >= 2 and value[0] in _QUOTES and value[-1] in _QUOTES:
        value = value[1:-1].strip()
    if not value:
        return SetSignature("")
    if len(value) > SIGNATURE_MAX:
        return CommandError(
            f"That signature is {len(value)} characters; keep it to {SIGNATURE_MAX} (it goes "
            "on every SMS you send, and is paid for in every one)."
        )
    return SetSignature(value)


def _from(
    match: re.Match[str], *, region: str, user_names: dict[str, str] | None
) -> SendSms | CommandError:
    """``/sms from:+44... <number> <text>``: which of the channel's numbers sends."""
    try:
        sender = parse_recipients(match.group(1), region, max_recipients=1)[0]
    except PhoneNumberError as exc:
        return CommandError(
            f"from: {_reason(exc)}\n\nWrite it like `/sms from:+442079460958 +31612345678 Hi`"
        )
    rest = parse_sms_command(match.group(2) or "", region=region, user_names=user_names)
    if isinstance(rest, SendSms):
        return SendSms(recipients=rest.recipients, text=rest.text, sender=sender)
    if isinstance(rest, CommandError):
        return rest
    return CommandError(
        "After from:<number>, write the number to text and the message: "
        "`/sms from:+442079460958 +31612345678 Hi`"
    )

"""Parsing the text of ``/sms`` into what to do, with errors a person can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.phone import PhoneNumberError, parse_recipients
from bot.slack.mrkdwn import to_plain_text

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
    "• The conversation continues in the number's thread: reply there to send another SMS."
)


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class SendSms:
    recipients: list[str]
    text: str


@dataclass(frozen=True, slots=True)
class CommandError:
    message: str


def parse_sms_command(
    text: str, *, region: str, user_names: dict[str, str] | None = None
) -> ShowHelp | SendSms | CommandError:
    """What ``/sms <text>`` asks for. ``text`` is as Slack sends it (``&amp;`` etc.)."""
    stripped = text.strip()
    if not stripped or stripped.lower() in {"help", "-h", "--help", "?"}:
        return ShowHelp()
    match = _COMMAND.match(stripped)
    if match is None:
        return CommandError(f"I could not find a phone number at the start.\n\n{USAGE}")
    token, body = match.group(1), (match.group(2) or "")
    try:
        recipients = parse_recipients(re.sub(r"\s*,\s*", ",", token), region)
    except PhoneNumberError as exc:
        return CommandError(f"{exc.reason}\n\n{USAGE}")
    message = to_plain_text(body, user_names=user_names).strip()
    if not message:
        return CommandError(
            "There is no text to send. Write the message after the number: "
            "`/sms +31612345678 Your message`"
        )
    return SendSms(recipients=recipients, text=message)

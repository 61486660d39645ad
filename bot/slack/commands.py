"""Parsing the text of ``/sms`` into what to do, with errors a person can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.phone import PhoneNumberError, parse_recipients
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
    "that asked for it in another way (numbers that text STOP are opted out by themselves)."
)


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class SendSms:
    recipients: list[str]
    text: str


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
) -> ShowHelp | SendSms | SetOptOut | CommandError:
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

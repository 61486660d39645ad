"""The ``/sms`` verbs for sending and what goes with it (the default send, ``from:``,
``optout`` / ``optin``, ``signature``, ``help``): their parsers, pure, with errors a person can
act on, and their handlers. Registered in ``bot.slack.verbs.VERBS``; the look-ups are in
``bot.slack.directory_commands``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.bridge.checks import NotRouted
from bot.phone import PhoneNumberError, format_international, parse_recipients
from bot.slack import directory_commands as _lookups  # noqa: F401  (registers its verbs first)
from bot.slack import messages
from bot.slack.directory_commands import DirectoryCommand
from bot.slack.mrkdwn import escape, to_plain_text
from bot.slack.render import answer
from bot.slack.verbs import LOOK_UP, SEND, VERBS, Answer, CommandError, Context, Typed

__all__ = [
    "SIGNATURE_MAX",
    "CommandError",
    "SendSms",
    "SetOptOut",
    "SetSignature",
    "ShowHelp",
    "parse_sms_command",
    "usage",
]

# The recipients: one or more numbers separated by commas; a number may be wrapped by Slack
# as <tel:+31...|+31 6 ...>, which holds spaces, so a wrapper counts as one piece.
_PIECE = r"(?:<[^<>]*>|[^\s,<>]+)"
_COMMAND = re.compile(rf"^\s*({_PIECE}(?:\s*,\s*{_PIECE})*)(?:\s+(.*))?$", re.DOTALL)


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


def usage() -> str:
    """What ``/sms help`` shows: every registered verb."""
    return VERBS.usage()


def _reason(error: PhoneNumberError) -> str:
    # The reason repeats what was typed, which is Slack-encoded and could hold <!channel>:
    # decode it, then escape it, so it is shown as typed and can never ping anyone.
    return escape(to_plain_text(error.reason))


def parse_sms_command(
    text: str, *, region: str, user_names: dict[str, str] | None = None
) -> ShowHelp | SendSms | SetOptOut | SetSignature | DirectoryCommand | CommandError:
    """What ``/sms <text>`` asks for. ``text`` is as Slack sends it (``&amp;`` etc.)."""
    parsed: ShowHelp | SendSms | SetOptOut | SetSignature | DirectoryCommand | CommandError
    parsed = VERBS.parse(text, region=region, user_names=user_names).parsed
    return parsed


# -- sending: the default verb, and from: ----------------------------------------------------


def _parse_send(typed: Typed) -> SendSms | CommandError:
    match = _COMMAND.match(typed.text)
    if match is None:
        return CommandError(messages.with_usage(messages.no_number_at_start(), usage()))
    token, body = match.group(1), (match.group(2) or "")
    try:
        recipients = parse_recipients(re.sub(r"\s*,\s*", ",", token), typed.region)
    except PhoneNumberError as exc:
        return CommandError(messages.with_usage(_reason(exc), usage()))
    message = to_plain_text(body, user_names=typed.user_names).strip()
    if not message:
        return CommandError(messages.no_text())
    return SendSms(recipients=recipients, text=message)


@VERBS.verb(
    "send",
    default=True,
    section=SEND,
    parse=_parse_send,
    help=(
        "`/sms +31612345678 Your message`\n"
        "• The number: international (`+31612345678`), or national in this workspace's region "
        "(`0612345678`); `-`, `(`, `)` and `.` may separate digits, spaces may not.\n"
        "• Several numbers: separate them with commas, no spaces: "
        "`/sms +31612345678,+31687654321 Hi` — each number gets its own thread.\n"
        "• The conversation continues in the number's thread: reply there to send another SMS."
    ),
)
async def send(parsed: SendSms, ctx: Context) -> Answer:
    outcome = await ctx.sender.send(
        channel=ctx.channel,
        user=ctx.user,
        recipients=parsed.recipients,
        text=parsed.text,
        our_number=parsed.sender,
    )
    return outcome.message()


def _parse_opt_out(typed: Typed) -> SetOptOut | CommandError:
    verb = typed.text.partition(" ")[0].lower()
    try:
        number = parse_recipients(typed.rest.strip(), typed.region, max_recipients=1)[0]
    except PhoneNumberError as exc:
        return CommandError(messages.write_it_like(_reason(exc), f"/sms {verb} +31612345678"))
    return SetOptOut(number=number, opted_out=verb == "optout")


@VERBS.verb(
    "optout",
    "optin",
    section=SEND,
    parse=_parse_opt_out,
    help=(
        "• `/sms optout +31612345678` / `/sms optin +31612345678`: stop or allow SMS to a "
        "number that asked for it in another way (numbers that text STOP are opted out by "
        "themselves)."
    ),
)
async def opt_out(parsed: SetOptOut, ctx: Context) -> Answer:
    try:
        changed = await ctx.opt_outs.set_by_hand(
            channel=ctx.channel, user=ctx.user, peer=parsed.number, opted_out=parsed.opted_out
        )
    except NotRouted:
        return answer(messages.no_number())
    number = escape(format_international(parsed.number))
    return answer(messages.opt_state(number, opted_out=parsed.opted_out, changed=changed))


def _parse_from(typed: Typed) -> SendSms | CommandError | None:
    """``/sms from:+44... <number> <text>``: which of the channel's numbers sends."""
    match = _FROM.match(typed.text)
    if match is None:
        return None  # a send to a "number" that starts with from:
    example = "/sms from:+442079460958 +31612345678 Hi"
    try:
        sender = parse_recipients(match.group(1), typed.region, max_recipients=1)[0]
    except PhoneNumberError as exc:
        return CommandError(messages.write_it_like(f"from: {_reason(exc)}", example))
    rest = parse_sms_command(match.group(2) or "", region=typed.region, user_names=typed.user_names)
    if isinstance(rest, SendSms):
        return SendSms(recipients=rest.recipients, text=rest.text, sender=sender)
    if isinstance(rest, CommandError):
        return rest
    return CommandError(messages.from_what())


VERBS.verb(
    "from:",
    prefix="from:",
    section=SEND,
    parse=_parse_from,
    help=(
        "• `/sms from:+442079460958 +31612345678 Hi`: send from another of this channel's "
        "numbers (without `from:`, the channel's first number sends)."
    ),
)(send)


# -- signature ---------------------------------------------------------------------------------


def _parse_signature(typed: Typed) -> SetSignature | CommandError:
    """``/sms signature "— Anna, Acme"`` sets it, ``off`` clears it, nothing shows it."""
    value = to_plain_text(typed.rest).strip()
    if not value:
        return SetSignature(None)
    if value.lower() in {"off", "none", "clear", "remove"}:
        return SetSignature("")
    if len(value) >= 2 and value[0] in _QUOTES and value[-1] in _QUOTES:
        value = value[1:-1].strip()
    if not value:
        return SetSignature("")
    if len(value) > SIGNATURE_MAX:
        return CommandError(messages.signature_too_long(len(value), SIGNATURE_MAX))
    return SetSignature(value)


@VERBS.verb(
    "signature",
    section=SEND,
    parse=_parse_signature,
    help=(
        '• `/sms signature "— Anna, Acme"`: add a line to every SMS you send (`/sms '
        "signature off` removes it; it counts toward the message's length)."
    ),
)
async def signature(parsed: SetSignature, ctx: Context) -> Answer:
    return answer(await ctx.sender.set_signature(ctx.user, parsed))


# -- help --------------------------------------------------------------------------------------


def _parse_help(typed: Typed) -> ShowHelp | None:
    # Only the word alone: "/sms help me" is read as a send (and answered with the usage).
    return ShowHelp() if not typed.rest.strip() else None


@VERBS.verb(
    "help",
    "-h",
    "--help",
    "?",
    "",  # /sms with nothing after it
    section=LOOK_UP,
    parse=_parse_help,
    help="• `/sms help`: this list.",
)
async def show_help(parsed: ShowHelp, ctx: Context) -> Answer:
    return answer(usage())

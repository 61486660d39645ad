"""What the Slack side says: acknowledgements, prompts, refusals and the mistakes ``/sms``
explains, each sentence written once as a small named function (as Bolt's
``slack_bolt/logger/messages.py`` does). Callers pass facts; every piece of typed or external
text that reaches a function here is already escaped Slack markup unless its argument says
otherwise. The ``/sms`` usage is generated from the verb registry (``bot.slack.verbs``)."""

from __future__ import annotations

# -- what happened to a send -------------------------------------------------------------


def nothing_sent() -> str:
    """The words that close every answer where no SMS went out."""
    return "Nothing was sent."


def failed() -> str:
    """Any unexpected failure while answering someone in Slack (a ``/sms`` verb, a button,
    the modal): the work was not recorded, so nothing happened; it is safe to try again."""
    return (
        ":x: The bridge could not do that right now; nothing was sent or changed. Please try "
        "again in a minute."
    )


def no_number() -> str:
    """``/sms`` in a channel that no VoIPbin number is routed to."""
    return (
        ":warning: This channel has no VoIPbin number, so /sms cannot send from here. Use a "
        "channel listed under `numbers` in the bridge's app.yaml, or ask the operator to route "
        f"a number to this channel. {nothing_sent()}"
    )


def no_conversations() -> str:
    """A lookup in a channel that no VoIPbin number is routed to."""
    return (
        ":warning: This channel has no VoIPbin number, so it has no SMS conversations. Use a "
        "channel listed under `numbers` in the bridge's app.yaml."
    )


def not_routed_here(number: str, ours: str) -> str:
    """``from:`` a number that is not this channel's; ``ours`` lists the channel's (or
    ``none``)."""
    return (
        f":warning: {number} is not one of this channel's numbers, so it cannot send from "
        f"here (this channel's: {ours}). {nothing_sent()}"
    )


def sending(to: str, ours: str, cost: str) -> str:
    """The acknowledgement of a send that was recorded."""
    return f":outbox_tray: Sending to {to} from {ours}: {cost}. Follow it in the number's thread."


def refused(reason: str) -> str:
    """A policy refusal; ``reason`` is the rule's own (escaped) words."""
    return f":no_entry: {reason}"


def already_sent() -> str:
    return ":information_source: That SMS was already sent; nothing more was sent."


def already_sent_again() -> str:
    """Retry on an SMS that is on its way again already."""
    return ":information_source: That SMS was already sent again; nothing more was sent."


def confirm_head(to: str, ours: str, cost: str, total: int | None) -> str:
    """Send / Cancel before a long message goes out; ``total`` segments for several
    recipients."""
    in_all = f", {total} in all" if total is not None else ""
    return f":warning: This SMS to {to} from {ours} is {cost}{in_all}. Send it?"


def quote_cut(rest: int) -> str:
    """Under a quote too long for one message."""
    return (
        f"_… and about {rest:,} more characters, not shown here: Send sends the whole "
        "message, and its thread shows all of it._"
    )


def held_state(state: str) -> str:
    """A Send or Cancel click on a held SMS that is no longer waiting: ``state`` is what
    became of it (``sent``, ``cancelled``, ``refused``, ``expired``; anything else:
    ``unknown``)."""
    if state == "sent":
        return already_sent()
    if state == "cancelled":
        return ":information_source: That SMS was cancelled; nothing was sent."
    if state == "refused":
        return ":information_source: That SMS was refused; nothing was sent."
    if state == "expired":
        return (
            ":hourglass: That SMS waited more than an hour for your Send; nothing was sent. "
            "Send it again with /sms if it is still meant."
        )
    return ":warning: That SMS is not waiting for your confirmation; nothing was sent."


def cancelled() -> str:
    return f":wastebasket: Cancelled. {nothing_sent()}"


# -- the Send SMS modal ----------------------------------------------------------------------


def modal_no_numbers() -> str:
    return ":warning: The bridge has no VoIPbin number in its app.yaml yet, so it cannot send SMS."


def modal_pick_a_number() -> str:
    return "Pick one of the bridge's numbers."


def modal_no_text() -> str:
    return "Write the message to send."


def modal_not_a_member() -> str:
    return "Only members of this number's channel may send from it; join the channel first."


# -- the acknowledgements of the other verbs ----------------------------------------------


def opt_state(number: str, *, opted_out: bool, changed: bool) -> str:
    state = "opted out" if opted_out else "opted in"
    note = "" if changed else " (it already was)"
    return f"{number} is {state}{note}."


def no_signature() -> str:
    return (
        'You have no signature. Set one with `/sms signature "— Anna, Acme"`: it is added on '
        "a line of its own to every SMS you send."
    )


def your_signature(signature: str) -> str:
    return f"Your signature: {signature} (`/sms signature off` removes it)."


def signature_removed() -> str:
    return "Your signature is removed; your SMS go out as you type them."


def signature_set(signature: str, hint: str | None) -> str:
    """``hint``: what in the signature forces UCS-2, if anything does."""
    warning = f"\n:warning: It makes every SMS you send UCS-2: {hint}." if hint else ""
    return (
        f"Your signature is set: every SMS you send (with /sms and in threads) ends with "
        f"“{signature}” on a line of its own, and it counts toward the message's "
        f"length.{warning}"
    )


# -- the mistakes /sms explains ------------------------------------------------------------


def mistake(message: str) -> str:
    """How every ``/sms`` mistake is shown."""
    return f":warning: {message}"


def write_it_like(reason: str, example: str) -> str:
    """``reason`` (escaped) why what was typed is not a number, then how to write it."""
    return f"{reason}\n\nWrite it like `{example}`"


def with_usage(message: str, usage: str) -> str:
    return f"{message}\n\n{usage}"


def no_number_at_start() -> str:
    return "I could not find a phone number at the start."


def no_text() -> str:
    return (
        "There is no text to send. Write the message after the number: "
        "`/sms +31612345678 Your message`"
    )


def from_what() -> str:
    """``from:<number>`` followed by something that is not a send."""
    return (
        "After from:<number>, write the number to text and the message: "
        "`/sms from:+442079460958 +31612345678 Hi`"
    )


def signature_too_long(length: int, limit: int) -> str:
    return (
        f"That signature is {length} characters; keep it to {limit} (it goes on every SMS "
        "you send, and is paid for in every one)."
    )


def takes_nothing(verb: str) -> str:
    return f"`/sms {verb}` takes nothing after it. Write just `/sms {verb}`."


def which_number(example: str) -> str:
    return f"Which number? Write it like `{example}`"


def history_count(limit: int, default: int) -> str:
    return (
        f"After the number, write how many messages to show (1 to {limit}), or nothing for "
        f"the last {default}: `/sms history +31612345678 20`"
    )


def name_missing() -> str:
    return (
        "Write the name after the number: `/sms name +31612345678 Anna de Vries` (or `-` "
        "instead of a name to remove it)."
    )


def name_too_long(length: int, limit: int) -> str:
    return f"That name is {length} characters; keep it to {limit}."

"""What the bridge tells people: its notices and refusals, each a small named function, so the
wording lives in one place (as ``slack_bolt/logger/messages.py`` does for Bolt).

Plain text: where it is shown (``bot.slack.render``) it is escaped.
"""

from __future__ import annotations

from bot.phone import format_international

NOTHING_SENT = "Nothing was sent."

# The longest quote of a reason or an SMS in a notice: notices quote, the thread and history
# hold the whole.
NOTICE_EXCERPT = 300


def excerpt(text: str, limit: int = NOTICE_EXCERPT) -> str:
    """The start of ``text`` (plain) for a notice, at most ``limit`` characters, cut at a
    word with "…": notices quote, the thread and history hold the whole."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip() + "…"


def who(peer: str, name: str | None) -> str:
    """``Anna de Vries (+31 6 12345678)``, or ``+31 6 12345678`` for an unnamed number: how
    the bridge's notices name the other party."""
    number = format_international(peer)
    return f"{name} ({number})" if name else number


# -- a job that gave up ----------------------------------------------------------------------


def not_sent(*, peer: str, reason: str) -> str:
    """An SMS whose send gave up before VoIPbin took it."""
    return f"SMS to {peer} was not sent: {excerpt(reason)}."


def inbound_not_posted(*, peer: str, reason: str, text: str, number: str) -> str:
    """An inbound SMS Slack would not take. An excerpt, not the whole SMS: the text that
    Slack refused would be refused again in the notice (and the alert), and then nobody
    would hear of it."""
    return (
        f"An SMS from {peer} could not be posted to Slack: {excerpt(reason)}. "
        f"It began: “{excerpt(text)}” (`/sms history {number}` shows it)."
    )


def thread_update_failed(*, peer: str, reason: str) -> str:
    """Any other job about a message of ``peer``'s thread."""
    return f"Updating the Slack thread of {peer} failed: {excerpt(reason)}."


def job_gave_up(*, kind: str, reason: str) -> str:
    """A job about no message (the alert channel is told)."""
    return f"A {kind} job gave up: {excerpt(reason)}"


# -- refusals --------------------------------------------------------------------------------


def no_longer_routed(our_number: str, *, sender: str) -> str:
    """A send from a number that has left app.yaml; ``sender`` names what cannot send."""
    return (
        f"{our_number} is no longer in the bridge's app.yaml, so {sender} cannot send. "
        f"{NOTHING_SENT}"
    )

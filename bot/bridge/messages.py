"""What the bridge tells people: its notices and refusals, each a small named function, so the
wording lives in one place (as ``slack_bolt/logger/messages.py`` does for Bolt).

Plain text: where it is shown (``bot.slack.render``) it is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

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


# -- failures of an SMS ----------------------------------------------------------------------


def send_refused(*, peer: str, reason: str) -> str:
    """An SMS refused at its send; ``reason`` says so, and that it was not sent."""
    return f"SMS to {peer}: {reason}"


def failure_words(status: str) -> str:
    """Plain words for a failure status (VoIPbin's webhook carries only the status), for the
    status line and the alerts: a gateway or delivery-report timeout calls for other action
    than a carrier's plain failure."""
    value = status.strip().lower()
    if value == "gw_timeout":
        return "the SMS gateway never confirmed the message (gateway timeout)"
    if value == "dlr_timeout":
        return "the carrier never sent a delivery report (delivery report timeout)"
    return f"the carrier reported the message as not delivered (status {value!r})"


def send_failed(*, peer: str, reason: str) -> str:
    """An SMS whose status became a failure."""
    return f"SMS to {peer} failed: {reason}. It was not delivered."


def not_dispatched(*, peer: str, minutes: int) -> str:
    """An SMS VoIPbin still holds, undispatched, ``alerts.stuck_after`` after its send."""
    return (
        f"SMS to {peer} has not been handed to a carrier {minutes} min after it was sent: "
        "VoIPbin still shows it queued and never dispatched it, which happens when none of "
        "its SMS providers took it. It may still arrive if VoIPbin dispatches it late. Check "
        "the VoIPbin account (balance, numbers) before sending it again: if this one does "
        "arrive, the person gets it twice."
    )


# The status note of an SMS VoIPbin has not dispatched by ``alerts.stuck_after``; cleared when
# it is dispatched after all (a note that starts with it is this one).
NOT_DISPATCHED_NOTE = "VoIPbin has not handed it to a carrier"


def not_dispatched_note(minutes: int) -> str:
    """The status line's note of an SMS that ``not_dispatched`` alerted about."""
    return f"{NOT_DISPATCHED_NOTE} after {minutes} min"


def unrouted(*, sender: str, our_number: str) -> str:
    """An inbound SMS to a number no channel has (``sender`` masked)."""
    return (
        f"An SMS from {sender} arrived on {our_number}, which is not routed to any channel "
        "in app.yaml; it was not posted. Add the number to `numbers` in app.yaml."
    )


def reply_unsent() -> str:
    """A thread reply deleted inside its undo window."""
    return "A reply was deleted before it went out, so it was not sent as SMS."


# -- history ---------------------------------------------------------------------------------


def archive_too_slow() -> str:
    """Why VoIPbin's records could not be read for a history: no answer in time."""
    return "VoIPbin was too slow"


# -- a thread reply edited or deleted ---------------------------------------------------------
# Told to the reply's author alone; ``peer`` is the number as people write it.


def reply_change_after_failure(peer: str) -> str:
    """A reply whose SMS failed was edited or deleted."""
    return (
        f"Your reply was not delivered to {peer}: its SMS failed. Changing it here sends "
        "nothing; Retry on the failure notice sends it again as first written."
    )


def reply_edit_before_sending(peer: str, *, undo_window: bool) -> str:
    """A reply edited while it still waits to go out; ``undo_window``: a delete before then
    would keep it from going out."""
    hint = " To change it, delete it before it goes out and write it again." if undo_window else ""
    return (
        f"Your reply goes out as SMS to {peer} as you first wrote it: an edit does not change "
        f"an SMS.{hint}"
    )


def reply_change_after_sending(peer: str, *, deleted: bool) -> str:
    """A reply edited or deleted (``deleted``) after its SMS went out."""
    done = "deleting it here does not" if deleted else "your edit does not"
    return (
        f"Your reply was sent as SMS to {peer} as you first wrote it. An SMS cannot be "
        f"changed or taken back once sent: {done} reach their phone."
    )


# -- opt-outs --------------------------------------------------------------------------------


def opted_out_by_hand(number: str) -> str:
    return f"{number} is now opted out: no SMS will be sent to it until it sends START."


def opted_in_by_hand(number: str) -> str:
    return f"{number} is opted back in: SMS can be sent to it again."


def opted_out_by_sms(number: str, keyword: str) -> str:
    return (
        f"{number} replied {keyword} and is now opted out: no SMS will be sent to this number "
        "until it sends START."
    )


def opted_in_by_sms(number: str, keyword: str) -> str:
    return f"{number} sent {keyword} and is opted back in: SMS can be sent again."


# -- refusals --------------------------------------------------------------------------------
# The sending policy's refusals (``bot.bridge.policy``): each names the rule's facts, says what
# to do, and ends with ``NOTHING_SENT``.


def not_a_sender(our_number: str) -> str:
    """A person who is not on ``numbers.senders`` of ``our_number``."""
    return (
        f"You are not on the list of people who may send SMS from "
        f"{format_international(our_number)}. Ask the bridge's operator to add you "
        f"(numbers.senders in app.yaml). {NOTHING_SENT}"
    )


def country_not_texted(peer: str, *, country: str, allowed: list[str]) -> str:
    """A number in ``country`` (its name, or "an unknown country"); ``allowed``: the names of
    the countries the bridge texts."""
    return (
        f"{format_international(peer)} is a number in {country}; this bridge only texts "
        f"numbers in {', '.join(allowed)}. Ask the operator to add the country to "
        f"policy.countries in app.yaml. {NOTHING_SENT}"
    )


def number_type_not_texted(peer: str, *, kind: str) -> str:
    """A number of a type outside ``policy.number_types`` (``kind``: ``premium_rate``, …)."""
    return (
        f"{format_international(peer)} is a {kind.replace('_', ' ')} number, which this bridge "
        f"does not text (such numbers can cost a lot per message). {NOTHING_SENT}"
    )


def too_long(*, segments: int, encoding: str, cap: int, forcing_chars: Sequence[str]) -> str:
    """A message over ``policy.max_segments``; ``forcing_chars``: the characters that make it
    UCS-2 (the first five are named)."""
    hint = ""
    if forcing_chars:
        shown = " ".join(forcing_chars[:5])
        hint = f" Characters like {shown} make every segment shorter (70 characters)."
    return (
        f"That message is {segments} SMS segments ({encoding}); the limit is {cap}. Shorten "
        f"it or send it in parts.{hint} {NOTHING_SENT}"
    )


def over_user_quota(*, sent_today: int, limit: int) -> str:
    """A send over the sender's ``policy.daily_segments_per_user``."""
    return (
        f"You have sent {sent_today} SMS segments today; your daily limit is {limit}. It "
        f"resets at midnight UTC. {NOTHING_SENT}"
    )


def over_total_quota(*, sent_today: int, limit: int) -> str:
    """A send over ``policy.daily_segments_total``, the bridge's for everyone."""
    return (
        f"The bridge has sent {sent_today} SMS segments today; the daily limit for everyone "
        f"is {limit}. It resets at midnight UTC. {NOTHING_SENT}"
    )


def over_rate(our_number: str, *, sent_last_minute: int) -> str:
    """A send from a number at its ``policy.per_number_per_minute``."""
    return (
        f"{format_international(our_number)} has sent {sent_last_minute} SMS in the last "
        f"minute, its limit. Try again in a minute. {NOTHING_SENT}"
    )


def opted_out(peer: str) -> str:
    """A send to a number that opted out."""
    return (
        f"{format_international(peer)} has opted out (they replied STOP) and gets no SMS from "
        "this number. They can send START to opt back in; if they asked in another way, staff "
        f"can use /sms optin {peer}. {NOTHING_SENT}"
    )


def no_longer_routed(our_number: str, *, sender: str) -> str:
    """A send from a number that has left app.yaml; ``sender`` names what cannot send."""
    return (
        f"{our_number} is no longer in the bridge's app.yaml, so {sender} cannot send. "
        f"{NOTHING_SENT}"
    )


# -- VoIPbin's refusals -----------------------------------------------------------------------

# The note of an SMS whose send VoIPbin answered with a refusal-like 500, until a look-up
# settles it; what follows it is the refusal, in words, should none find the SMS.
UNCONFIRMED_REFUSAL = "VoIPbin answered the send with an error; checking whether it was sent. "

# How much of VoIPbin's own error text a person is shown.
PROVIDER_WORDS = 200


def unconfirmed_refusal(error: str | None) -> bool:
    """Whether a note is the one of a send answered with a refusal-like 500 (not settled)."""
    return error is not None and error.startswith(UNCONFIRMED_REFUSAL)


def without_unconfirmed(error: str) -> str:
    """The refusal, in words, of a note ``unconfirmed_refusal`` holds."""
    return error.removeprefix(UNCONFIRMED_REFUSAL)


def refusal_words(status: int, detail: str, *, reason: str = "") -> str:
    """Why VoIPbin refused a send, in words: its HTTP status, what it usually means, and
    VoIPbin's own text, cut to ``PROVIDER_WORDS`` characters (plain text: the notices and
    status lines escape it). VoIPbin refuses for the balance with 402 or 500, and for an
    unverified identity with 500 or 403 (reference §2.1, bin-api-manager/server/
    error_translate.go)."""
    said = " ".join(detail.split())
    if len(said) > PROVIDER_WORDS:
        said = said[: PROVIDER_WORDS - 1].rstrip() + "…"
    if status in (402, 500) or reason == "IDENTITY_VERIFICATION_REQUIRED":
        words = (
            f"VoIPbin refused the SMS ({status}); this usually means the account's balance "
            "or verification. It was not sent."
        )
    else:
        code = " ".join(str(part) for part in (status or "", reason) if part)
        words = (
            f"VoIPbin refused the SMS ({code}). It was not sent."
            if code
            else ("VoIPbin refused the SMS. It was not sent.")
        )
    return f"{words} VoIPbin said: {said}" if said else words

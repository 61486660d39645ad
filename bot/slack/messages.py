"""What the Slack side says: acknowledgements, prompts, refusals and the mistakes ``/sms``
explains, each sentence written once as a small named function (as Bolt's
``slack_bolt/logger/messages.py`` does). Callers pass facts; every piece of typed or external
text that reaches a function here is already escaped Slack markup unless its argument says
otherwise. The ``/sms`` usage is generated from the verb registry (``bot.slack.verbs``)."""

from __future__ import annotations

from bot.bridge.messages import NOTHING_SENT

# -- what happened to a send -------------------------------------------------------------


def nothing_sent() -> str:
    """The words that close every answer where no SMS went out (the domain's refusals close
    with the same)."""
    return NOTHING_SENT


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


def modal_from_hint() -> str:
    """Under the picker of the number to send from."""
    return "The SMS and its thread go to this number's channel."


def modal_numbers_cut(shown: int, total: int) -> str:
    """Under a picker that lists ``shown`` of the bridge's ``total`` numbers."""
    return (
        f"The first {shown} of {total} numbers are listed; to send from one of the other "
        f"{total - shown}, use *Send as SMS* on a message in its channel, or `/sms` there."
    )


def modal_sends_from(ours: str, channel: str) -> str:
    """The one number the modal sends from (``ours``, escaped) and its channel."""
    return f"Sends from {ours}; the SMS and its thread go to <#{channel}>."


def modal_to_hint() -> str:
    return "One number, or several separated by commas."


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


# -- /sms history ----------------------------------------------------------------------------
# ``who`` and ``label`` name the other party (escaped markup); ``when`` is a Slack date.


def history_title(who: str) -> str:
    return f":scroll: History with {who}"


def history_empty(label: str, *, problem: str | None) -> str:
    """No messages with a number; ``problem``: why VoIPbin's records could not be read
    (escaped), if they could not."""
    text = f"No messages with {label} in this channel yet."
    if problem:
        return f"{text} VoIPbin's records could not be read: {problem}"
    return f"{text} Neither the bridge nor VoIPbin's records have any."


def history_listed(count: int, *, from_store: bool, thread_link: str | None) -> str:
    """Above the messages listed: how many, and whose records they come from."""
    source = (
        "from the bridge's records"
        if from_store
        else "from VoIPbin's records (the bridge has none of its own for this number)"
    )
    line = f"The last {count} message{'s' if count != 1 else ''}, oldest first, {source}"
    if thread_link:
        line += f" · <{thread_link}|Open the thread>"
    return line


def history_older(n: int, *, thread_link: str | None) -> str:
    """Under the messages listed, when ``n`` older ones did not fit."""
    where = f"<{thread_link}|the thread>" if thread_link else "the number's thread"
    return f"_{n} older message{'s' if n != 1 else ''} not shown: see {where}._"


def history_text(label: str, count: int) -> str:
    """The notification text of a history."""
    return f"History with {label}: the last {count} messages"


def empty_sms() -> str:
    """An SMS without text, where a list quotes it."""
    return "_(empty)_"


# -- /sms contacts ---------------------------------------------------------------------------


def no_contacts() -> str:
    return (
        "This channel has not texted anyone yet. Start with `/sms +31612345678 Hello`; "
        "name a number with `/sms name +31612345678 Anna de Vries`."
    )


def contact_line(
    who: str, *, with_number: str | None, last: str, link: str | None, opted_out: bool
) -> str:
    """One number of ``/sms contacts``; ``with_number``: which of our numbers texts it, when
    the channel has several; ``last``: when it last texted (a Slack date)."""
    line = f"• {who}"
    if with_number:
        line += f" (with {with_number})"
    line += f" · last message {last}"
    line += f" · <{link}|thread>" if link else " · no thread yet"
    if opted_out:
        line += " · :no_entry: opted out"
    return line


def contacts_title(count: int) -> str:
    return f":busts_in_silhouette: *{count} number{'s' if count != 1 else ''} this channel texts*"


def contacts_more(n: int) -> str:
    """Under the numbers listed, when ``n`` more did not fit."""
    return (
        f"• … and {n} more, less recently texted: `/sms history +31612345678` shows "
        "one of them, and its thread."
    )


def contacts_text(count: int) -> str:
    """The notification text of ``/sms contacts``."""
    return f"{count} numbers this channel texts"


# -- /sms name -------------------------------------------------------------------------------
# ``number`` and the names are escaped.


def name_none(number: str) -> str:
    """A name removed from a number that had none."""
    return f"{number} has no name; nothing changed."


def name_removed(number: str, *, before: str) -> str:
    return f"{number} no longer has a name (it was *{before}*)."


def name_unchanged(number: str, name: str) -> str:
    return f"{number} is already called *{name}*."


def name_set(number: str, name: str, *, before: str | None) -> str:
    text = f":label: {number} is now called *{name}*"
    if before is not None:
        text += f" (it was *{before}*)"
    return (
        f"{text}. New threads, SMS sent and received, alerts, history, contacts and the App "
        "Home show the name."
    )


# -- /sms status -----------------------------------------------------------------------------


def age(seconds: float) -> str:
    """How long ago, roughly: ``42 s``, ``12 min``, ``5 h``, ``3 days``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def verdict_needs_attention() -> str:
    return ":red_circle: *Needs attention*"


def verdict_catching_up() -> str:
    return ":large_yellow_circle: *Catching up*"


def verdict_healthy() -> str:
    return ":large_green_circle: *Healthy*"


def status_title(verdict: str) -> str:
    return f":satellite_antenna: Bridge status: {verdict}"


def status_fields(
    *,
    waiting: int,
    retrying: int,
    running: int,
    oldest: float | None,
    dead: int,
    opted_out: int,
    scheduled: int,
) -> list[str]:
    """The figures of ``/sms status``, each a label and its value; ``oldest``: the age of
    the oldest waiting job in seconds, None when none waits."""
    return [
        f"*Queue*\n{waiting} waiting · {retrying} retrying · {running} running",
        "*Oldest waiting job*\n" + ("none" if oldest is None else f"{age(oldest)} old"),
        f"*Dead jobs*\n{dead}" + (" (`sms-bridge jobs dead` lists them)" if dead else ""),
        f"*Opted-out numbers*\n{opted_out}",
        f"*Timers*\n{scheduled} scheduled (delivery checks)",
    ]


def latest_errors() -> str:
    return "*Latest errors*"


def job_problem(*, kind: str, job_id: int, dead: bool, attempts: int, when: str, error: str) -> str:
    """One job that is dead or retrying; ``error``: its last error (escaped)."""
    state = "dead" if dead else f"retrying, attempt {attempts}"
    return f"• `{kind}` #{job_id} ({state}, {when}): {error}"


def problems_more(n: int) -> str:
    return f"• … and {n} more: `sms-bridge jobs dead`"


def no_recent_errors() -> str:
    return "No recent errors."


def status_text(*, waiting: int, retrying: int, dead: int, opted_out: int) -> str:
    """The notification text of ``/sms status``."""
    return (
        f"Bridge status: {waiting} waiting, {retrying} retrying, {dead} dead jobs, "
        f"{opted_out} opted-out numbers"
    )


# -- App Home --------------------------------------------------------------------------------


def home_title() -> str:
    return "SMS conversations"


def home_updated(when: str) -> str:
    return f"The latest conversations in your channels · updated {when}"


def home_empty() -> str:
    return (
        "No SMS conversations yet in the channels you are in. Type "
        "`/sms +31612345678 Hello` in a channel that has a number."
    )


def home_summary(*, unanswered: int, failed: int) -> str:
    """How many of the conversations listed wait for an answer or have a failed SMS."""
    summary = []
    if unanswered:
        summary.append(f":large_orange_circle: {unanswered} unanswered")
    if failed:
        summary.append(f":x: {failed} with a failed SMS")
    return " · ".join(summary) if summary else ":white_check_mark: All answered"


def home_conversation(who: str, channel: str, *, unanswered: bool, failed: bool) -> str:
    """The first line of a conversation in the App Home: who, in which channel, its marks."""
    marks = []
    if unanswered:
        marks.append(":large_orange_circle: *Unanswered*")
    if failed:
        marks.append(":x: *SMS failed*")
    return f"{who} in <#{channel}>" + "".join(f" · {m}" for m in marks)


def home_cancelled(body: str) -> str:
    """The last message of a conversation, a send that was cancelled."""
    return f"{body} · _cancelled, not sent_"


def home_thread(link: str | None) -> str:
    """The conversation's thread, or that it is still being opened."""
    return f"<{link}|Open the thread>" if link else "_The thread is being opened_"


def home_most_recent(count: int) -> str:
    return (
        f"The {count} most recent are shown; `/sms contacts` in a channel lists all of its numbers."
    )


def home_more(n: int) -> str:
    """Under the conversations listed, when ``n`` more did not fit in the view."""
    return f"… and {n} more not shown; `/sms contacts` in a channel lists all of its numbers."


# -- a number's thread, and the alerts ---------------------------------------------------------
# ``who`` and ``ours`` are escaped; ``link`` a Slack permalink.


def thread_title(who: str) -> str:
    """The first line of a number's thread root."""
    return f":iphone: *SMS conversation with {who}*"


def thread_from(ours: str) -> str:
    return f"Texting from {ours} · reply in this thread to send an SMS"


def thread_text(who: str, ours: str, *, continues: bool, opted_out: bool) -> str:
    """The notification text of a thread root."""
    text = f"SMS conversation with {who} (our number {ours})"
    if continues:
        text += " - continues an earlier thread"
    if opted_out:
        text += " - opted out"
    return text


def previous_thread(link: str) -> str:
    return f":leftwards_arrow_with_hook: <{link}|Previous thread with this number>"


def thread_opted_out() -> str:
    """On the thread root of a number that opted out."""
    return ":no_entry: This number has opted out (STOP): SMS to it are refused."


def view_thread(link: str) -> str:
    """The link from a notice or an alert to the SMS's thread."""
    return f"<{link}|View the thread>"


def rollup_head(count: int, source: str) -> str:
    """An alert of ``count`` failures in channel ``source`` within the roll-up window."""
    return f":rotating_light: {count} SMS failures in <#{source}> within a minute:"


def rollup_more(n: int, source: str) -> str:
    """Under a roll-up, when ``n`` more failures did not fit."""
    return (
        f"• … and {n} more failure{'s' if n != 1 else ''}: each has a notice in its thread "
        f"in <#{source}>."
    )


# -- long messages ---------------------------------------------------------------------------


def sms_from_to(author: str, to: str) -> str:
    """The notification text of an SMS sent from Slack (``author`` a mention)."""
    return f"SMS from {author} to {to}"


def sms_from(who: str) -> str:
    """The notification text of an SMS received."""
    return f"SMS from {who}"


def continued(page: int, total: int) -> str:
    """Atop each further post of a text too long for one Slack message."""
    return f"_continued · part {page} of {total}_"


def part_text(fallback: str, page: int, total: int, shown: str) -> str:
    """The notification text of a further post (``page`` of ``total``)."""
    return f"{fallback} (part {page} of {total}): {shown}"


def cut_answer() -> str:
    """Under an answer cut to fit one Slack message."""
    return "_(cut: too long for one Slack message)_"

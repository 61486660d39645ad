"""bot.slack.render: the messages the bridge posts, as Slack receives them (``text`` and
blocks), for what the end-to-end tests do not reach cheaply: a text too long for one
message, a notice filled to Slack's limit, a roll-up too long to list, the parts of a
thread's first message that depend on the number."""

from __future__ import annotations

import json
import re

import pytest
from blockkit import assert_valid_blocks

from bot.bridge.ports import AlertItem, OutgoingView
from bot.slack import fit, render
from bot.slack.mrkdwn import escape

PEER = "+31612345678"
OURS = "+31201234567"


def texts(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks)


# -- thread_root -----------------------------------------------------------------------------


def test_a_thread_root_names_the_country_and_only_what_applies() -> None:
    plain = render.thread_root(peer=PEER, our_number=OURS)
    assert (
        plain.text
        == "SMS conversation with +31 6 12345678 (Netherlands) (our number +31 20 123 4567)"
    )
    assert len(plain.blocks) == 2
    assert "Previous thread" not in texts(plain.blocks) and "opted out" not in texts(plain.blocks)

    full = render.thread_root(
        peer=PEER, our_number=OURS, opted_out=True, previous_link="https://x.slack.com/p1"
    )
    assert full.text.endswith(" - continues an earlier thread - opted out")
    assert full.blocks[2] == fit.context(
        ":leftwards_arrow_with_hook: <https://x.slack.com/p1|Previous thread with this number>"
    )
    assert "has opted out (STOP)" in texts(full.blocks[3:])


def test_a_number_of_no_country_is_shown_without_one() -> None:
    root = render.thread_root(peer="+80012345678", our_number=OURS)
    assert root.text.startswith("SMS conversation with +800 1234 5678 (our number")


# -- outgoing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message_id", "button"),
    [("failed", 7, True), ("failed", 0, False), ("delivered", 7, False), ("sent", 0, False)],
)
def test_retry_is_offered_on_a_failed_sms_that_can_be_sent_again(
    status: str, message_id: int, button: bool
) -> None:
    view = OutgoingView(
        peer=PEER, our_number=OURS, author="U0ANNA", text="hi", status=status, message_id=message_id
    )
    actions = [b for b in render.outgoing(view).blocks if b["type"] == "actions"]
    assert actions == ([render.retry_button(message_id)] if button else [])


# -- a text too long for one message ---------------------------------------------------------


def test_an_sms_too_long_for_one_message_is_posted_whole_over_numbered_parts() -> None:
    words = " ".join(f"w{i}<&>" for i in range(6000))  # ~48,000 characters once escaped
    shown = escape(words)
    first = render.inbound(sender=PEER, text=words)
    posts = [first, *first.more]
    total = len(posts)
    assert total >= 3
    for post in posts:
        assert_valid_blocks(post.blocks)
    # each page's sections, less the lead, join up to the text as escaped: nothing lost
    sections = [b["text"]["text"] for post in posts for b in post.blocks if b["type"] == "section"]
    assert "".join(sections).removeprefix(":incoming_envelope: *+31 6 12345678*\n") == shown
    assert first.text.startswith("SMS from +31 6 12345678: w0&lt;&amp;&gt; w1")
    for number, post in enumerate(posts[1:], start=2):
        assert post.text.startswith(f"SMS from +31 6 12345678 (part {number} of {total}): ")
        assert post.blocks[0] == fit.context(f"_continued · part {number} of {total}_")


# -- notice ----------------------------------------------------------------------------------


def test_a_notice_is_an_alert_or_a_warning() -> None:
    assert render.notice(text="x", link=None, alert=True).text == ":rotating_light: x"
    assert render.notice(text="x", link=None, alert=False).text == ":warning: x"


@pytest.mark.parametrize("alert", [True, False])
@pytest.mark.parametrize("mention", [None, "U0ANNA"])
@pytest.mark.parametrize("link", [None, "https://x.slack.com/archives/C1/p1"])
def test_a_long_notice_fills_its_section_to_slacks_limit_and_no_more(
    alert: bool, mention: str | None, link: str | None
) -> None:
    """A quote with no space to cut at is cut at the character: the section holds exactly
    what Slack allows, with who did it and the link to the thread kept whole."""
    notice = render.notice(text="x" * 5000, link=link, alert=alert, mention=mention)
    (section,) = notice.blocks
    shown = section["text"]["text"]
    assert len(shown) == fit.SECTION_MAX
    if mention:
        assert notice.text.endswith("… (by <@U0ANNA>)")
    if link:
        assert shown.endswith(f"\n<{link}|View the thread>")


# -- rollup ----------------------------------------------------------------------------------

_MORE = re.compile(r"• … and (\d+) more (failures?): each has a notice in its thread in <#C1>\.")


def test_a_rollup_too_long_to_list_says_how_many_more_there_are() -> None:
    counts = set()
    for n in range(20, 60):
        items = [AlertItem(text=f"{i} " + "word " * 80, link=f"https://x/p{i}") for i in range(n)]
        rollup = render.rollup(source="C1", items=items)
        assert_valid_blocks(rollup.blocks)
        blocks = texts(rollup.blocks)
        listed = sum(f"https://x/p{i}|" in blocks for i in range(n))
        more = _MORE.search(rollup.blocks[-1]["text"]["text"])
        if listed == n:
            assert more is None
            continue
        assert more is not None, rollup.blocks[-1]
        hidden = int(more.group(1))
        assert listed + hidden == n
        assert more.group(2) == ("failure" if hidden == 1 else "failures")
        counts.add(hidden)
    assert 1 in counts and len(counts) > 2, counts


def test_a_rollups_notification_text_quotes_the_first_ten_failures() -> None:
    items = [AlertItem(text=f"failure number {i}.") for i in range(1, 13)]
    text = render.rollup(source="C1", items=items).text
    assert text.startswith(":rotating_light: 12 SMS failures in <#C1> within a minute: ")
    assert "failure number 10." in text and "failure number 11." not in text


# -- answer ----------------------------------------------------------------------------------


def test_an_answer_too_long_for_one_message_begins_with_its_start_and_says_it_was_cut() -> None:
    text = "\n".join(f"line {i} " + "y" * 2900 for i in range(60))
    answer = render.answer(text)
    blocks = answer["blocks"]
    assert_valid_blocks(blocks)
    assert blocks[0]["text"]["text"].startswith("line 0 ")
    assert blocks[-1] == fit.context("_(cut: too long for one Slack message)_")
    short = render.answer("a short answer")
    assert "cut: too long" not in texts(short["blocks"])


def test_a_note_shows_its_text_escaped_in_its_blocks() -> None:
    note = render.note("Nothing sent to <!channel> & co")
    assert note.blocks == [fit.section("Nothing sent to &lt;!channel&gt; &amp; co")]
    assert render.note("  ").blocks == []


def test_a_status_line_shows_its_note_escaped_and_nothing_without_one() -> None:
    assert render.status_line("failed", "carrier said <no> & stop") == (
        ":x: Failed · carrier said &lt;no&gt; &amp; stop"
    )
    assert render.status_line("delivered") == ":white_check_mark: Delivered"


def test_a_rollup_of_one_failure_is_the_alert_of_that_failure() -> None:
    item = AlertItem(text="SMS to +31 6 12345678 failed", link="https://x/p1")
    rollup = render.rollup(source="C1", items=[item])
    assert rollup.text == ":rotating_light: SMS to +31 6 12345678 failed"
    assert rollup.blocks == [fit.section(f"{rollup.text}\n<https://x/p1|View the thread>")]

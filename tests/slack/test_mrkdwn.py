"""bot.slack.mrkdwn: escaping text for Slack, decoding Slack's text for SMS."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.slack.mrkdwn import escape, mentioned_user_ids, to_plain_text

# -- escape ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<!subteam^S1>", "&lt;!subteam^S1&gt;"),
        (
            "<https://evil.example|https://bank.example>",
            "&lt;https://evil.example|https://bank.example&gt;",
        ),
        # not idempotent on purpose: an SMS saying "&lt;" shows "&lt;", not "<"
        ("&lt;", "&amp;lt;"),
        ("&amp;", "&amp;amp;"),
        ("AT&T <3 you > me", "AT&amp;T &lt;3 you &gt; me"),
        # nothing else is touched: mrkdwn formatting in an SMS is the sender's business
        (
            "*bold* _it_ ~s~ `code` :smile: @here #general",
            "*bold* _it_ ~s~ `code` :smile: @here #general",
        ),
        ("", ""),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


@given(st.text())
def test_escape_leaves_no_control_characters(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped
    assert ">" not in escaped
    # every & left starts one of the three entities
    assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", escaped, re.DOTALL)


# -- to_plain_text ---------------------------------------------------------------------------

NAMES = {"U123": "Ann Smith", "W456": "Bob & Co"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # user mentions: looked-up name, else the label, else the id
        ("<@U123>", "@Ann Smith"),
        ("<@U123|ann>", "@Ann Smith"),
        ("<@U999|carol>", "@carol"),
        ("<@U999|@carol>", "@carol"),
        ("<@U999>", "@U999"),
        ("<@W456> hi", "@Bob & Co hi"),  # names from the lookup are not Slack-encoded
        ("hi <@U123>, <@U999>!", "hi @Ann Smith, @U999!"),
        # channels
        ("<#C123|general>", "#general"),
        ("<#C123>", "#C123"),
        # broadcasts and user groups
        ("<!here>", "@here"),
        ("<!here|here>", "@here"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S1|@team>", "@team"),
        ("<!subteam^S1|team>", "@team"),
        ("<!subteam^S1>", "@S1"),
        # dates show their fallback text (which may hold colons and no emoji)
        ("<!date^1392734382^{date} at {time}|Feb 18th at 6:39:00 AM>", "Feb 18th at 6:39:00 AM"),
        ("<!somethingnew>", "<!somethingnew>"),
        # links: the address, never the label
        ("<https://x.example|label>", "https://x.example"),
        ("<https://evil.example|https://bank.example>", "https://evil.example"),
        ("<https://x.example>", "https://x.example"),
        ("<https://x.example/?a=1&amp;b=2|x>", "https://x.example/?a=1&b=2"),
        ("<mailto:a@b.c|a@b.c>", "a@b.c"),
        ("<mailto:a@b.c|someone else>", "a@b.c"),
        ("<tel:+31612345678|+31 6 1234 5678>", "+31612345678"),
        # entities are decoded last: an escaped mention is text, not a mention
        ("&lt;@U1&gt;", "<@U1>"),
        ("&lt;!channel&gt;", "<!channel>"),
        ("a &amp; b &lt; c &gt; d", "a & b < c > d"),
        ("&amp;lt;", "&lt;"),
        ("&amp;amp;", "&amp;"),
        ("&quot; &nbsp;", "&quot; &nbsp;"),  # Slack uses only the three
        # emoji shortcodes
        (":smile:", "😄"),
        (":+1: :-1: :thumbsup:", "👍 👎 👍"),
        (":wave::skin-tone-3:", "👋🏼"),
        (":flag-nl:", "🇳🇱"),
        (":man-shrugging:", "🤷\u200d♂️"),
        (":simple_smile:", "🙂"),
        (":partyparrot: :flag-zz: :skin-tone-9:", ":partyparrot: :flag-zz: :skin-tone-9:"),
        ("at 10:30:smile:", "at 10:30😄"),
        ("10:30:45", "10:30:45"),
        (":Smile:", ":Smile:"),
        # unmatched brackets (not something Slack sends) stay as they are
        ("a < b", "a < b"),
        ("a > b", "a > b"),
        ("<<@U123>", "<@Ann Smith"),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_to_plain_text(text: str, expected: str) -> None:
    assert to_plain_text(text, user_names=NAMES) == expected


def test_to_plain_text_without_names() -> None:
    assert to_plain_text("<@U123|ann> <@U456>") == "@ann @U456"
    assert to_plain_text("<@U123>", user_names={"U123": ""}) == "@U123"


def test_mentioned_user_ids() -> None:
    text = "<@U1> <@W2|bob> <@U1> &lt;@U3&gt; <#C1|x> <!here> <@>"
    assert mentioned_user_ids(text) == ["U1", "W2"]
    assert mentioned_user_ids("") == []


# -- properties ------------------------------------------------------------------------------

_LOOKS_LIKE_SHORTCODE = re.compile(r":[a-z0-9_+\-]+:")


@given(st.text())
def test_escaped_text_round_trips(text: str) -> None:
    # Literal text posted with escape() comes back unchanged when read from a message event,
    # unless it contains something Slack would show as an emoji.
    assume(not _LOOKS_LIKE_SHORTCODE.search(text))
    assert to_plain_text(escape(text)) == text


@given(st.text(alphabet="<>&|@!#^:;amplgtU123CS _-+abcehrsilnuo", max_size=80))
def test_to_plain_text_never_raises_on_slackish_text(text: str) -> None:
    assert isinstance(to_plain_text(text, user_names={"U1": "x"}), str)
    assert all(isinstance(user, str) for user in mentioned_user_ids(text))


@given(st.text())
def test_to_plain_text_never_raises(text: str) -> None:
    assert isinstance(to_plain_text(text), str)

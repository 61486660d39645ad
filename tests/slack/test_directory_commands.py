"""``/sms history|contacts|name|status``: what they ask for, and that their answers stay
within Block Kit's limits however much there is to show."""

from __future__ import annotations

import pytest
from blockkit import assert_valid_blocks, assert_valid_view

from bot.bridge.directory import (
    Contact,
    Health,
    History,
    HistoryItem,
    RecentConversation,
    ThreadRef,
)
from bot.jobs.health import JobProblem, QueueState
from bot.slack import directory_render as view
from bot.slack.commands import CommandError, parse_sms_command
from bot.slack.directory_commands import ListContacts, NameContact, ShowHistory, ShowStatus

PEER = "+31612345678"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("history +31612345678", ShowHistory(PEER)),
        ("HISTORY 0612345678 25", ShowHistory(PEER, 25)),
        ("history <tel:+31612345678|+31 6 1234 5678> 3", ShowHistory(PEER, 3)),
        ("contacts", ListContacts()),
        ("status", ShowStatus()),
        ("name 0612345678 Anna  de\nVries", NameContact(PEER, "Anna de Vries")),
        ("name +31612345678 Fish &amp; Chips", NameContact(PEER, "Fish & Chips")),
        ("name +31612345678 -", NameContact(PEER, None)),
    ],
)
def test_what_the_lookup_commands_ask_for(text: str, expected: object) -> None:
    assert parse_sms_command(text, region="NL") == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("history", "Which number?"),
        ("history 12", "/sms history +31612345678"),
        ("history +31612345678 0", "1 to 25"),
        ("history +31612345678 26", "1 to 25"),
        ("history +31612345678 ten", "1 to 25"),
        ("contacts please", "takes nothing after it"),
        ("status all", "takes nothing after it"),
        ("name +31612345678", "Write the name after the number"),
        ("name +31612345678 " + "x" * 81, "keep it to 80"),
        ("name <!channel> Anna", "/sms name +31612345678 Anna de Vries"),
    ],
)
def test_a_wrong_lookup_command_says_how_to_write_it(text: str, says: str) -> None:
    parsed = parse_sms_command(text, region="NL")
    assert isinstance(parsed, CommandError)
    assert says in parsed.message
    assert "<!" not in parsed.message


LONG_NAME = "<&>" * 26 + "xx"  # 80 characters, each markup one escaped to several
LONG_TEXT = "<!channel> & " * 300


def test_the_longest_history_is_valid_block_kit() -> None:
    items = [
        HistoryItem(
            at=1_700_000_000 + i,
            direction="inbound" if i % 2 else "outbound",
            text=LONG_TEXT,
            status="failed",
            author="U0ANNA" if i % 3 else None,
            our_number="+31201234567",
        )
        for i in range(25)
    ]
    found = History(peer=PEER, name=LONG_NAME, items=items, source="store")
    rendered = view.history(found, thread_link="https://fake.slack.test/archives/C1/p1")
    assert_valid_blocks(rendered.blocks)
    assert "<!channel>" not in str(rendered.blocks)


def test_the_longest_contact_list_is_valid_block_kit() -> None:
    contacts = [
        Contact(
            peer=f"+3161234{i:04d}",
            name=LONG_NAME,
            our_number="+31201234567" if i % 2 else "+31201234568",
            thread=ThreadRef("C0SMS00001", f"1700000000.{i:06d}"),
            last_activity_at=1_700_000_000,
            opted_out=bool(i % 2),
        )
        for i in range(50)
    ]
    links = {
        (c.thread.channel, c.thread.thread_ts): "https://fake.slack.test/archives/C/p1234567890"
        for c in contacts
        if c.thread
    }
    rendered = view.contacts(contacts, links=links)
    assert_valid_blocks(rendered.blocks)
    assert rendered.text == "50 numbers this channel texts"


def test_status_with_many_errors_is_valid_block_kit() -> None:
    problems = [
        JobProblem(
            id=i, kind="send_sms", state="dead", attempts=6, last_error=LONG_TEXT, updated_at=1
        )
        for i in range(5)
    ]
    health = Health(
        now=2000.0,
        queue=QueueState(
            waiting=3, retrying=2, running=1, scheduled=4, dead=5, oldest_created_at=1000.0
        ),
        problems=problems,
        opted_out=7,
    )
    rendered = view.status(health)
    assert_valid_blocks(rendered.blocks)
    assert "17 min old" in str(rendered.blocks)


def test_the_fullest_home_view_is_valid_block_kit() -> None:
    recent = [
        RecentConversation(
            peer=f"+3161234{i:04d}",
            name=LONG_NAME,
            our_number="+31201234567",
            channel="C0SMS00001",
            thread=ThreadRef("C0SMS00001", f"1700000000.{i:06d}") if i % 2 else None,
            last=HistoryItem(1.0, "inbound", LONG_TEXT, "received", None, "+31201234567"),
            unanswered=True,
            failed=True,
        )
        for i in range(15)
    ]
    home = view.home(recent, links={}, now=1_700_000_000)
    assert_valid_view(home)

"""The ``/sms`` verbs from their registry, over HTTP with signed slash commands: the usage
lists every registered verb, and any verb that fails for real (the database refusing) answers
the same words, logs the failure once with its traceback, and never loses the ack."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from interact import global_shortcut, submit, view_state
from sqlalchemy import text as sql
from test_sending_e2e import slash_ack

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.slack import messages, modal
from bot.slack.commands import usage
from bot.slack.mrkdwn import to_plain_text
from bot.slack.verbs import LOOK_UP, SEND, VERBS, CommandError, Registry, Typed, rest_of_line
from bot.store.tables import metadata

from harness import CHANNEL, OUR_NUMBER, Service, serve, wait_for
from test_bridge_e2e import PEER


def words_shown(text: str) -> list[str]:
    """Each registered verb as the usage must name it: `/sms <word>` (the default send has
    no word: its own help line says how)."""
    missing = []
    for verb in VERBS.verbs:
        if verb.help not in text:
            missing.append(f"{verb.name}: its help")
        for word in [w for w in verb.words if w.isalpha()] + [verb.prefix or ""]:
            if word and f"`/sms {word}" not in text:
                missing.append(f"{verb.name}: /sms {word}")
    return missing


async def test_help_and_a_mistake_list_every_registered_verb(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    assert {v.name for v in VERBS.verbs} >= {
        "send", "from:", "optout", "signature", "history", "contacts", "name", "status", "help"
    }  # fmt: skip
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        for typed in ("help", "", "?", "nonsense hi"):
            ack = await slash_ack(service, typed)
            assert usage() in ack["text"], typed
            assert not words_shown(ack["text"]), (typed, words_shown(ack["text"]))
        mistake = await slash_ack(service, "nonsense hi")
        assert mistake["text"].startswith(":warning: ")  # the mistake, then the usage
    assert not fake_voipbin.sends()


def test_a_new_verb_is_one_registered_function() -> None:
    verbs = Registry()

    @verbs.verb("send", default=True, section=SEND, parse=rest_of_line, help="`/sms … text`")
    async def send(rest: str, ctx: Any) -> dict[str, Any]:
        raise AssertionError

    @verbs.verb("claim", section=LOOK_UP, parse=rest_of_line, help="• `/sms claim`: mine.")
    async def claim(rest: str, ctx: Any) -> dict[str, Any]:
        raise AssertionError

    assert "• `/sms claim`: mine." in verbs.usage()
    assert verbs.parse("CLAIM  now", region="NL").verb.name == "claim"
    assert verbs.parse("CLAIM  now", region="NL").parsed == "now"
    assert verbs.parse("claimed it", region="NL").verb.name == "send"
    with pytest.raises(ValueError, match="registered twice"):
        verbs.verb("claim", section=LOOK_UP, parse=rest_of_line, help="")(claim)

    def mistaken(typed: Typed) -> CommandError:
        return CommandError("no")

    verbs.verb("close", section=LOOK_UP, parse=mistaken, help="• `/sms close`")(claim)
    assert verbs.parse("close", region="NL").parsed == CommandError("no")


# One way to call each verb; a verb registered without one here fails the test below.
CALLS = {
    "send": f"{PEER} hi",
    "from:": f"from:{OUR_NUMBER} {PEER} hi",
    "optout": f"optout {PEER}",
    "signature": 'signature "— Anna"',
    "history": f"history {PEER}",
    "contacts": "contacts",
    "name": f"name {PEER} Anna",
    "status": "status",
}
NO_DATABASE = {"help"}  # verbs that answer without reading or writing anything
AWAY = "_away"


async def rename_tables(service: Service, *, away: bool) -> None:
    """The database refuses every verb: its tables (but those the job runner reads on its
    own) are renamed, so each statement fails with "no such table" / "does not exist"."""
    engine = service.app.state.components.engine
    async with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name in ("jobs", "seen_events"):
                continue
            old, new = (table.name, table.name + AWAY) if away else (table.name + AWAY, table.name)
            await conn.execute(sql(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_any_verb_that_fails_answers_the_same_words_and_logs_once(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert set(CALLS) | NO_DATABASE == {v.name for v in VERBS.verbs}
    caplog.set_level(logging.ERROR)
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await rename_tables(service, away=True)
        try:
            for name, typed in CALLS.items():
                caplog.clear()
                ack = await slash_ack(service, typed)  # answered 200, ephemeral, with blocks
                assert ack["text"] == messages.failed(), (name, ack["text"])
                # Once, by the wrapper, with its traceback (the job runner may log its own).
                logged = [r for r in caplog.records if r.name.startswith("bot.slack")]
                assert all(r.exc_info for r in logged), name
                assert len(logged) == 1, (name, [r.getMessage() for r in caplog.records])
                assert logged[0].getMessage().startswith(f"/sms {name} failed"), name
        finally:
            await rename_tables(service, away=False)
        # The failures changed nothing, and the same verbs work again once the database does.
        sent = await slash_ack(service, f"{PEER} hi")
        assert "Sending to" in sent["text"]
        status = await slash_ack(service, "status")
        assert status["text"] != messages.failed()


async def test_the_modal_that_fails_says_the_same_on_its_field(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Send SMS modal is no /sms verb, but sends through the same code: a failure there
    is caught by the modal, shown on its text field in the same words, and logged once."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    caplog.set_level(logging.ERROR)
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        response = await global_shortcut(service, modal.GLOBAL_SHORTCUT)
        assert response.status_code == 200
        await wait_for(fake_slack, lambda s: bool(s.calls("views.open")))
        view = fake_slack.calls("views.open")[-1].params["view"]
        await rename_tables(service, away=True)
        try:
            caplog.clear()
            response = await submit(service, view, view_state({"to": PEER, "text": "hi"}, {}))
            assert response.status_code == 200
            errors = response.json()["errors"]
            assert errors == {"text": to_plain_text(messages.failed())}
            logged = [r for r in caplog.records if r.name.startswith("bot.slack")]
            assert len(logged) == 1 and logged[0].exc_info
        finally:
            await rename_tables(service, away=False)
    assert not fake_voipbin.sends()

"""Safe by default: who may text whom and how much, opt-out, and the audit log. Every refusal
is explained to the person, written to the audit log, and sends nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import audit

from harness import CHANNEL, Service, make_config, serve, wait_for
from test_bridge_e2e import PEER, PEER_PRETTY, idle, root_ts, send_one


async def audit_rows(service: Service) -> list[dict[str, Any]]:
    engine = service.app.state.components.engine
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit).order_by(audit.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def refused(service: Service, text: str, **kwargs: Any) -> str:
    response = await service.slash(text, **kwargs)
    assert response.status_code == 200
    ack = response.json()
    assert ack["response_type"] == "ephemeral"
    return str(ack["text"])


@pytest.mark.parametrize(
    ("text", "rule", "says"),
    [
        ("+14155552671 hi", "country", "only texts numbers in Netherlands, United Kingdom"),
        ("0900123456 hi", "number-type", "premium rate number"),
        ("+31" + "612345678 " + "x" * 1000, "too-long", "7 SMS segments (GSM-7); the limit is 6"),
        (PEER + " it’s " + "y" * 400, "too-long", "Characters like ’"),
    ],
)
async def test_refusals_name_the_rule_and_send_nothing(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    text: str,
    rule: str,
    says: str,
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        answer = await refused(service, text)
        assert says in answer and "Nothing was sent" in answer
        rows = await audit_rows(service)
        assert [(r["action"], r["detail"], r["actor"]) for r in rows] == [
            ("refused", rule, "U0ANNA")
        ]
        await idle(service)
    assert fake_voipbin.sends() == []
    assert fake_slack.posts() == []


async def test_daily_quotas_and_the_per_number_rate(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(
        policy={"daily_segments_per_user": 2, "daily_segments_total": 3, "countries": ["NL"]}
    )
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        assert "Sending" in await refused(service, f"{PEER} one")
        assert "Sending" in await refused(service, f"{PEER} two")
        answer = await refused(service, f"{PEER} three")
        assert "your daily limit is 2" in answer
        assert "Sending" in await refused(service, f"{PEER} from bob", user="U0BOB")
        answer = await refused(service, f"{PEER} from bob again", user="U0BOB")
        assert "daily limit for everyone is 3" in answer
        await idle(service)
    assert [s["text"] for s in fake_voipbin.sends()] == ["one", "two", "from bob"]

    config = make_config(policy={"per_number_per_minute": 1})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        answer = await refused(service, f"{PEER} too fast")
        assert "in the last minute" in answer


async def test_senders_can_be_restricted_to_people_and_groups(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    fake_slack.set_usergroup("S0SUPPORT", ["U0CAROL"])
    fake_slack.set_members("C0STAFF001", ["U0DAVE", "UBOT"])
    config = make_config(
        numbers=[
            {
                "number": "+31201234567",
                "channel": CHANNEL,
                "senders": {
                    "users": ["U0BOSS"],
                    "usergroups": ["S0SUPPORT"],
                    "channels": ["C0STAFF001"],
                },
            }
        ]
    )
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        answer = await refused(service, f"{PEER} hi", user="U0ANNA")
        assert "not on the list of people who may send SMS from +31 20 123 4567" in answer
        assert "Sending" in await refused(service, f"{PEER} from the boss", user="U0BOSS")
        assert "Sending" in await refused(service, f"{PEER} from carol", user="U0CAROL")
        assert "Sending" in await refused(service, f"{PEER} from dave", user="U0DAVE")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 3)
        # a thread reply from someone not allowed: told privately, not sent
        thread = root_ts(fake_slack)
        await service.reply(thread, "sneaky", user="U0ANNA")
        await wait_for(fake_slack, lambda s: len(s.calls("chat.postEphemeral")) == 1)
        told = fake_slack.calls("chat.postEphemeral")[0].params
        assert told["user"] == "U0ANNA" and told["thread_ts"] == thread
        assert "not on the list" in told["text"]
        # and from a member of the group, and of the staff channel: sent
        await service.reply(thread, "carol in the thread", user="U0CAROL")
        await service.reply(thread, "dave in the thread", user="U0DAVE")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 5)
        await idle(service)
    assert [s["text"] for s in fake_voipbin.sends()] == [
        "from the boss",
        "from carol",
        "from dave",
        "carol in the thread",
        "dave in the thread",
    ]


@pytest.mark.parametrize("word", ["STOP", " stop ", "Unsubscribe", "quit", "STOPALL"])
async def test_stop_opts_out_and_start_opts_back_in(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str, word: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        await service.inbound(PEER, word)
        await wait_for(
            fake_slack,
            lambda s: any("opted out" in p["text"] for p in s.posts(CHANNEL)),
        )
        notice = next(p for p in fake_slack.posts(CHANNEL) if "opted out" in p["text"])
        assert notice["thread_ts"] == thread and PEER_PRETTY in notice["text"]
        answer = await refused(service, f"{PEER} are you there?")
        assert "has opted out" in answer and "Nothing was sent" in answer
        await service.reply(thread, "hello?")
        await wait_for(fake_slack, lambda s: len(s.calls("chat.postEphemeral")) == 1)
        assert "opted out" in fake_slack.calls("chat.postEphemeral")[0].params["text"]

        await service.inbound(PEER, "Start")
        await wait_for(fake_slack, lambda s: any("opted back in" in p["text"] for p in s.posts()))
        assert "Sending" in await refused(service, f"{PEER} welcome back")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        actions = [r["action"] for r in await audit_rows(service)]
        assert actions == ["sent", "opt_out", "refused", "refused", "opt_in", "sent"]


async def test_stop_inside_a_sentence_is_just_a_message(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.inbound(PEER, "please stop by tomorrow")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        assert "Sending" in await refused(service, f"{PEER} sure")


async def test_staff_opt_out_by_hand_is_audited_and_shown(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        answer = await refused(service, "optout 0612345678")
        assert f"{PEER_PRETTY} is opted out" in answer
        await wait_for(fake_slack, lambda s: any("opted out" in p["text"] for p in s.posts()))
        notice = next(p for p in fake_slack.posts(CHANNEL) if "opted out" in p["text"])
        assert notice["thread_ts"] == thread and "<@U0ANNA>" in notice["text"]
        assert "has opted out" in await refused(service, f"{PEER} hi")
        assert "already was" in await refused(service, f"optout {PEER}")
        assert "is opted in" in await refused(service, f"optin {PEER}")
        assert "Sending" in await refused(service, f"{PEER} hi again")
        rows = await audit_rows(service)
        assert [r["action"] for r in rows] == ["sent", "opt_out", "refused", "opt_in", "sent"]
        assert "not a phone number" in await refused(service, "optout nonsense")


async def test_a_new_thread_shows_an_opted_out_number(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.inbound(PEER, "STOP")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 3)
        root = fake_slack.posts(CHANNEL)[0]
        # the root was posted with the STOP already recorded
        assert "opted out" in json.dumps(root["blocks"])


async def test_audit_command_prints_the_log(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await send_one(service, "for the record")
        await refused(service, "+14155552671 nope")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "audit", *args],
            env={"DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    everything = await asyncio.to_thread(run, "--since", "1h")
    assert everything.returncode == 0, everything.stderr
    assert "sent" in everything.stdout and "for the record" in everything.stdout
    assert "refused" in everything.stdout and "country" in everything.stdout
    one = await asyncio.to_thread(run, "--number", PEER)
    assert "for the record" in one.stdout and "country" not in one.stdout
    later = await asyncio.to_thread(run, "--since", "2999-01-01")
    assert "no audit entries" in later.stdout

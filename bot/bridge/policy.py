"""The sending policy: who may text whom, and how much. Every refusal names its rule and says
what to do; nothing here talks to Slack or VoIPbin.

Anyone who can write in a channel can make the company send SMS, so every limit is on by
default: destinations in the home country only, only numbers that reach a phone (premium-rate
and shared-cost numbers are how SMS pumping fraud is paid), a cap on message length, and daily
quotas.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import AppConfig, NumberRoute
from bot.phone import count_segments, country_name, country_of, format_international, number_type

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})


def keyword(text: str) -> str | None:
    """``"opt_out"`` / ``"opt_in"`` when an inbound SMS is one of the keywords, alone (any case,
    surrounding spaces), else None."""
    word = text.strip().upper()
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str  # a short stable name, stored in the audit log
    message: str  # for the person who tried to send


@dataclass(frozen=True, slots=True)
class Usage:
    """What was already sent, read from the audit log in the sender's transaction."""

    user_segments_today: int
    total_segments_today: int
    sends_last_minute: int


def _pretty(number: str) -> str:
    return format_international(number)


def check_sender(route: NumberRoute, *, user: str, user_groups: set[str]) -> Refusal | None:
    """``user_groups``: the user groups and channels of ``senders`` the user belongs to."""
    senders = route.senders
    if not senders.restricted:
        return None
    if user in senders.users or user_groups & set(senders.usergroups + senders.channels):
        return None
    return Refusal(
        "sender",
        f"You are not on the list of people who may send SMS from {_pretty(route.number)}. "
        "Ask the bridge's operator to add you (numbers.senders in app.yaml). Nothing was sent.",
    )


def check_destination(config: AppConfig, peer: str) -> Refusal | None:
    allowed = config.destination_countries()
    region = country_of(peer)
    if region not in allowed:
        where = country_name(region) if region else "an unknown country"
        names = ", ".join(country_name(c) for c in allowed)
        return Refusal(
            "country",
            f"{_pretty(peer)} is a number in {where}; this bridge only texts numbers in "
            f"{names}. Ask the operator to add the country to policy.countries in app.yaml. "
            "Nothing was sent.",
        )
    kind = number_type(peer)
    if kind not in config.policy.number_types:
        return Refusal(
            "number-type",
            f"{_pretty(peer)} is a {kind.replace('_', ' ')} number, which this bridge does not "
            "text (such numbers can cost a lot per message). Nothing was sent.",
        )
    return None


def check_text(config: AppConfig, text: str) -> Refusal | None:
    info = count_segments(text)
    cap = config.policy.max_segments
    if info.segments > cap:
        hint = ""
        if info.forcing_chars:
            shown = " ".join(info.forcing_chars[:5])
            hint = f" Characters like {shown} make every segment shorter (70 characters)."
        return Refusal(
            "too-long",
            f"That message is {info.segments} SMS segments ({info.encoding}); the limit is "
            f"{cap}. Shorten it or send it in parts.{hint} Nothing was sent.",
        )
    return None


def check_usage(
    config: AppConfig, *, segments: int, usage: Usage, our_number: str
) -> Refusal | None:
    policy = config.policy
    per_user = policy.daily_segments_per_user
    if per_user is not None and usage.user_segments_today + segments > per_user:
        return Refusal(
            "user-quota",
            f"You have sent {usage.user_segments_today} SMS segments today; your daily limit is "
            f"{per_user}. It resets at midnight UTC. Nothing was sent.",
        )
    total = policy.daily_segments_total
    if total is not None and usage.total_segments_today + segments > total:
        return Refusal(
            "total-quota",
            f"The bridge has sent {usage.total_segments_today} SMS segments today; the daily "
            f"limit for everyone is {total}. It resets at midnight UTC. Nothing was sent.",
        )
    rate = policy.per_number_per_minute
    if rate is not None and usage.sends_last_minute >= rate:
        return Refusal(
            "rate",
            f"{_pretty(our_number)} has sent {usage.sends_last_minute} SMS in the last minute, "
            f"its limit. Try again in a minute. Nothing was sent.",
        )
    return None


def opted_out_refusal(peer: str) -> Refusal:
    return Refusal(
        "opted-out",
        f"{_pretty(peer)} has opted out (they replied STOP) and gets no SMS from this number. "
        "They can send START to opt back in; if they asked in another way, staff can use "
        f"/sms optin {peer}. Nothing was sent.",
    )

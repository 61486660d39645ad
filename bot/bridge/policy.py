"""The sending policy: who may text whom, and how much. Every refusal names its rule and says
what to do, in the words of ``bot.bridge.messages``; nothing here talks to Slack or VoIPbin.

Anyone who can write in a channel can make the company send SMS, so every limit is on by
default: destinations in the home country only, only numbers that reach a phone (premium-rate
and shared-cost numbers are how SMS pumping fraud is paid), a cap on message length, and daily
quotas.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.bridge import messages
from bot.config import AppConfig, NumberRoute
from bot.phone import count_segments, country_name, country_of, number_type

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


def check_sender(route: NumberRoute, *, user: str, user_groups: set[str]) -> Refusal | None:
    """``user_groups``: the user groups and channels of ``senders`` the user belongs to."""
    senders = route.senders
    if not senders.restricted:
        return None
    if user in senders.users or user_groups & set(senders.usergroups + senders.channels):
        return None
    return Refusal("sender", messages.not_a_sender(route.number))


def check_destination(config: AppConfig, peer: str) -> Refusal | None:
    allowed = config.destination_countries()
    region = country_of(peer)
    if region not in allowed:
        where = country_name(region) if region else "an unknown country"
        names = [country_name(c) for c in allowed]
        return Refusal("country", messages.country_not_texted(peer, country=where, allowed=names))
    kind = number_type(peer)
    if kind not in config.policy.number_types:
        return Refusal("number-type", messages.number_type_not_texted(peer, kind=kind))
    return None


def check_text(config: AppConfig, text: str) -> Refusal | None:
    info = count_segments(text)
    cap = config.policy.max_segments
    if info.segments > cap:
        words = messages.too_long(
            segments=info.segments,
            encoding=info.encoding,
            cap=cap,
            forcing_chars=info.forcing_chars,
        )
        return Refusal("too-long", words)
    return None


def check_usage(
    config: AppConfig, *, segments: int, usage: Usage, our_number: str
) -> Refusal | None:
    policy = config.policy
    per_user = policy.daily_segments_per_user
    if per_user is not None and usage.user_segments_today + segments > per_user:
        words = messages.over_user_quota(sent_today=usage.user_segments_today, limit=per_user)
        return Refusal("user-quota", words)
    total = policy.daily_segments_total
    if total is not None and usage.total_segments_today + segments > total:
        words = messages.over_total_quota(sent_today=usage.total_segments_today, limit=total)
        return Refusal("total-quota", words)
    rate = policy.per_number_per_minute
    if rate is not None and usage.sends_last_minute >= rate:
        words = messages.over_rate(our_number, sent_last_minute=usage.sends_last_minute)
        return Refusal("rate", words)
    return None


def opted_out_refusal(peer: str) -> Refusal:
    return Refusal("opted-out", messages.opted_out(peer))

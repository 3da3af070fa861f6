"""Priority, queue and SLA deadline of a complaint, from the customer's tier and the category.

    tier A (VIP): answer within 4 hours, priority 1, straight to the human VIP desk
    tier B:       answer within 24 hours, priority 2
    tier C:       answer within 48 hours, priority 3

A loss or damage claim above `RAISE_ABOVE_GBP` (the claimed amount, or the declared value when
no amount was claimed) is raised one level: C is handled as B, B as A (A stays A).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backend.complaints.models import Category, Tier
from backend.store.models import as_utc

SLA_HOURS = {Tier.A: 4, Tier.B: 24, Tier.C: 48}
PRIORITY = {Tier.A: 1, Tier.B: 2, Tier.C: 3}
RAISE_ABOVE_GBP = 250.0
RAISED_CATEGORIES = frozenset({Category.damaged, Category.lost})
RAISE = {Tier.C: Tier.B, Tier.B: Tier.A, Tier.A: Tier.A}


@dataclass(frozen=True)
class ServiceTerms:
    handled_as: Tier  # the tier whose SLA applies (after any raise)
    priority: int
    hours: int
    queue: str
    raised: bool

    def due(self, filed_at: datetime) -> datetime:
        return filed_at + timedelta(hours=self.hours)


def terms_for(tier: Tier, category: Category, amount_at_stake: float | None) -> ServiceTerms:
    raised = (
        category in RAISED_CATEGORIES
        and amount_at_stake is not None
        and amount_at_stake > RAISE_ABOVE_GBP
    )
    level = RAISE[tier] if raised else tier
    if level is Tier.A:
        queue = "vip-desk"
    elif category in RAISED_CATEGORIES:
        queue = "claims"
    else:
        queue = "customer-care"
    return ServiceTerms(level, PRIORITY[level], SLA_HOURS[level], queue, raised)


def duration_in_words(delta: timedelta) -> str:
    """'3 hours 20 minutes', '2 days 4 hours', '45 minutes' (no sign)."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return unit(days, "day") + (f" {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour") + (f" {unit(mins, 'minute')}" if mins else "")
    return unit(max(mins, 1), "minute")


def deadline_in_words(due: datetime, now: datetime, zone: ZoneInfo) -> str:
    """'within 4 hours (by 14:30 today)' or '... (by Tue 3 Dec, 09:00)', in the carrier's zone:
    the clock the customer lives by, not the server's."""
    due_local, now_local = (as_utc(t).astimezone(zone) for t in (due, now))
    when = due_local.strftime("%H:%M")
    if due_local.date() == now_local.date():
        day = "today"
    elif due_local.date() == (now_local + timedelta(days=1)).date():
        day = "tomorrow"
    else:
        day = f"{due_local.strftime('%a')} {due_local.day} {due_local.strftime('%b')}"
    return f"within {duration_in_words(as_utc(due) - as_utc(now))} (by {when} {day})"

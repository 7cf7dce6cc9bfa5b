"""Prompts from the member's pattern (顾客消费提醒): what a member's own history suggests now, one line each, for the
member screen and as audiences for campaigns (``segment:due``, ``segment:running_out``).

- **An item due.** A product or service the member bought on at least :data:`MIN_TIMES` different days of the
  last year comes round about every ``(last − first) / (times − 1)`` days (at least :data:`MIN_EVERY_DAYS`); once
  that long has passed since the last time it is due — a product "bought about every 4 weeks, last 5 weeks ago",
  a service "usually every 3 weeks, not had for 6 weeks" — until it has been away :data:`LAPSED_TIMES` times
  as long (then the member has moved on, and the segments say so).
- **A package running out.** An active visit package the member has used at least twice in the last
  :data:`PACE_DAYS` days, whose visits left last, at their pace, :data:`RUNNING_OUT_DAYS` days or less.

Each prompt has a key naming the state it is about (the item and the day it was last bought; the card and its
visits left): the desk puts a prompt away (:func:`dismiss_prompts`) and it stays away, while the next state's
prompt shows. Refunded sales and reversed check-ins never count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _, ngettext
from mms_tui.models import Card, CardType, Member, PromptDismissal, Sale, SaleLine, Staff, Transaction, Visit
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import as_date, today
from mms_tui.services.staff.permissions import require

#: bought on at least this many days of the last year before a pattern is read from it
MIN_TIMES = 3
#: items bought more often than this are everyday purchases, not prompts
MIN_EVERY_DAYS = 7
#: away this many times the usual gap: lapsed, no longer prompted
LAPSED_TIMES = 3
#: the window the visits of a package are paced over, and how close its end must be
PACE_DAYS = 180
RUNNING_OUT_DAYS = 14
#: the audiences these prompts give campaigns (besides the RFM segments)
PROMPT_SEGMENTS = ("due", "running_out")


@dataclass(frozen=True)
class Prompt:
    key: str  # "item:HAIR:2026-11-20", "card:PKG1:2"
    kind: str  # product_due | service_due | running_out
    text: str  # one line, in the desk's language


def _span(days: int) -> str:
    """12 → '12 days', 30 → '4 weeks': a gap as a person says it."""
    if days < 14:
        return ngettext("{n} day", "{n} days", days).format(n=days)
    weeks = round(days / 7)
    return ngettext("{n} week", "{n} weeks", weeks).format(n=weeks)


def _bought(on: dt.date, member_ids: Iterable[int] | None = None) -> peewee.ModelSelect:
    """(member, item code, item name, is a service, times, first day, last day) of what members bought on at least
    MIN_TIMES days of the year up to ``on``; ``member_ids`` None: every member."""
    day = Transaction.local_day
    times = peewee.fn.COUNT(day.distinct())
    query = (SaleLine.select(Sale.member, SaleLine.code, peewee.fn.MAX(SaleLine.name),
                             peewee.fn.MAX(SaleLine.service), times, peewee.fn.MIN(day), peewee.fn.MAX(day))
             .join(Sale).join(Transaction)
             .where((Sale.status == "paid") & Sale.member.is_null(False)
                    & (day > on - dt.timedelta(days=365)) & (day <= on)))
    if member_ids is not None:
        query = query.where(Sale.member.in_(list(member_ids)))
    return query.group_by(Sale.member, SaleLine.code).having(times >= MIN_TIMES)


def _item_prompt(code: str, name: str, service: bool, times: int, first: dt.date, last: dt.date,
                 on: dt.date) -> Prompt | None:
    every = max(round((last - first).days / (times - 1)), 1)
    since = (on - last).days
    if every < MIN_EVERY_DAYS or since < every or since > LAPSED_TIMES * every:
        return None
    if service:
        text = _("{item}: usually every {every}, not had for {since}").format(item=name, every=_span(every),
                                                                            since=_span(since))
    else:
        text = _("{item}: bought about every {every}, last {since} ago — due").format(item=name, every=_span(every),
                                                                                     since=_span(since))
    return Prompt(f"item:{code}:{last.isoformat()}", "service_due" if service else "product_due", text)


def _running_out(on: dt.date, member_ids: Iterable[int] | None = None) -> list[tuple[int, Prompt]]:
    """(member, prompt) for the visit packages whose visits left run out within RUNNING_OUT_DAYS at their pace."""
    since = on - dt.timedelta(days=PACE_DAYS)
    day = Transaction.local_day
    query = (Visit.select(Visit.member, Card.card_no, CardType.name, Card.visits_left, peewee.fn.COUNT(Visit.id),
                          peewee.fn.MIN(day), peewee.fn.MAX(day))
             .join(Card).join(CardType).switch(Visit).join(Transaction)
             .where((Visit.status == "ok") & (day > since) & (day <= on) & (CardType.kind == "visits")
                    & (Card.status == "active") & (Card.visits_left > 0)))
    if member_ids is not None:
        query = query.where(Visit.member.in_(list(member_ids)))
    found = []
    for member_id, card_no, type_name, left, used, first, last in (
            query.group_by(Visit.member, Card.card_no, CardType.name, Card.visits_left).tuples()):
        first, last = as_date(first), as_date(last)
        if int(used) < 2 or first == last:
            continue
        pace = (last - first).days / (int(used) - 1)
        gone = last + dt.timedelta(days=round(pace * int(left)))
        if gone > on + dt.timedelta(days=RUNNING_OUT_DAYS):
            continue
        text = _("{card}: {left} left at one visit every {every} — gone by about {date}; offer the next package").format(
            card=type_name, left=ngettext("{n} visit", "{n} visits", int(left)).format(n=int(left)),
            every=_span(max(round(pace), 1)), date=max(gone, on).strftime("%m-%d"))
        found.append((int(member_id), Prompt(f"card:{card_no}:{int(left)}", "running_out", text)))
    return found


def _put_away(member_ids: Iterable[int] | None) -> set[tuple[int, str]]:
    query = PromptDismissal.select(PromptDismissal.member, PromptDismissal.key)
    if member_ids is not None:
        query = query.where(PromptDismissal.member.in_(list(member_ids)))
    return {(int(m), k) for m, k in query.tuples()}


def _prompts(on: dt.date, member_ids: list[int] | None) -> dict[int, list[Prompt]]:
    found: dict[int, list[Prompt]] = defaultdict(list)
    for member_id, code, name, service, times, first, last in _bought(on, member_ids).tuples().iterator():
        prompt = _item_prompt(code, name, service is not None, int(times), as_date(first), as_date(last), on)
        if prompt is not None:
            found[int(member_id)].append(prompt)
    for member_id, prompt in _running_out(on, member_ids):
        found[member_id].append(prompt)
    away = _put_away(member_ids)
    return {m: kept for m, prompts in found.items() if (kept := [p for p in prompts if (m, p.key) not in away])}


def member_prompts(member_id: int, on: dt.date | None = None) -> list[Prompt]:
    """What the member's history suggests on ``on`` (today), the items first, put-away ones left out."""
    return _prompts(on or today(), [member_id]).get(member_id, [])


def members_prompted(segment: str, on: dt.date | None = None) -> list[int]:
    """The members with a prompt of this kind on ``on``: ``due`` (an item due), ``running_out`` (a package)."""
    if segment not in PROMPT_SEGMENTS:
        raise InvalidInput(_("No segment {name!r}.").format(name=segment))
    kinds = ("product_due", "service_due") if segment == "due" else ("running_out",)
    active = {m for (m,) in Member.select(Member.id).where(Member.status == "active").tuples()}
    return sorted(m for m, prompts in _prompts(on or today(), None).items()
                  if m in active and any(p.kind in kinds for p in prompts))


def dismiss_prompts(member_id: int, keys: Iterable[str], staff: Staff) -> int:
    """Put these prompts of the member away (the desk's "not now"); returns how many were put away now."""
    require(staff, "prompts.dismiss")
    wanted = sorted({k for k in keys if isinstance(k, str) and 0 < len(k) <= 120})
    if not wanted:
        return 0
    with write_transaction():
        have = {k for (k,) in PromptDismissal.select(PromptDismissal.key)
                .where((PromptDismissal.member == member_id) & PromptDismissal.key.in_(wanted)).tuples()}
        new = [k for k in wanted if k not in have]
        if new:
            PromptDismissal.insert_many([{"member": member_id, "key": k, "staff": staff.id} for k in new]).execute()
    return len(new)

"""Reports of what members hold: the liability still owed, cards per type, members per tier."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.i18n import _
from mms_tui.models import (
    AuditEvent,
    Card,
    CardType,
    Entry,
    Member,
    Transaction,
)
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import tier_levels
from mms_tui.services.reports.period import Period, Row, count_if, sum_if

#: the card accounts whose balances the business owes, and the liability report's column for each
CARD_BALANCES = (("card.principal", "principal_fen"), ("card.bonus", "bonus_fen"), ("card.points", "points"),
                 ("card.visits", "visits"))


def _card_entry_sums(query: peewee.ModelSelect, sign: int, store: peewee.Node, *group: peewee.Node
                     ) -> peewee.ModelSelect:
    """card type, store, ±Σ principal, ±Σ bonus, ±Σ points, ±Σ visits, ±entries: of the card entries ``query``
    joins, per card type (and ``group``)."""
    sums = [sum_if(Entry.account == account, Entry.amount) * sign for account, _column in CARD_BALANCES]
    return query.select(Card.card_type, store, *sums, peewee.fn.COUNT(Entry.id) * sign).group_by(Card.card_type, *group)


def liability(p: Period, by: str = "day") -> Iterator[Row]:
    """What the business still owes its members at the end of the period: stored value (principal and bonus
    apart), points and visits, per card type — from the ledger, so it is exact at any past date.

    The whole card ledger is added up per card type in one pass over the covering index (card, account, amount),
    in card-type order so nothing is sorted, and what was posted after the period is taken off again: found from
    the transactions' dates, nothing or little for a period ending lately (the further back, the longer it
    takes). One statement, so both halves read the same moment of the database while the desk goes on. A card
    type is listed when it has entries by the end of the period.
    """
    everything = p.of_stores(Card.select().join(Entry, on=(Entry.card == Card.id)), Card.store)
    # what came later is summed per store and picked out here, and its transactions are a list to look entries up
    # by: with a store condition, or a join, SQLite goes through every card or entry instead of the few late ones
    later = (Card.select().join(Entry, on=(Entry.card == Card.id))
             .where(Entry.transaction.in_(Transaction.select(Transaction.id).where(Transaction.created_at >= p.end_dt))))
    # the first half is already the period's stores (0 stands for them); the later half is picked out here
    query = (_card_entry_sums(everything, 1, peewee.Value(0))
             + _card_entry_sums(later, -1, Card.store, Card.store))  # UNION ALL
    totals: dict[int, list[int]] = {}
    for type_id, store_id, *values in query.tuples():
        if store_id != 0 and not p.holds(store_id):
            continue
        so_far = totals.get(type_id, [0] * len(values))
        totals[type_id] = [a + int(b or 0) for a, b in zip(so_far, values, strict=True)]
    names = dict(CardType.select(CardType.id, CardType.name).tuples())
    by_name: dict[str, list[int]] = {}
    for type_id, values in totals.items():
        if values[-1] > 0:  # it has entries up to the end of the period
            named = by_name.get(names[type_id], [0] * len(values))
            by_name[names[type_id]] = [a + b for a, b in zip(named, values, strict=True)]
    grand: dict[str, int] = defaultdict(int)
    for name in sorted(by_name):
        row: Row = {"card_type": name}
        for (_account, column), amount in zip(CARD_BALANCES, by_name[name], strict=False):
            row[column] = amount
            grand[column] += amount
        yield row
    yield {"card_type": _("Total"), **grand}


def cards(p: Period, by: str = "day") -> Iterator[Row]:
    """Cards per type: issued in the period, and how many are active, frozen, lost, expired; ending in 30 days.

    One pass over the index (card type, status, valid until, issued at, store), grouped in its order.
    """
    soon = p.end + dt.timedelta(days=30)
    active = Card.status == "active"
    # an active card past its end date counts as expired; the desk refuses it the same way
    lapsed = active & (Card.valid_until < p.end)
    issued = p.during(Card.issued_at, Card.store)
    ending = active & (Card.valid_until >= p.end) & (Card.valid_until <= soon)
    query = Card.select(Card.card_type, Card.status, peewee.fn.COUNT(Card.id), count_if(lapsed), count_if(issued),
                        count_if(ending)).group_by(Card.card_type, Card.status)
    query = p.of_stores(query, Card.store)
    names = dict(CardType.select(CardType.id, CardType.name).tuples())
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for type_id, status, count, lapsed_count, issued_count, ending_count in query.tuples():
        r = rows[names[type_id]]
        r[status] += int(count) - int(lapsed_count)
        r["expired"] += int(lapsed_count)
        r["issued"] += int(issued_count)
        r["ending_30d"] += int(ending_count)
    for name in sorted(rows):
        r = rows[name]
        yield {"card_type": name, "issued": r["issued"], "active": r["active"], "frozen": r["frozen"],
               "lost": r["lost"], "expired": r["expired"], "cancelled": r["cancelled"], "ending_30d": r["ending_30d"]}


def tiers(p: Period, by: str = "day") -> Iterator[Row]:
    """Members per tier now (those whose home store is one of the period's stores), and upgrades into each tier
    during the period."""
    counts = dict(p.of_stores(Member.select(Member.tier, peewee.fn.COUNT(Member.id)), Member.home_store)
                  .group_by(Member.tier).tuples())
    upgrades: dict[str, int] = defaultdict(int)
    events = AuditEvent.select(AuditEvent.payload).where(
        (AuditEvent.action == "member.tier_up") & p.during(AuditEvent.created_at, AuditEvent.store)
    )
    events = p.of_stores(events, AuditEvent.store)
    for (payload,) in events.tuples().iterator():
        upgrades[json.loads(payload)["to"]] += 1
    rules = load_rules()
    for level in tier_levels(rules):  # the upgrade threshold is the rules' (with basis spend, in fen)
        yield {"tier": level.name, "code": level.code, "members": counts.get(level.id, 0),
               "upgrades": upgrades.get(level.code, 0),
               "threshold_fen": (level.upgrade_at or 0) if rules.tiers.basis == "spend" else 0}

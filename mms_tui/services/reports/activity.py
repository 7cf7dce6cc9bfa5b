"""Activity analysis (活跃度): how often members come and buy (``frequency``), whether the members who joined in a
month still come months later (``cohorts``), and how many members each tier held over time (``tier-trend``).

A member belongs to the node of the tree their home store is in; what they did counts wherever in the chain they
did it. Activity is a check-in (not reversed) or a paid sale (refunded ones left out), the same as the segments'.
Days and months are those of the period's zone (:meth:`Period.zone`: its stores' when they share one, else the
chain's), cut in SQL by :func:`slot_of` so the database groups and Python sees a row per bucket, never one per
member or visit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.models import AuditEvent, Member, Sale, Tier, Visit
from mms_tui.services.base.resolve import today
from mms_tui.services.loyalty.dates import add_months
from mms_tui.services.reports.period import Period, Row, bucket, slot_of

#: the frequency report's buckets of times in the period (after "0"): (lowest, highest or None)
FREQUENCY_BUCKETS = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, None))
#: how many months after joining the cohorts report follows
COHORT_MONTHS = 12


def _scoped(p: Period, query: peewee.ModelSelect, member: peewee.Field) -> peewee.ModelSelect:
    """``query`` kept to the members of the period's stores (by home store)."""
    if p.store_ids is None:
        return query
    return query.where(member.in_(p.of_stores(Member.select(Member.id), Member.home_store)))


def _activity(model: type[peewee.Model]) -> peewee.Expression:
    if model is Visit:
        return Visit.status == "ok"
    return (Sale.status == "paid") & Sale.member.is_null(False)


def _label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}–{hi}")


def frequency(p: Period, by: str = "day") -> Iterator[Row]:
    """Members by how many times they came (check-ins) and bought (paid sales) in the period: 0, 1, 2, 3–4, 5–9,
    10–19, 20 or more; each with its share of the members who had joined by the period's end."""
    start, end = p.midnights([p.start, p.end + dt.timedelta(days=1)])
    total = int(p.of_stores(Member.select(peewee.fn.COUNT(Member.id)).where(Member.created_at < end),
                            Member.home_store).scalar() or 0)
    for measure, model in (("visits", Visit), ("purchases", Sale)):
        per_member = _scoped(p, model.select(model.member, peewee.fn.COUNT(model.id).alias("n"))
                             .where(_activity(model) & (model.created_at >= start) & (model.created_at < end)),
                             model.member).group_by(model.member).alias("per_member")
        times = per_member.c.n
        which = peewee.Case(None, [(times <= hi, i) for i, (_lo, hi) in enumerate(FREQUENCY_BUCKETS) if hi],
                            len(FREQUENCY_BUCKETS) - 1)
        counts = {int(i): int(n) for i, n in
                  model.select(which, peewee.fn.COUNT(peewee.SQL("*"))).from_(per_member).group_by(which).tuples()}
        rows = [("0", max(total - sum(counts.values()), 0))]
        rows += [(_label(lo, hi), counts.get(i, 0)) for i, (lo, hi) in enumerate(FREQUENCY_BUCKETS)]
        for times_label, n in rows:
            yield {"measure": measure, "times": times_label, "members": n,
                   "share_pct": round(100 * n / total, 1) if total else None}


def cohorts(p: Period, by: str = "day") -> Iterator[Row]:
    """Cohort retention by join month: for each month of the period, the members who joined in it and the share
    of them who came in or bought in each of the 12 months after (month 1 is the calendar month after the one
    they joined in); empty for a month not yet begun, the month in progress counted so far."""
    first = p.start.replace(day=1)
    months = [first]
    while add_months(months[-1], 1) <= p.end:
        months.append(add_months(months[-1], 1))
    cohort_edges = p.midnights([*months, add_months(months[-1], 1)])
    now = today()
    last_needed = min(add_months(months[-1], COHORT_MONTHS), now.replace(day=1))
    act_months = [months[0]]
    while act_months[-1] < last_needed:
        act_months.append(add_months(act_months[-1], 1))
    act_edges = p.midnights([*act_months, add_months(act_months[-1], 1)])
    joined_in = (Member.created_at >= cohort_edges[0]) & (Member.created_at < cohort_edges[-1])
    cohort = slot_of(Member.created_at, cohort_edges)
    joined = dict(p.of_stores(Member.select(cohort, peewee.fn.COUNT(Member.id)).where(joined_in),
                              Member.home_store).group_by(cohort).tuples())
    branches = []
    for model in (Visit, Sale):
        # from the cohort's members (the (created_at, home_store) index) along the (member, status, created_at)
        # indexes: a CROSS JOIN keeps SQLite to that order, rather than reading a year of sales to find them
        branches.append(p.of_stores(
            Member.select(model.member.alias("member_id"), slot_of(model.created_at, act_edges).alias("slot"))
            .join(model, peewee.JOIN.CROSS)
            .where(joined_in & (model.member == Member.id) & _activity(model)
                   & (model.created_at >= act_edges[1]) & (model.created_at < act_edges[-1])),
            Member.home_store))
    active = (branches[0] | branches[1]).alias("active")  # UNION: a member once per month
    came = (Member.select(cohort, active.c.slot, peewee.fn.COUNT(peewee.SQL("*")))
            .join(active, on=(active.c.member_id == Member.id)).group_by(cohort, active.c.slot).tuples())
    seen: dict[tuple[int, int], int] = {}
    for c, slot, n in came:
        seen[(int(c) - 1, int(slot) - 1)] = int(n)  # (cohort month, activity month), both from the first month
    for c, month in enumerate(months):
        size = int(joined.get(c + 1, 0))
        row: Row = {"cohort": month.strftime("%Y-%m"), "members": size}
        for k in range(1, COHORT_MONTHS + 1):
            begun = add_months(month, k) <= now
            row[f"month_{k}_pct"] = (round(100 * seen.get((c, c + k), 0) / size, 1)
                                     if begun and size else None)
        yield row


def tier_trend(p: Period, by: str = "day") -> Iterator[Row]:
    """Members per tier at the end of each day (week, month) of the period, and their total: today's tiers taken
    back through the tier changes since (``member.tier_up``/``member.tier_down`` audit events), each member counted
    from the day they joined."""
    days = [p.start + dt.timedelta(days=n) for n in range((p.end - p.start).days + 1)]
    last_days: dict[str, dt.date] = {}
    for day in days:
        last_days[bucket(day, by)] = day
    keys = list(last_days)
    edges = p.midnights([last_days[k] + dt.timedelta(days=1) for k in keys])
    tiers = list(Tier.select(Tier.id, Tier.code, Tier.name).order_by(Tier.rank, Tier.id).tuples())
    code_of = {tier_id: code for tier_id, code, _name in tiers}
    joined_slot = slot_of(Member.created_at, edges)
    # counts[i][code]: members at edge i by today's tier — everyone (the tier index alone) less those who joined
    # at or after edge i (slot > i), read along the join moments from the first edge on
    everyone: dict[str, int] = defaultdict(int)
    for tier_id, n in p.of_stores(Member.select(Member.tier, peewee.fn.COUNT(Member.id)),
                                  Member.home_store).group_by(Member.tier).tuples():
        everyone[code_of.get(tier_id, "")] += int(n)
    later: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # grouped by the slot first: SQLite then reads the join moments' index, not every member by tier
    for slot, tier_id, n in p.of_stores(Member.select(joined_slot, Member.tier, peewee.fn.COUNT(Member.id))
                                        .where(Member.created_at >= edges[0]),
                                        Member.home_store).group_by(joined_slot, Member.tier).tuples():
        later[int(slot)][code_of.get(tier_id, "")] += int(n)
    counts = []
    for i in range(len(edges)):
        at = dict(everyone)
        for slot, by_code in later.items():
            if slot > i:
                for code, n in by_code.items():
                    at[code] -= n
        counts.append(at)
    # each change since the first edge, taken back at every edge before it at which the member had joined
    changes = list(AuditEvent.select(AuditEvent.subject, AuditEvent.payload, slot_of(AuditEvent.created_at, edges))
                   .where(AuditEvent.action.in_(("member.tier_up", "member.tier_down"))
                          & (AuditEvent.created_at >= edges[0]))
                   .tuples())
    changes = [c for c in changes if c[0].startswith("member:")]  # (not in SQL: it would read the subject index)
    ids = sorted({int(subject.split(":", 1)[1]) for subject, _payload, _slot in changes})
    member_slot: dict[int, int] = {}
    for chunk in range(0, len(ids), 500):
        member_slot.update((m, int(s)) for m, s in p.of_stores(
            Member.select(Member.id, joined_slot).where(Member.id.in_(ids[chunk:chunk + 500])),
            Member.home_store).tuples())
    for subject, payload, slot in changes:
        member = int(subject.split(":", 1)[1])
        if member not in member_slot:
            continue  # not a member of these stores
        change = json.loads(payload)
        for i in range(member_slot[member], int(slot)):
            counts[i][change["to"]] = counts[i].get(change["to"], 0) - 1
            counts[i][change["from"]] = counts[i].get(change["from"], 0) + 1
    for key, at in zip(keys, counts, strict=True):
        row: Row = {"period": key}
        for _tier_id, code, name in tiers:
            row[name] = at.get(code, 0)
        row["members"] = sum(at.values())
        yield row

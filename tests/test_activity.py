"""Activity analysis (issue #25): the segments' thresholds set by the manager, the frequency, cohorts and
tier-trend reports — against figures worked out by hand on a small history and against row-by-row references on
the demo's varied one, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

import pytest
from click.testing import CliRunner

from mms_tui import clock
from mms_tui.cli import cli
from mms_tui.db import write_transaction
from mms_tui.models import AuditEvent, Member, Sale, Tier, Visit
from mms_tui.services.loyalty.coupons import members_in_segment
from mms_tui.services.loyalty.rules_files import rules_to_dict
from mms_tui.services.loyalty.rules_reader import RulesInvalid, parse_rules
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.services.loyalty.segments import SEGMENTS
from mms_tui.services.loyalty.tiers import raise_tier
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.reports.activity import COHORT_MONTHS, FREQUENCY_BUCKETS
from mms_tui.services.reports.catalogue import run_report
from mms_tui.services.reports.period import bucket, period
from tests.test_reports import at, build_history


def months_on(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


# --- the segments' thresholds: rules as data -----------------------------------------------------------------------

def test_segment_thresholds_read_write_and_are_checked():
    rules = parse_rules({"segments": {"new_days": 14, "big_spend": "1500", "lost_days": 120, "loyal_sales": 4}})
    t = rules.segments
    assert (t.new_days, t.big_spend_fen, t.lost_days, t.loyal_sales, t.returning_days) == (14, 150_000, 120, 4, 60)
    assert rules_to_dict(rules)["segments"] == {"new_days": 14, "big_spend": "1500", "lost_days": 120,
                                                "loyal_sales": 4}
    assert parse_rules(rules_to_dict(rules)) == rules
    assert "segments" not in rules_to_dict(parse_rules({}))  # defaults are left out
    with pytest.raises(RulesInvalid) as bad:
        parse_rules({"segments": {"returning_days": 90, "lost_days": 60, "new_days": 0, "big_spend": "-3",
                                  "colour": 1}})
    text = "\n".join(bad.value.errors)
    for place in ("segments.returning_days", "segments.new_days", "segments.big_spend", "segments.colour"):
        assert place in text, place


def test_the_segments_report_and_the_campaigns_follow_the_managers_thresholds(desk, today):
    c = desk.cashier
    old = dt.datetime.combine(today - dt.timedelta(days=400), dt.time(11))
    ids = {}
    for name, phone, days_ago in (("近", "13800000001", 20), ("中", "13800000002", 50), ("远", "13800000003", 100)):
        m = register_member(name, phone, c, f"r{phone}").member_id
        Member.update(created_at=old).where(Member.id == m).execute()
        checkout(m, ["HAIR"], [("cash", 8_800)], c, f"s{phone}")
        at(f"s{phone}", dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12)))
        ids[name] = m

    def counts():
        return {r["segment"]: r["members"] for r in run_report("segments", end=today)}

    assert counts()["returning"] == 2 and counts()["idle"] == 1  # 20 and 50 days: returning; 100: idle
    save_rules({**rules_to_dict(load_rules()), "segments": {"returning_days": 30, "lost_days": 90}}, desk.manager)
    after = counts()
    assert (after["returning"], after["idle"], after["lost"]) == (1, 1, 1)
    rules = {r["segment"]: r["rule"] for r in run_report("segments", end=today)}
    assert "30" in rules["returning"] and "90" in rules["lost"]
    # a campaign to a segment takes the same members the report counts
    assert members_in_segment("returning", today) == [ids["近"]]
    assert members_in_segment("idle", today) == [ids["中"]]
    assert members_in_segment("lost", today) == [ids["远"]]
    assert set(SEGMENTS) == set(rules)


# --- the reports on a small history worked out by hand ------------------------------------------------------------

@pytest.fixture
def cohort_history(desk, today):
    """Three months back (M0) and the month after (M1), each member's days written beside them; A moves up to
    银卡 on day 10 of M1."""
    c, mgr = desk.cashier, desk.manager
    m0 = months_on(today, -3)
    m1, m2 = months_on(m0, 1), months_on(m0, 2)

    def moment(day: dt.date, days: int, hour: int = 12) -> dt.datetime:
        return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour))

    members = {}
    for name, phone, joined in (("A", "13900000001", moment(m0, 2, 10)), ("B", "13900000002", moment(m0, 9)),
                                ("C", "13900000003", moment(m1, 0, 15)), ("D", "13900000004", moment(m0, 20))):
        m = register_member(name, phone, c, f"r{name}").member_id
        Member.update(created_at=joined).where(Member.id == m).execute()
        members[name] = m
    cards = {n: issue_card(m, "V10", c, f"i{n}", card_no=f"PKG{n}", tender="cash").card_id
             for n, m in members.items()}
    check_in(cards["A"], c, "vA1")
    at("vA1", moment(m1, 3))
    checkout(members["A"], ["HAIR"], [("cash", 8_800)], c, "sA1")
    at("sA1", moment(m2, 5))
    checkout(members["B"], ["HAIR"], [("cash", 8_800)], c, "sB0")
    at("sB0", moment(m0, 12))  # the month B joined: not "after"
    for n, txid in ((1, "vB1"), (2, "vB2")):
        check_in(cards["B"], c, txid, again=True)
        at(txid, moment(m2, n))
    check_in(cards["C"], c, "vC1")
    at("vC1", moment(m2, 14))
    check_in(cards["D"], c, "vD1")
    refund("vD1", mgr, "wrong card", "vD1-back")  # reversed: D never came
    at("vD1", moment(m1, 4))
    checkout(members["D"], ["HAIR"], [("cash", 8_800)], c, "sD1")
    refund("sD1", mgr, "unhappy", "sD1-back")  # refunded: D never bought either
    at("sD1", moment(m2, 6))
    with write_transaction():
        raise_tier(members["A"], "SILVER", staff=mgr)
    AuditEvent.update(created_at=moment(m1, 10)).where(AuditEvent.action == "member.tier_up").execute()
    return m0, m1, m2


def test_cohorts_by_hand(cohort_history, today):
    m0, m1, _m2 = cohort_history
    first, second = run_report("cohorts", m0 + dt.timedelta(days=5), m1 + dt.timedelta(days=3))
    assert first["cohort"] == m0.strftime("%Y-%m") and first["members"] == 3  # A, B, D (whole months)
    assert (first["month_1_pct"], first["month_2_pct"], first["month_3_pct"]) == (33.3, 66.7, 0.0)
    assert first["month_4_pct"] is None  # not begun
    assert (second["cohort"], second["members"]) == (m1.strftime("%Y-%m"), 1)
    assert (second["month_1_pct"], second["month_2_pct"], second["month_3_pct"]) == (100.0, 0.0, None)
    assert len(first) == 2 + COHORT_MONTHS


def test_frequency_by_hand(cohort_history):
    _m0, _m1, m2 = cohort_history
    rows = list(run_report("frequency", m2, months_on(m2, 1) - dt.timedelta(days=1)))
    got = {(r["measure"], r["times"]): (r["members"], r["share_pct"]) for r in rows}
    assert got[("visits", "0")] == (2, 50.0)  # A and D of the four
    assert got[("visits", "1")] == (1, 25.0) and got[("visits", "2")] == (1, 25.0)  # C; B twice
    assert got[("purchases", "0")] == (3, 75.0) and got[("purchases", "1")] == (1, 25.0)  # A (D's was refunded)
    assert len(rows) == 2 * (1 + len(FREQUENCY_BUCKETS))


def test_tier_trend_by_hand(cohort_history, today):
    m0, m1, _m2 = cohort_history
    rows = list(run_report("tier-trend", m0, today, by="month"))
    assert [r["period"] for r in rows] == [months_on(m0, n).strftime("%Y-%m") for n in range(4)]
    assert [(r["普通会员"], r["银卡会员"], r["members"]) for r in rows] == [(3, 0, 3), (3, 1, 4), (3, 1, 4),
                                                                          (3, 1, 4)]
    by_day = {r["period"]: r for r in run_report("tier-trend", m1 + dt.timedelta(days=8), m1 + dt.timedelta(days=11))}
    day = (m1 + dt.timedelta(days=9)).isoformat()  # the upgrade came on day 10, at noon
    assert (by_day[day]["普通会员"], by_day[day]["银卡会员"]) == (4, 0)
    day = (m1 + dt.timedelta(days=10)).isoformat()
    assert (by_day[day]["普通会员"], by_day[day]["银卡会员"]) == (3, 1)


def test_an_unknown_store_is_refused(cohort_history, today):
    from mms_tui.services.base.errors import DomainError

    for name in ACTIVITY_REFERENCE:
        with pytest.raises(DomainError):
            list(run_report(name, today - dt.timedelta(days=10), today, "NOPE"))


# --- against row-by-row references on the demo's history ----------------------------------------------------------

def ref_frequency(p, by="day"):
    """Each visit and sale looked at once, the member's home store and join moment from their row."""
    end = dt.datetime.combine(p.end + dt.timedelta(days=1), dt.time())
    members = {m.id: m for m in Member.select() if p.holds(m.home_store_id) and m.created_at < end}
    for measure, rows in (("visits", Visit.select().where(Visit.status == "ok")),
                          ("purchases", Sale.select().where(Sale.status == "paid"))):
        times = Counter(r.member_id for r in rows
                        if r.member_id in members and p.start <= r.created_at.date() <= p.end)
        per: Counter = Counter()
        for member_id in members:
            n = times.get(member_id, 0)
            per[n] += 1
        labels = [("0", 0, 0)] + [(f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}–{hi}"), lo, hi)
                                  for lo, hi in FREQUENCY_BUCKETS]
        for label, lo, hi in labels:
            n = sum(c for k, c in per.items() if lo <= k and (hi is None or k <= hi))
            yield {"measure": measure, "times": label, "members": n,
                   "share_pct": round(100 * n / len(members), 1) if members else None}


def ref_cohorts(p, by="day"):
    today = clock.today()
    months = []
    month = p.start.replace(day=1)
    while month <= p.end:
        months.append(month)
        month = months_on(month, 1)
    cohort = {m.id: m.created_at.date().replace(day=1) for m in Member.select()
              if p.holds(m.home_store_id) and m.created_at.date().replace(day=1) in months}
    active = defaultdict(set)  # member → months they came or bought in
    for rows in (Visit.select().where(Visit.status == "ok"), Sale.select().where(Sale.status == "paid")):
        for r in rows:
            if r.member_id in cohort:
                active[r.member_id].add(r.created_at.date().replace(day=1))
    for month in months:
        who = [m for m, c in cohort.items() if c == month]
        row = {"cohort": month.strftime("%Y-%m"), "members": len(who)}
        for k in range(1, COHORT_MONTHS + 1):
            target = months_on(month, k)
            came = sum(target in active[m] for m in who)
            row[f"month_{k}_pct"] = round(100 * came / len(who), 1) if who and target <= today else None
        yield row


def ref_tier_trend(p, by="day"):
    """Each member's tier at each bucket's end: today's tier, taken back through their own changes after it."""
    tiers = list(Tier.select().order_by(Tier.rank, Tier.id))
    changes = defaultdict(list)
    for e in AuditEvent.select().where(AuditEvent.action.in_(("member.tier_up", "member.tier_down"))):
        changes[int(e.subject.split(":")[1])].append((e.created_at, json.loads(e.payload)))
    ends = {}
    d = p.start
    while d <= p.end:
        ends[bucket(d, by)] = d
        d += dt.timedelta(days=1)
    members = [m for m in Member.select(Member, Tier).join(Tier) if p.holds(m.home_store_id)]
    for key, last in ends.items():
        edge = dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
        count = Counter()
        for m in members:
            if m.created_at >= edge:
                continue
            code = m.tier.code
            for when, change in sorted(changes[m.id], key=lambda x: x[0], reverse=True):
                if when >= edge:
                    code = change["from"]
            count[code] += 1
        row = {"period": key}
        for t in tiers:
            row[t.name] = count.get(t.code, 0)
        row["members"] = sum(count.values())
        yield row


ACTIVITY_REFERENCE = {"frequency": ref_frequency, "cohorts": ref_cohorts, "tier-trend": ref_tier_trend}


@pytest.fixture
def demo_history(db_target):
    return build_history(db_target)


def test_the_activity_reports_agree_with_row_by_row_references(demo_history):
    today = clock.today()
    cases = [(today - dt.timedelta(days=30), today, None, "day"),
             (today - dt.timedelta(days=160), today, None, "month"),
             (today - dt.timedelta(days=120), today - dt.timedelta(days=40), None, "week"),
             (today - dt.timedelta(days=90), today, "BR1", "week")]
    compared = 0
    for start, end, store, by in cases:
        p = period(start, end, store)
        for name, ref in ACTIVITY_REFERENCE.items():
            expected = list(ref(p, by))
            assert list(run_report(name, start, end, store, by)) == expected, (name, start, end, store, by)
            compared += len(expected)
    assert compared > 100
    # the history has what the references tell apart: upgrades, repeat visitors, members still coming months on
    trend = list(run_report("tier-trend", today - dt.timedelta(days=160), today, by="month"))
    assert trend[0]["members"] < trend[-1]["members"]
    assert any(r["times"] not in ("0", "1") and r["members"] for r in run_report("frequency"))
    assert any((r["month_1_pct"] or 0) > 0 for r in run_report("cohorts", today - dt.timedelta(days=150), today))


def test_the_cli_prints_them_and_writes_a_spreadsheet(cohort_history, desk, tmp_path):
    from openpyxl import load_workbook

    m0, _m1, _m2 = cohort_history
    runner = CliRunner()
    out = runner.invoke(cli, ["--db", desk.target, "report", "cohorts", "--from", m0.isoformat()])
    assert out.exit_code == 0, out.output
    assert m0.strftime("%Y-%m") in out.output
    target = tmp_path / "cohorts.xlsx"
    out = runner.invoke(cli, ["--db", desk.target, "--lang", "en", "report", "cohorts", "--from", m0.isoformat(),
                              "-o", str(target)])
    assert out.exit_code == 0, out.output
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Joined in", "Members", "Month 1 %", "Month 2 %"]
    assert sheet.cell(2, 3).value == 33.3

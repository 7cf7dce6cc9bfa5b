"""Coupon issuance: by hand, for new members, birthdays, win-back and a segment in bulk; unique hard-to-guess
numbers, promotions that must exist, idempotent bulk runs, the back office's list and the command."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from mms_tui import clock
from mms_tui.models import AuditEvent, Coupon, Member, Sale, Transaction
from mms_tui.services.base.errors import InvalidInput, PermissionDenied
from mms_tui.services.loyalty.birthday_benefit import birthday_benefit
from mms_tui.services.loyalty.coupons import (
    CODE_ALPHABET,
    coupon_code,
    issue_birthday_coupon,
    issue_birthday_coupons,
    issue_coupon,
    issue_for_new_member,
    issue_for_segment,
    issue_winback,
    list_coupons,
    members_in_segment,
)
from mms_tui.services.loyalty.pricing import MemberFacts
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.ops.setup import connect
from mms_tui.services.reports.catalogue import run_report

TODAY = clock.today()


@pytest.fixture(autouse=True)
def _on_today():
    """The product's clock stays on TODAY (noon) for each test: a run that crosses the store's midnight between
    collecting this module and running a test must not move the day under it."""
    with clock.pinned(dt.datetime.combine(TODAY, dt.time(12))):
        yield
RULES = {
    "promotions": [
        {"code": "SPRING", "kind": "amount", "amount": "20", "auto": False},
        {"code": "COMEBACK", "kind": "percent", "percent": 20, "auto": False},
        {"code": "WINBACK", "kind": "amount", "amount": "30", "auto": False},
        {"code": "CAKE", "kind": "free_item", "item": "WATER", "auto": False},
        {"code": "HAPPY", "kind": "percent", "percent": 10, "auto": True},
        {"code": "OLD", "kind": "amount", "amount": "5", "auto": False, "valid_until": "2020-01-31"},
        {"code": "SHORT", "kind": "amount", "amount": "5", "auto": False,
         "valid_until": (TODAY + dt.timedelta(days=9)).isoformat()},
    ],
    "birthday": {"window": "week", "promotion": "CAKE"},
}
CODE = re.compile(rf"^SPRING-[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}$")


def days_ago(n: int) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=n), dt.time(12))


def person(desk, phone: str, name: str, joined_days_ago: int = 400) -> int:
    member_id = register_member(name, phone, desk.cashier, f"reg-{phone}").member_id
    Member.update(created_at=days_ago(joined_days_ago)).where(Member.id == member_id).execute()
    return member_id


def sale_days_ago(desk, member_id: int, txid: str, n: int) -> None:
    checkout(member_id, [("WATER", 1)], [("cash", 300)], desk.cashier, txid)
    tx = Transaction.get(Transaction.txid == txid)
    Transaction.update(created_at=days_ago(n)).where(Transaction.id == tx.id).execute()
    Sale.update(created_at=days_ago(n)).where(Sale.transaction == tx.id).execute()


@pytest.fixture
def shop(desk):
    save_rules(RULES, desk.manager)
    desk.zhang = person(desk, "13800138000", "张三")
    return desk


# --- by hand --------------------------------------------------------------------------------------------------------


def test_a_manager_issues_spring_for_14_days_with_a_hard_to_guess_number_and_an_audit_event(shop):
    coupon = issue_coupon("13800138000", "SPRING", shop.manager, valid_days=14)
    assert CODE.match(coupon.code), coupon.code
    assert (coupon.valid_from, coupon.valid_until) == (TODAY.isoformat(), (TODAY + dt.timedelta(days=13)).isoformat())
    assert (coupon.reason, coupon.status, coupon.member_id) == ("manual", "unused", shop.zhang)
    event = AuditEvent.get(AuditEvent.action == "coupon.issue")
    assert event.subject == f"coupon:{coupon.id}" and event.staff_id == shop.manager.id
    assert json.loads(event.payload)["code"] == coupon.code


def test_a_coupon_never_outlasts_its_promotion_and_the_default_is_30_days(shop):
    assert issue_coupon(shop.zhang, "SHORT", shop.manager).valid_until == (TODAY + dt.timedelta(days=9)).isoformat()
    assert issue_coupon(shop.zhang, "SPRING", shop.manager).valid_until == (
        TODAY + dt.timedelta(days=29)).isoformat()


@pytest.mark.parametrize("promotion, message", [
    ("NOPE", "No promotion NOPE in the rules in force (coupon promotions: SPRING, COMEBACK, WINBACK, "
             "CAKE, OLD, SHORT)."),
    ("HAPPY", "Promotion HAPPY applies to everyone without a coupon (auto = true)."),
    ("OLD", "Promotion OLD ended on 2020-01-31."),
])
def test_a_promotion_must_exist_need_a_coupon_and_not_have_ended(shop, promotion, message):
    with pytest.raises(InvalidInput) as caught:
        issue_coupon(shop.zhang, promotion, shop.manager)
    assert str(caught.value) == message
    assert Coupon.select().count() == 0 and AuditEvent.select().where(AuditEvent.action == "coupon.issue").count() == 0


def test_a_cashier_cannot_give_coupons_away_by_hand(shop):
    with pytest.raises(PermissionDenied):
        issue_coupon(shop.zhang, "SPRING", shop.cashier)
    assert Coupon.select().count() == 0


def test_200_numbers_are_all_different_and_never_use_0_O_1_I_or_L():
    codes = {coupon_code("spring") for _ in range(200)}
    assert len(codes) == 200
    assert all(CODE.match(c) and not set(c[7:]) & set("01OIL") for c in codes)


# --- by rule ----------------------------------------------------------------------------------------------------------


WELCOME = {"code": "WELCOME", "kind": "amount", "amount": "10", "auto": False}


def test_a_new_member_gets_one_welcome_coupon_however_often_registration_asks(shop):
    save_rules({**RULES, "promotions": [*RULES["promotions"], WELCOME]}, shop.manager)
    li = person(shop, "13912345678", "李四", joined_days_ago=0)  # registration itself issues it
    (row,) = Coupon.select().where(Coupon.member == li)
    assert (row.promotion, row.reason) == ("WELCOME", "new_member")
    first = issue_for_new_member(li, shop.cashier)
    assert first.code == row.code
    assert issue_for_new_member(li, shop.cashier) == first
    register_member("李四", "13912345678", shop.cashier, "reg-13912345678")  # the same registration again
    assert Coupon.select().where(Coupon.member == li).count() == 1


def test_no_welcome_promotion_in_the_rules_means_no_new_member_coupon(shop):
    save_rules({"promotions": [RULES["promotions"][0]]}, shop.manager)
    assert issue_for_new_member(shop.zhang, shop.cashier) is None
    assert Coupon.select().count() == 0


def test_a_birthday_coupon_is_the_one_the_desk_applies_and_only_one_per_birthday(shop):
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    Member.update(birthday=dt.date(1992, monday.month, monday.day)).where(Member.id == shop.zhang).execute()
    member = Member.get_by_id(shop.zhang)
    coupon = issue_birthday_coupon(shop.zhang, shop.cashier)
    benefit = birthday_benefit(MemberFacts(shop.zhang, tier_code="NORMAL", birthday=member.birthday), TODAY,
                               load_rules())
    assert coupon.code == benefit.coupon.code == f"BDAY-{shop.zhang}-{monday.isoformat()}"
    assert (coupon.valid_from, coupon.valid_until) == (monday.isoformat(), (monday + dt.timedelta(days=6)).isoformat())
    assert issue_birthday_coupon(shop.zhang, shop.cashier) == coupon
    run = issue_birthday_coupons(shop.manager)
    assert (run.coupons, run.already) == ([], 1)
    assert Coupon.select().count() == 1


def test_birthday_run_skips_members_outside_their_window(shop):
    far = TODAY + dt.timedelta(days=60)
    Member.update(birthday=dt.date(1990, far.month, min(far.day, 28))).where(Member.id == shop.zhang).execute()
    assert issue_birthday_coupons(shop.manager).coupons == []
    assert issue_birthday_coupon(shop.zhang, shop.cashier) is None


@pytest.mark.parametrize("away, issued", [(89, False), (90, True), (91, True)])
def test_winback_after_90_days_away_boundary(shop, away, issued):
    sale_days_ago(shop, shop.zhang, "s1", away)
    run = issue_winback(90, shop.manager)
    assert [c.member_id for c in run.coupons] == ([shop.zhang] if issued else [])
    assert all(c.promotion == "WINBACK" and c.reason == "winback" for c in run.coupons)


def test_winback_once_per_absence_and_again_after_the_member_came_back_and_left(shop):
    sale_days_ago(shop, shop.zhang, "s1", 300)
    assert len(issue_winback(90, shop.manager).coupons) == 1
    again = issue_winback(90, shop.manager)
    assert (again.coupons, again.already) == ([], 1)
    Coupon.update(issued_at=days_ago(250)).execute()  # that coupon was given 250 days ago …
    sale_days_ago(shop, shop.zhang, "s2", 120)  # … the member came back 120 days ago, and left again
    assert [c.member_id for c in issue_winback(90, shop.manager).coupons] == [shop.zhang]


def test_a_member_who_joined_100_days_ago_and_never_came_is_away_100_days(shop):
    li = person(shop, "13912345678", "李四", joined_days_ago=100)
    sale_days_ago(shop, shop.zhang, "s1", 5)
    assert [c.member_id for c in issue_winback(90, shop.manager).coupons] == [li]


# --- in bulk, by segment ------------------------------------------------------------------------------------------------


@pytest.fixture
def segments(shop):
    """张三 at risk (2 sales 90 days ago), 李四 returning (a sale 10 days ago), 王五 lost (nothing for a year)."""
    sale_days_ago(shop, shop.zhang, "z1", 95)
    sale_days_ago(shop, shop.zhang, "z2", 90)
    shop.li = person(shop, "13912345678", "李四")
    sale_days_ago(shop, shop.li, "l1", 10)
    shop.wang = person(shop, "13700137000", "王五")
    return shop


def test_the_at_risk_segment_is_the_one_the_segments_report_counts(segments):
    assert members_in_segment("at_risk", TODAY) == [segments.zhang]
    counts = {r["segment"]: r["members"] for r in run_report("segments")}
    for name in ("at_risk", "returning", "lost", "new"):
        assert len(members_in_segment(name, TODAY)) == counts[name], name


def test_bulk_at_risk_issues_one_comeback_each_and_running_it_again_issues_nothing(segments):
    first = issue_for_segment("at_risk", "COMEBACK", segments.manager)
    assert [(c.member_id, c.reason, c.promotion) for c in first.coupons] == [(segments.zhang, "bulk", "COMEBACK")]
    events = AuditEvent.select().count()
    again = issue_for_segment("at_risk", "COMEBACK", segments.manager)
    assert (again.coupons, again.already) == ([], 1)
    assert Coupon.select().count() == 1 and AuditEvent.select().count() == events


def test_a_dry_run_lists_who_would_get_one_and_writes_nothing(segments):
    run = issue_for_segment("at_risk", "COMEBACK", segments.manager, dry_run=True)
    assert [(c.member_id, c.code, c.status) for c in run.coupons] == [(segments.zhang, "", "to issue")]
    assert Coupon.select().count() == 0


def test_an_unknown_segment_is_one_clear_refusal(segments):
    with pytest.raises(InvalidInput, match="No segment 'risky'"):
        issue_for_segment("risky", "COMEBACK", segments.manager)


# --- the back office --------------------------------------------------------------------------------------------------


def test_list_one_members_unused_coupons_with_their_status(shop):
    kept = issue_coupon(shop.zhang, "SPRING", shop.manager)
    used = issue_coupon(shop.zhang, "SPRING", shop.manager)
    Coupon.update(used_at=days_ago(0)).where(Coupon.id == used.id).execute()
    expired = issue_coupon(shop.zhang, "SPRING", shop.manager, valid_days=1)
    Coupon.update(valid_until=TODAY - dt.timedelta(days=1)).where(Coupon.id == expired.id).execute()
    li = person(shop, "13912345678", "李四")
    issue_coupon(li, "SPRING", shop.manager)
    unused = list(list_coupons("13800138000", unused=True))
    assert sorted((c.code, c.status) for c in unused) == sorted([(kept.code, "unused"), (expired.code, "expired")])
    assert len(list(list_coupons())) == 4


# --- the command --------------------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_shop(sqlite_desk):
    save_rules(RULES, sqlite_desk.manager)
    sqlite_desk.zhang = person(sqlite_desk, "13800138000", "张三")
    sale_days_ago(sqlite_desk, sqlite_desk.zhang, "z1", 95)
    sale_days_ago(sqlite_desk, sqlite_desk.zhang, "z2", 90)
    return sqlite_desk


def test_mms_coupons_issue_segment_twice_issues_once(run, sqlite_shop):
    db = sqlite_shop.target
    first = run("--db", db, "coupons", "issue", "--segment", "at_risk", "--promotion", "COMEBACK", "--format", "json")
    assert first.exit_code == 0, first.output
    (row,) = json.loads(first.stdout)
    assert (row["member"], row["phone"], row["promotion"], row["reason"]) == ("张三", "138****8000", "COMEBACK", "bulk")
    assert first.stderr.strip() == "Issued 1 coupons of COMEBACK; 0 members already had one."
    again = run("--db", db, "coupons", "issue", "--segment", "at_risk", "--promotion", "COMEBACK")
    assert again.exit_code == 0 and again.stdout == ""
    assert again.stderr.strip() == "Issued 0 coupons of COMEBACK; 1 members already had one."
    listed = run("--db", db, "coupons", "list", "--member", "13800138000", "--unused", "--format", "csv")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0] == "code,promotion,member,phone,reason,valid_from,valid_until,issued_at,used_at,status"
    assert len(lines) == 2 and lines[1].startswith(row["code"] + ",COMEBACK,张三") and lines[1].endswith(",unused")
    connect(db)
    assert Coupon.select().count() == 1


def test_mms_coupons_issue_by_hand_for_one_member(run, sqlite_shop):
    result = run("--db", sqlite_shop.target, "coupons", "issue", "--member", "138 0013 8000", "--promotion",
                 "SPRING", "--valid-days", "7", "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert CODE.match(row["code"]) and row["valid_until"] == (TODAY + dt.timedelta(days=6)).isoformat()


@pytest.mark.parametrize("args, message", [
    ((), "Say who gets coupons: one of --member, --segment, --winback or --birthday."),
    (("--segment", "at_risk", "--winback", "90"), "Say who gets coupons"),
    (("--segment", "at_risk"), "--segment needs --promotion CODE."),
    (("--member", "13800138000", "--promotion", "NOPE"), "No promotion NOPE in the rules in force"),
    (("--member", "13999999999", "--promotion", "SPRING"), "Unknown member 13999999999."),
])
def test_mms_coupons_issue_refusals_are_one_line_and_change_nothing(run, sqlite_shop, args, message):
    result = run("--db", sqlite_shop.target, "coupons", "issue", *args)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    connect(sqlite_shop.target)
    assert Coupon.select().count() == 0

"""Birthdays at the desk (issue #6): the benefit shown on swipe and given with one key, once per birthday window;
due fees and tier progress on the member panel; the birthdays report. SQLite and PostgreSQL, and the TUI."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from click.testing import CliRunner
from textual.widgets import Static

from mms_tui import clock
from mms_tui.cli import cli
from mms_tui.models import Coupon, Entry, Member, Sale, Store, Transaction, Visit
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import mask_phone
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.birthdays import AlreadyGiven, birthday_offer, give_birthday_benefit
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.members.view import member_history, member_view
from mms_tui.services.reports.catalogue import run_report
from mms_tui.services.reports.period import Period, period

WEDNESDAY = dt.date(2026, 5, 20)  # the week of Monday 18 to Sunday 24 May 2026
TOWEL_RULES = {
    "points": {"gifts": [{"code": "TOWEL", "name": "毛巾", "points": 500}]},
    "birthday": {"window": "week", "gift": "TOWEL"},
}


def rules(desk, document: dict) -> None:
    save_rules(document, desk.manager)


def born_on(desk, phone: str, birthday: dt.date | None, name: str = "张三") -> int:
    return register_member(name, phone, desk.cashier, f"reg-{phone}", birthday=birthday).member_id


def nothing_recorded() -> tuple[int, int, int]:
    return Transaction.select().count(), Entry.select().count(), Sale.select().count()


# --- one key, once a window --------------------------------------------------------------------------------------


def test_birthday_gift_one_key_gives_it_once_a_second_press_is_refused_saying_when_and_by_whom(desk):
    rules(desk, TOWEL_RULES)
    m = born_on(desk, "13800138000", dt.date(1990, 5, 20))
    offer = birthday_offer(m, WEDNESDAY)
    assert (offer.window_start, offer.window_end, offer.gift_name, offer.to_give) == (
        "2026-05-18", "2026-05-24", "毛巾", True)

    given = give_birthday_benefit(m, desk.cashier, "b1", on=WEDNESDAY)
    assert given.gift_name == "毛巾" and given.gift_txid == "b1"
    tx = Transaction.get(Transaction.txid == "b1")
    assert (tx.kind, tx.member_id, Entry.select().where(Entry.transaction == tx).count()) == ("birthday", m, 0)
    assert give_birthday_benefit(m, desk.cashier, "b1", on=WEDNESDAY) == given  # a retry: the same answer

    before = nothing_recorded()
    with pytest.raises(AlreadyGiven, match=r"already given on \d{4}-\d\d-\d\d \d\d:\d\d by 前台 小陈"):
        give_birthday_benefit(m, desk.cashier, "b2", on=WEDNESDAY + dt.timedelta(days=4))  # Sunday, same window
    assert nothing_recorded() == before
    later = birthday_offer(m, WEDNESDAY)
    assert not later.to_give and later.gift_given_by == "前台 小陈"
    history = member_history(m)
    assert [(r.label, r.detail) for r in history if r.kind == "birthday"] == [("Birthday gift", "毛巾")]
    assert check_ledger() == []


def test_birthday_outside_the_window_is_not_offered_and_the_key_refuses(desk):
    rules(desk, TOWEL_RULES)
    m = born_on(desk, "13800138000", dt.date(1990, 5, 20))
    no_birthday = born_on(desk, "13800138001", None, "李四")
    next_monday = WEDNESDAY + dt.timedelta(days=5)
    assert birthday_offer(m, next_monday) is None
    assert member_view(m, on=next_monday).birthday_offer is None
    before = nothing_recorded()
    with pytest.raises(InvalidInput, match=r"birthday \(05-20\) is not in this birthday window"):
        give_birthday_benefit(m, desk.cashier, "b1", on=next_monday)
    with pytest.raises(InvalidInput, match="no birthday on file"):
        give_birthday_benefit(no_birthday, desk.cashier, "b2", on=WEDNESDAY)
    assert nothing_recorded() == before


def test_birthday_gift_given_this_year_is_offered_again_next_year(desk):
    rules(desk, TOWEL_RULES)
    m = born_on(desk, "13800138000", dt.date(1990, 5, 20))
    give_birthday_benefit(m, desk.cashier, "b2026", on=WEDNESDAY)
    next_year = dt.date(2027, 5, 20)
    assert birthday_offer(m, next_year).to_give
    assert give_birthday_benefit(m, desk.cashier, "b2027", on=next_year).gift_name == "毛巾"
    assert Transaction.select().where(Transaction.kind == "birthday").count() == 2


def test_a_damaged_gift_record_counts_as_given_in_its_own_window_and_the_member_still_opens(desk):
    """A birthday gift's stored record that no longer reads: its window is unknown, so a gift recorded within this
    window's days counts as given (never a second towel); one from another year does not; the swipe view opens."""
    rules(desk, TOWEL_RULES)
    m = born_on(desk, "13800138000", dt.date(1990, 5, 20))
    with clock.pinned(dt.datetime(2026, 5, 19, 10, 0)):
        give_birthday_benefit(m, desk.cashier, "b-damaged", on=dt.date(2026, 5, 19))
    Transaction.update(result=b"\x01" + b"\xff" * 8).where(Transaction.txid == "b-damaged").execute()
    assert not birthday_offer(m, WEDNESDAY).to_give
    with pytest.raises(AlreadyGiven):
        give_birthday_benefit(m, desk.cashier, "b-again", on=WEDNESDAY)
    assert member_view(m).name == "张三"
    assert [r.detail for r in member_history(m) if r.kind == "birthday"] == ["(record damaged)"]
    next_year = dt.date(2027, 5, 20)
    assert birthday_offer(m, next_year).to_give


def test_birthday_free_item_one_key_is_a_sale_at_no_charge_that_uses_the_birthday_coupon_once(desk):
    today = clock.today()  # the checkout prices at the clock's time
    rules(desk, {"promotions": [{"code": "BDAYHAIR", "kind": "free_item", "auto": False, "item": "HAIR"}],
                 "birthday": {"window": "day", "promotion": "BDAYHAIR"}})
    m = born_on(desk, "13800138000", dt.date(1992, today.month, today.day))
    offer = birthday_offer(m)
    assert (offer.item_name, offer.coupon) == ("精剪", f"BDAY-{m}-{today.isoformat()}")
    given = give_birthday_benefit(m, desk.cashier, "b1")
    sale = Sale.get(Sale.transaction == Transaction.get(Transaction.txid == given.sale_txid))
    assert (sale.total_fen, [line.name for line in sale.lines], [line.line_total_fen for line in sale.lines]) == (
        0, ["精剪"], [0])
    assert Coupon.get(Coupon.code == offer.coupon).used_at is not None
    with pytest.raises(AlreadyGiven):
        give_birthday_benefit(m, desk.cashier, "b2")
    assert Sale.select().count() == 1
    assert check_ledger() == []


def test_birthday_discount_one_key_puts_the_birthday_coupon_on_the_account_once(desk):
    today = clock.today()
    rules(desk, {"promotions": [{"code": "BDAY20", "kind": "percent", "auto": False, "percent": 20}],
                 "birthday": {"window": "day", "promotion": "BDAY20"}})
    m = born_on(desk, "13800138000", dt.date(1992, today.month, today.day))
    given = give_birthday_benefit(m, desk.cashier, "b1")
    assert given.coupon == f"BDAY-{m}-{today.isoformat()}" and given.gift_txid is None and given.sale_txid is None
    coupon = Coupon.get(Coupon.code == given.coupon)
    assert (coupon.member_id, coupon.used_at, coupon.reason) == (m, None, "birthday")
    with pytest.raises(AlreadyGiven):
        give_birthday_benefit(m, desk.cashier, "b2")
    assert Coupon.select().count() == 1


# --- what the panel shows on swipe -----------------------------------------------------------------------------


def test_swipe_view_shows_the_birthday_benefit_the_fees_due_and_the_way_to_the_next_tier(desk):
    rules(desk, {**TOWEL_RULES, "fees": {"annual": "300", "grace_days": 30, "late_fee": "50"}})
    m = born_on(desk, "13800138000", dt.date(1990, 5, 20))
    Member.update(created_at=dt.datetime(2025, 3, 1, 10)).where(Member.id == m).execute()  # the annual fee fell due on joining
    view = member_view(m, on=WEDNESDAY)
    assert view.birthday_offer is not None and view.birthday_offer.gift_name == "毛巾"
    assert [(f.kind, f.amount_fen) for f in view.fees_due] == [("annual", 30_000), ("late", 5_000)]
    assert view.fees_due_fen == 35_000
    assert view.tier.next_name == "银卡会员" and view.tier.explanation == "¥1,000.00 more to 银卡会员"
    Member.update(fees_paid_until=dt.date(2027, 3, 1)).where(Member.id == m).execute()
    assert member_view(m, on=WEDNESDAY).fees_due == []


# --- the birthdays report --------------------------------------------------------------------------------------


def ref_birthdays(p: Period, by: str = "day"):
    """Row by row: every member, every day of the period."""
    rows = []
    for m in Member.select().order_by(Member.id):
        if m.birthday is None or not p.holds(m.home_store_id):
            continue
        day = p.start
        while day <= p.end:
            b = m.birthday
            if (b.month, b.day) == (day.month, day.day) or (
                    (b.month, b.day) == (2, 29) and (day.month, day.day) == (2, 28) and not calendar.isleap(day.year)):
                break
            day += dt.timedelta(days=1)
        else:
            continue
        visits = [v.created_at for v in Visit.select().where((Visit.member == m.id) & (Visit.status == "ok"))]
        rows.append(((day, m.name, m.id), {"date": day.isoformat(), "name": m.name, "phone": mask_phone(m.phone),
                                           "tier": m.tier.name, "age": day.year - b.year,
                                           "last_visit": str(max(visits))[:16] if visits else ""}))
    return [row for _key, row in sorted(rows, key=lambda r: r[0])]


@pytest.fixture
def birthdays(desk):
    """Five members: 3 March, 29 February (leap), 31 December, 2 January, none; one at the branch."""
    branch = Store.create(code="BR1", name="城西店")
    c = desk.cashier
    march = born_on(desk, "13800138001", dt.date(1990, 3, 5), "三月")
    born_on(desk, "13800138002", dt.date(1984, 2, 29), "闰日")
    born_on(desk, "13800138003", dt.date(2000, 12, 31), "年末")
    register_member("年初", "13800138004", c, "reg-4", birthday=dt.date(1995, 1, 2), store=branch)
    born_on(desk, "13800138005", None, "无生日")
    card = issue_card(march, "V10", c, "i1").card_id
    check_in(card, c, "v1")
    Visit.update(created_at=dt.datetime(2026, 3, 1, 10, 30)).execute()
    return desk


def test_birthdays_report_against_hand_computed_rows_29_february_on_28_in_a_common_year(birthdays):
    rows = list(run_report("birthdays", dt.date(2026, 2, 25), dt.date(2026, 3, 5)))
    assert rows == [
        {"date": "2026-02-28", "name": "闰日", "phone": "138****8002", "tier": "普通会员", "age": 42,
         "last_visit": ""},
        {"date": "2026-03-05", "name": "三月", "phone": "138****8001", "tier": "普通会员", "age": 36,
         "last_visit": "2026-03-01 10:30"},
    ]
    leap = list(run_report("birthdays", dt.date(2028, 2, 28), dt.date(2028, 2, 29)))
    assert [(r["date"], r["name"], r["age"]) for r in leap] == [("2028-02-29", "闰日", 44)]


def test_birthdays_report_across_the_new_year_and_for_one_store(birthdays):
    rows = list(run_report("birthdays", dt.date(2026, 12, 28), dt.date(2027, 1, 3)))
    assert [(r["date"], r["name"], r["age"]) for r in rows] == [("2026-12-31", "年末", 26), ("2027-01-02", "年初", 32)]
    branch = list(run_report("birthdays", dt.date(2026, 12, 28), dt.date(2027, 1, 3), "BR1"))
    assert [r["name"] for r in branch] == ["年初"]
    whole_year = list(run_report("birthdays", dt.date(2026, 1, 1), dt.date(2026, 12, 31)))
    assert [r["name"] for r in whole_year] == ["年初", "闰日", "三月", "年末"]


def test_birthdays_report_equals_the_row_by_row_reference(birthdays):
    for start, end, store in [(dt.date(2026, 2, 1), dt.date(2026, 3, 31), None),
                              (dt.date(2026, 12, 1), dt.date(2027, 2, 28), None),
                              (dt.date(2026, 1, 1), dt.date(2027, 12, 31), None),
                              (dt.date(2026, 12, 1), dt.date(2027, 1, 31), "BR1")]:
        assert list(run_report("birthdays", start, end, store)) == ref_birthdays(period(start, end, store))


def test_mms_report_birthdays_and_the_list(birthdays, tmp_path):
    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en"}
    listed = CliRunner().invoke(cli, ["report", "--list"], env=env)
    assert "birthdays" in listed.output
    out = CliRunner().invoke(cli, ["--db", birthdays.target, "report", "birthdays", "--from", "2026-03-01",
                                   "--to", "2026-03-31", "--format", "csv"], env=env)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["date,name,phone,tier,age,last_visit",
                                       "2026-03-05,三月,138****8001,普通会员,36,2026-03-01 10:30"]


def test_the_birthdays_report_without_dates_covers_the_coming_30_days(desk):
    """#25: the question at the desk is who has a birthday soon, not who had one last month."""
    now = clock.today()
    for i, offset in enumerate((-10, 0, 10, 29, 30)):
        day = now + dt.timedelta(days=offset)
        born_on(desk, f"1380013810{i}", dt.date(2000, day.month, day.day), f"过{offset}天")
    names = [row["name"] for row in run_report("birthdays")]
    assert names == ["过0天", "过10天", "过29天"]
    start = now + dt.timedelta(days=20)
    assert [row["name"] for row in run_report("birthdays", start)] == ["过29天", "过30天"]
    assert [row["name"] for row in run_report("birthdays", None, now)] == ["过-10天", "过0天"]  # --to: the past month


# --- the desk, by keys -----------------------------------------------------------------------------------------


async def test_birthday_member_swiped_gets_the_gift_with_one_key_a_repeat_is_the_same_gift_and_a_new_try_is_refused(sqlite_desk):
    from tests.test_tui import at_desk, open_member, settle, text

    today = clock.today()
    rules(sqlite_desk, {**TOWEL_RULES, "birthday": {"window": "day", "gift": "TOWEL"}})
    m = born_on(sqlite_desk, "13800138000", dt.date(1992, today.month, today.day))
    issue_card(m, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    async with at_desk(sqlite_desk) as (_app, pilot):
        screen = await open_member(pilot, "00012345")
        assert "毛巾" in text(screen.query_one("#benefits", Static))
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert "毛巾" in text(screen.query_one("#outcome", Static))
        assert "outcome-ok" in screen.query_one("#outcome", Static).classes
        await pilot.press("ctrl+d")  # again while its result shows: the same gift, not a second one
        await settle(pilot)
        assert "毛巾" in text(screen.query_one("#outcome", Static))
        await pilot.press("escape")
        await settle(pilot)
        screen = await open_member(pilot, "00012345")
        await pilot.press("ctrl+d")  # a new try later: refused, saying why
        await settle(pilot)
        refused = screen.query_one("#outcome", Static)
        assert "already given" in text(refused) and "outcome-refused" in refused.classes
    assert Transaction.select().where(Transaction.kind == "birthday").count() == 1
    assert check_ledger() == []

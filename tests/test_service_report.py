"""服务表现报告 (#20): per staff member and service — services, revenue, average ticket, repeat rate, ratings —
against figures worked out by hand, on SQLite and PostgreSQL; ratings recorded once per service and performer."""

from __future__ import annotations

import datetime as dt

import pytest

from mms_tui import clock
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.ratings import AlreadyRated, performed, rate_service
from mms_tui.services.money.refund import refund
from mms_tui.services.reports.catalogue import run_report
from tests.test_commissions import shop


def on(day: dt.date, hour: int = 10):
    return clock.pinned(dt.datetime.combine(day, dt.time(hour)))


def test_the_service_report_against_figures_worked_out_by_hand(desk, today):
    zhang = shop(desk)
    li = register_member("李四", "13912345678", desk.cashier, "r-li").member_id
    with on(today - dt.timedelta(days=20)):
        a = checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "a", performers={"HAIR": ["p01"]})
    with on(today - dt.timedelta(days=10)):
        b = checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "b", performers={"HAIR": ["p01"]})
    with on(today - dt.timedelta(days=5)):
        checkout(None, ["HAIR"], [("cash", 8_800)], desk.cashier, "c", performers={"HAIR": ["p02"]})  # a walk-in
    with on(today - dt.timedelta(days=3)):
        d = checkout(li, ["SPA"], [("cash", 49_800)], desk.cashier, "d", performers={"SPA": ["p03"]})
    with on(today - dt.timedelta(days=2)):
        e = checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "e",
                     performers={"HAIR": [("p01", 5000), ("p02", 5000)]})
        refund(e.txid, desk.manager, "不满意", "rf-e")
    rate_service(a.txid, "p01", 5, desk.cashier)
    rate_service(b.txid, "p01", 4, desk.cashier)
    rate_service(d.txid, "p03", 3, desk.cashier)
    rows = list(run_report("service", today - dt.timedelta(days=20), today))
    # by hand: p01 HAIR — a, b, and half of e taken back by its refund: 2 services, 8800 + 8800; 张三 served on the
    # 20th day back and again ten days later (a repeat); rated 5 and 4. p02 HAIR — the walk-in c and half of e
    # (refunded): 1 service, 8800; 张三 (via e) not served again. p03 SPA — d: 李四, once; rated 3.
    assert [(r["staff"], r["service"], r["services"], r["revenue_fen"], r["average_fen"], r["members"],
             r["repeat_members"], r["repeat_rate"], r["ratings"], r["rating"]) for r in rows] == [
        ("p01", "HAIR", 2, 17_600, 8_800, 1, 1, "100.0%", 2, "4.50"),
        ("p02", "HAIR", 1, 8_800, 8_800, 1, 0, "0.0%", 0, ""),
        ("p03", "SPA", 1, 49_800, 49_800, 1, 0, "0.0%", 1, "3.00"),
    ]
    only = list(run_report("service", today - dt.timedelta(days=20), today, staff="p03"))
    assert [r["staff"] for r in only] == ["p03"]
    last_week = list(run_report("service", today - dt.timedelta(days=6), today))
    assert [(r["staff"], r["services"]) for r in last_week] == [("p01", 0), ("p02", 1), ("p03", 1)]


def test_a_rating_is_one_per_service_and_performer_from_1_to_5(desk, today):
    zhang = shop(desk)
    sale = checkout(zhang, ["HAIR", "SPA"], [("cash", 58_600)], desk.cashier, "s",
                    performers={"HAIR": [("p01", 7000), ("p02", 3000)], "SPA": ["p01"]})
    assert [(p.code, p.staff_code) for p in performed(sale.txid)] == [("HAIR", "p01"), ("HAIR", "p02"),
                                                                       ("SPA", "p01")]
    for bad in (0, 6, True):
        with pytest.raises(InvalidInput, match="1 to 5"):
            rate_service(sale.txid, "p02", bad, desk.cashier)
    with pytest.raises(InvalidInput, match="2 services on this sale: say which"):
        rate_service(sale.txid, "p01", 5, desk.cashier)
    with pytest.raises(InvalidInput, match="performed no service"):
        rate_service(sale.txid, "p03", 5, desk.cashier)
    assert rate_service(sale.txid, "p01", 5, desk.cashier, line_code="SPA").rating == 5
    with pytest.raises(AlreadyRated):
        rate_service(sale.txid, "p01", 1, desk.cashier, line_code="SPA")
    assert [p.rating for p in performed(sale.txid)] == [None, None, 5]


def test_mms_staff_rate_and_mms_report_service(desk, run, today):
    zhang = shop(desk)
    sale = checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "s", performers={"HAIR": ["p02"]})
    db = ("--db", desk.target)
    assert run(*db, "staff", "rate", sale.txid, 6, "--performer", "p02").exit_code == 2
    rated = run(*db, "staff", "rate", sale.txid, 4, "--performer", "p02")
    assert rated.exit_code == 0 and "Rated p02" in rated.output
    again = run(*db, "staff", "rate", sale.txid, 5, "--performer", "p02")
    assert again.exit_code == 1 and "already" in again.output
    report = run(*db, "report", "service", "--from", today, "--to", today, "--format", "csv")
    assert report.exit_code == 0, report.output
    assert report.output.splitlines() == [
        "staff,name,service,service_name,services,revenue_fen,average_fen,members,repeat_members,repeat_rate,"
        "rebooked_members,rebook_rate,bookings,no_shows,no_show_rate,ratings,rating",
        "p02,助理 小刘,HAIR,精剪,1,8800,8800,1,0,0.0%,0,0.0%,0,0,,1,4.00"]


def test_rebooking_and_no_shows_from_the_bookings(desk, today):
    """By hand: 张三 served by p01 twenty days back books with p01 again half an hour later (a rebooking within 30
    days); that booking (ten days back) arrives; 李四's booking with p01 five days back is a no-show; a walk-in's with
    p02 three days back arrives, and one with p02 is cancelled (not counted)."""
    from mms_tui.services.bookings import appointments as ap

    zhang = shop(desk)
    li = register_member("李四", "13912345678", desk.cashier, "r-li").member_id

    def at(days: int, hour: int = 10, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(today - dt.timedelta(days=days), dt.time(hour, minute))

    with clock.pinned(at(25)):
        ap.book(li, ["HAIR"], desk.cashier, "k-li", start=at(5), staff="p01")
        ap.book(None, ["HAIR"], desk.cashier, "k-w", start=at(3), staff="p02", guest_name="路人",
                guest_phone="13600136000")
        gone = ap.book(None, ["HAIR"], desk.cashier, "k-x", start=at(4), staff="p02", guest_name="路人乙",
                       guest_phone="13600136001")
        ap.cancel(gone.booking_ids[0], desk.cashier, "不来了", "k-xc")
    with clock.pinned(at(20)):
        checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "a", performers={"HAIR": ["p01"]})
    with clock.pinned(at(20, 10, 30)):
        again = ap.book(zhang, ["HAIR"], desk.cashier, "k-z", start=at(10), staff="p01")
    with clock.pinned(at(10, 9, 55)):
        ap.arrive(again.booking_ids[0], desk.cashier, "k-za")
    with clock.pinned(at(10, 11)):
        checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "b", performers={"HAIR": ["p01"]})
    with clock.pinned(at(5, 11)):
        ap.no_show(ap.list_bookings(today - dt.timedelta(days=5), today - dt.timedelta(days=5))[0].id,
                   desk.cashier, "k-lin")
    with clock.pinned(at(3, 9, 58)):
        ap.arrive(ap.list_bookings(today - dt.timedelta(days=3), today - dt.timedelta(days=3))[0].id,
                  desk.cashier, "k-wa")
    rows = list(run_report("service", today - dt.timedelta(days=20), today))
    assert [(r["staff"], r["service"], r["services"], r["members"], r["rebooked_members"], r["rebook_rate"],
             r["bookings"], r["no_shows"], r["no_show_rate"]) for r in rows] == [
        ("p01", "HAIR", 2, 1, 1, "100.0%", 2, 1, "50.0%"),
        ("p02", "HAIR", 0, 0, 0, "", 1, 0, "0.0%"),
    ]


def test_a_partial_refund_leaves_the_service_performed_and_takes_off_only_the_money_it_gave_back(desk, today):
    """A partial refund (部分退款) takes back part of a line's commission: the report counted its row as a whole
    refund — the service undone and the whole line's money off — so two parts of one haircut left its stylist
    minus one service and minus ¥88. Now the service stays performed and each part's share of the line comes off,
    split between the performers as the line is."""
    from mms_tui.services.money.refund import refund_part

    shop(desk)
    with on(today - dt.timedelta(days=3)):
        checkout(None, ["HAIR"], [("cash", 8_800)], desk.cashier, "f", performers={"HAIR": ["p01"]})
        checkout(None, ["HAIR", "SPA"], [("cash", 8_800 + 49_800)], desk.cashier, "g",
                 performers={"HAIR": [("p01", 5000), ("p02", 5000)], "SPA": ["p03"]})
    with on(today - dt.timedelta(days=1)):
        refund_part("f", 3_000, desk.manager, "少剪了", "f-1")
        refund_part("f", 2_000, desk.manager, "又少了", "f-2")
        refund_part("g", 5_860, desk.manager, "少做了", "g-1")  # a tenth of ¥586: ¥8.80 of the haircut, ¥49.80 of the SPA
    rows = {(r["staff"], r["service"]): (r["services"], r["revenue_fen"])
            for r in run_report("service", today - dt.timedelta(days=3), today)}
    # by hand: p01 — f whole (8800 − 3000 − 2000) and half of g's haircut (4400 − 440); p02 the other half of g's
    # haircut; p03 g's SPA (49800 − 4980)
    assert rows == {("p01", "HAIR"): (2, 3_800 + 3_960), ("p02", "HAIR"): (1, 3_960), ("p03", "SPA"): (1, 44_820)}
    # the parts count where they were made: on the day of the sale alone, the services whole
    on_the_day = {(r["staff"], r["service"]): (r["services"], r["revenue_fen"])
                  for r in run_report("service", today - dt.timedelta(days=3), today - dt.timedelta(days=3))}
    assert on_the_day == {("p01", "HAIR"): (2, 8_800 + 4_400), ("p02", "HAIR"): (1, 4_400), ("p03", "SPA"): (1, 49_800)}


def test_a_whole_refund_after_parts_leaves_the_service_at_nothing_not_below(desk, today):
    """Parts of ¥30 and ¥20 of a ¥88 haircut, then the rest refunded whole: the refund undoes only the ¥38 the parts
    left, so the stylist is back at nothing — not minus ¥50 (the parts taken off twice)."""
    from mms_tui.services.money.refund import refund_part

    shop(desk)
    with on(today - dt.timedelta(days=2)):
        checkout(None, ["HAIR"], [("cash", 8_800)], desk.cashier, "h", performers={"HAIR": ["p01"]})
        checkout(None, ["HAIR"], [("cash", 8_800)], desk.cashier, "k", performers={"HAIR": ["p01"]})
        refund_part("h", 3_000, desk.manager, "少剪了", "h-1")
        refund_part("h", 2_000, desk.manager, "又少了", "h-2")
        refund("h", desk.manager, "全退", "h-all")
    (row,) = list(run_report("service", today - dt.timedelta(days=2), today))
    assert (row["staff"], row["services"], row["revenue_fen"]) == ("p01", 1, 8_800)


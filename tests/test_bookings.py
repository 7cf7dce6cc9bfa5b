"""预约 (issue #21): appointments with staff and rooms — conflicts refused with the reason and the next free slots,
"any who can", recurring bookings all or nothing, moves, cancellations and no-shows with the rules' policy, arrival
into checkout with the performer filled — on SQLite and PostgreSQL, and two desks racing for one slot."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mms_tui import clock
from mms_tui.models import Booking, Card, Commission, Room, ServiceItem, Transaction
from mms_tui.services.base.errors import DomainError, InvalidInput, TxidConflict
from mms_tui.services.bookings import appointments as ap
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.rules_files import rules_from_text
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.staff import attendance
from mms_tui.services.staff.admin import add_staff

MONDAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 8, 0)  # the desk's clock in these tests: Monday 8:00


def at(hour: int, minute: int = 0, day: dt.date = MONDAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


@pytest.fixture
def salon(desk):
    """Two stylists who cut hair (t01 also does SPA, which needs a room: SPA1 or SPA2), 张三 with a 10-visit
    package, the clock at Monday 8:00."""
    ServiceItem.update(duration_minutes=45).where(ServiceItem.code == "HAIR").execute()
    ServiceItem.update(duration_minutes=90).where(ServiceItem.code == "SPA").execute()
    add_staff("t01", "王师傅", by=desk.admin, performer=True, level="高级", services=["HAIR", "SPA"])
    add_staff("t02", "李师傅", by=desk.admin, performer=True, level="技师", services=["HAIR"])
    for code in ("SPA1", "SPA2"):
        Room.create(code=code, name=f"理疗室{code[-1]}", store=desk.store)
    ap.set_service_rooms(desk.manager, "SPA", ["SPA1", "SPA2"])
    zhang = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    issue_card(zhang, "V10", desk.cashier, "i1", card_no="00077777")
    desk.zhang = zhang
    desk.li = register_member("李四", "13900139000", desk.cashier, "r2").member_id
    with clock.pinned(NOW):
        yield desk


def counts() -> tuple[int, int]:
    return Booking.select().count(), Transaction.select().count()


def test_a_booking_ends_after_its_services_and_takes_a_room_when_one_is_needed(salon):
    r = ap.book(salon.zhang, ["HAIR", "SPA"], salon.cashier, "b1", start=at(10), staff="t01")
    assert r.staff_code == "t01" and r.starts == ["2026-11-16 10:00"] and r.end == "12:15"
    assert r.room_code == "SPA1"
    b = Booking.get_by_id(r.booking_ids[0])
    assert (b.start, b.end, b.status) == (at(10), at(12, 15), "booked")
    # the same request again answers the first booking; another request under its txid is refused
    assert ap.book(salon.zhang, ["HAIR", "SPA"], salon.cashier, "b1", start=at(10), staff="t01") == r
    with pytest.raises(TxidConflict):
        ap.book(salon.zhang, ["HAIR"], salon.cashier, "b1", start=at(10), staff="t01")
    assert Booking.select().count() == 1
    assert check_ledger() == []


CONFLICTS = [
    # (what, request) → the message's words; each refused with nothing written
    ("staff busy", dict(member="li", services=["HAIR"], staff="t01", start=(10, 30)), "王师傅 is busy from 10:00"),
    ("member overlapping itself", dict(member="zhang", services=["HAIR"], staff="t02", start=(10, 15)),
     "already booked from 10:00 to 10:45"),
    ("outside hours", dict(member="li", services=["HAIR"], staff="t02", start=(20, 30)), "outside 李师傅's hours"),
    ("in the past", dict(member="li", services=["HAIR"], staff="t02", start=(7, 0)), "is in the past"),
    ("not performed", dict(member="li", services=["SPA"], staff="t02", start=(11, 0)), "李师傅 does not perform"),
    ("no one free", dict(member="li", services=["SPA"], staff=None, start=(10, 0)), "No one who performs"),
]


@pytest.mark.parametrize(("what", "request_", "words"), CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_conflicts_are_refused_with_the_reason_and_nothing_is_written(salon, what, request_, words):
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "first", start=at(10), staff="t01")
    before = counts()
    member = {"zhang": salon.zhang, "li": salon.li}[request_["member"]]
    with pytest.raises(DomainError) as refused:
        ap.book(member, request_["services"], salon.cashier, "second", start=at(*request_["start"]),
                staff=request_["staff"])
    assert words in str(refused.value)
    assert counts() == before


def test_a_busy_slot_suggests_the_next_free_ones(salon):
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "first", start=at(10), staff="t01")
    with pytest.raises(ap.BookingRefused) as refused:
        ap.book(salon.li, ["HAIR"], salon.cashier, "second", start=at(10, 30), staff="t01")
    starts = [s.start for s in refused.value.suggestions]
    assert at(10, 30) not in starts and at(10) not in starts
    assert at(11) in starts  # free again at 10:45, on the half-hour step
    assert all(s.staff_code == "t01" for s in refused.value.suggestions)


def test_any_who_can_takes_the_first_free_performer(salon):
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01")
    r = ap.book(salon.li, ["HAIR"], salon.cashier, "b", start=at(10), staff="any")
    assert r.staff_code == "t02"


def test_rooms_are_shared_between_staff(salon):
    add_staff("t03", "赵师傅", by=salon.admin, performer=True, services=["SPA"])
    ap.book(salon.zhang, ["SPA"], salon.cashier, "a", start=at(10), staff="t01")
    wang = register_member("王五", "13700137000", salon.cashier, "r3").member_id
    assert ap.book(salon.li, ["SPA"], salon.cashier, "b", start=at(10), staff="t03").room_code == "SPA2"
    with pytest.raises(ap.BookingRefused, match="Every room"):
        add_staff("t04", "钱师傅", by=salon.admin, performer=True, services=["SPA"])
        ap.book(wang, ["SPA"], salon.cashier, "c", start=at(10, 30), staff="t04")


def test_the_roster_sets_the_hours_and_a_day_off_refuses(salon):
    attendance.set_week("t02", attendance.parse_week(["mon-fri=12:00-20:00"]), salon.manager)
    with pytest.raises(ap.BookingRefused, match="outside 李师傅's hours"):
        ap.book(salon.li, ["HAIR"], salon.cashier, "a", start=at(11), staff="t02")
    assert ap.book(salon.li, ["HAIR"], salon.cashier, "b", start=at(12), staff="t02").starts
    saturday = MONDAY + dt.timedelta(days=5)
    with pytest.raises(ap.BookingRefused, match="does not work on 2026-11-21"):
        ap.book(salon.zhang, ["HAIR"], salon.cashier, "c", start=at(12, day=saturday), staff="t02")


def test_not_clocked_in_today_is_only_a_warning(salon):
    r = ap.book(salon.li, ["HAIR"], salon.cashier, "a", start=at(10), staff="t02")
    assert r.warnings == ["李师傅 has not clocked in today."]
    tomorrow = ap.book(salon.li, ["HAIR"], salon.cashier, "b", start=at(10, day=MONDAY + dt.timedelta(days=1)),
                       staff="t02")
    assert tomorrow.warnings == []


def test_walk_ins_need_a_name_and_a_phone(salon):
    with pytest.raises(InvalidInput, match="name and phone"):
        ap.book(None, ["HAIR"], salon.cashier, "a", start=at(10), staff="t02", guest_name="路人")
    r = ap.book(None, ["HAIR"], salon.cashier, "b", start=at(10), staff="t02", guest_name="路人甲",
                guest_phone="13600136000")
    view = ap.booking_view(r.booking_ids[0])
    assert (view.who, view.phone_tail, view.member_id) == ("路人甲", "6000", None)


def test_a_recurring_booking_is_all_or_nothing(salon):
    third = MONDAY + dt.timedelta(weeks=2)
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "taken", start=at(10, day=third), staff="t01")
    before = counts()
    with pytest.raises(ap.BookingRefused, match=r"Week 3 \(2026-11-30\): 王师傅 is busy"):
        ap.book(salon.li, ["HAIR"], salon.cashier, "weekly", start=at(10), staff="t01", weeks=4)
    assert counts() == before
    r = ap.book(salon.li, ["HAIR"], salon.cashier, "weekly2", start=at(14), staff="t01", weeks=4)
    assert r.starts == [f"2026-{d} 14:00" for d in ("11-16", "11-23", "11-30", "12-07")]
    assert {b.series for b in Booking.select().where(Booking.id.in_(r.booking_ids))} == {"weekly2"}


def test_a_move_keeps_the_services_and_frees_the_old_slot(salon):
    r = ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01")
    moved = ap.move(r.booking_ids[0], salon.cashier, "m", start=at(15))
    old, new = Booking.get_by_id(r.booking_ids[0]), Booking.get_by_id(moved.new_booking_id)
    assert (old.status, old.moved_to_id, old.late, old.policy) == ("cancelled", new.id, False, "")
    assert (new.start, new.staff_id, new.status) == (at(15), old.staff_id, "booked")
    assert ap.book(salon.li, ["HAIR"], salon.cashier, "b", start=at(10), staff="t01").starts  # free again
    with pytest.raises(InvalidInput, match="cancelled"):
        ap.move(old.id, salon.cashier, "m2", start=at(16))


POLICY = """
[bookings]
late_cancel_hours = 24
late_cancel = "visit"
no_show = "fee"
no_show_fee = "50"
no_show_after_minutes = 10
"""


def test_a_late_cancellation_costs_a_visit_and_an_early_one_nothing(salon):
    save_rules(rules_from_text(POLICY, "toml"), salon.manager)
    soon = ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01")
    later = ap.book(salon.zhang, ["HAIR"], salon.cashier, "b", start=at(10, day=MONDAY + dt.timedelta(days=3)),
                    staff="t01")
    with pytest.raises(InvalidInput, match="needs a reason"):
        ap.cancel(soon.booking_ids[0], salon.cashier, " ", "c0")
    early = ap.cancel(later.booking_ids[0], salon.cashier, "出差", "c1")
    assert (early.late, early.policy) == (False, "")
    late = ap.cancel(soon.booking_ids[0], salon.cashier, "临时有事", "c2")
    assert (late.late, late.policy) == (True, "visit:00077777")
    assert Card.get(Card.card_no == "00077777").visits_left == 9
    assert ap.cancel(soon.booking_ids[0], salon.cashier, "临时有事", "c2") == late  # a retry takes nothing more
    assert Card.get(Card.card_no == "00077777").visits_left == 9
    assert check_ledger() == []


def test_a_no_show_waits_for_the_grace_and_puts_the_fee_on_the_bill(salon):
    save_rules(rules_from_text(POLICY, "toml"), salon.manager)
    r = ap.book(salon.li, ["HAIR"], salon.cashier, "a", start=at(10), staff="t02")
    with clock.pinned(at(10, 5)), pytest.raises(InvalidInput, match="Too early"):
        ap.no_show(r.booking_ids[0], salon.cashier, "n1")
    with clock.pinned(at(10, 11)):
        done = ap.no_show(r.booking_ids[0], salon.cashier, "n2")
    assert (done.status, done.policy, done.fee_fen) == ("no_show", "fee:5000", 5_000)
    assert Booking.get_by_id(r.booking_ids[0]).fee_fen == 5_000
    assert check_ledger() == []


def test_arrival_opens_the_bill_with_the_performer_and_commissions_follow(salon):
    from mms_tui.services.money.checkout import checkout

    r = ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01")
    tomorrow = ap.book(salon.zhang, ["HAIR"], salon.cashier, "t", start=at(10, day=MONDAY + dt.timedelta(days=1)),
                       staff="t02")
    with pytest.raises(InvalidInput, match="not today"):
        ap.arrive(tomorrow.booking_ids[0], salon.cashier, "x")
    arrival = ap.arrive(r.booking_ids[0], salon.cashier, "arr")
    assert (arrival.member_id, arrival.lines, arrival.performers) == (salon.zhang, ["HAIR"],
                                                                      {"HAIR": [["t01", 10_000]]})
    sale = checkout(arrival.member_id, arrival.lines, [("cash", 8_800)], salon.cashier, "pay",
                    performers=arrival.performers)
    ap.link_sale(r.booking_ids[0], sale.txid)
    assert Booking.get_by_id(r.booking_ids[0]).sale_id == sale.sale_id
    assert [(c.staff.code, c.role) for c in Commission.select()] == [("t01", "lead")]
    with pytest.raises(InvalidInput, match="arrived"):
        ap.cancel(r.booking_ids[0], salon.cashier, "oops", "c")


def test_the_member_sees_their_upcoming_bookings_and_the_day_lists_the_store(salon):
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01")
    ap.book(salon.zhang, ["SPA"], salon.cashier, "b", start=at(14), staff="t01")
    gone = ap.book(salon.zhang, ["HAIR"], salon.cashier, "c", start=at(17), staff="t02")
    ap.cancel(gone.booking_ids[0], salon.cashier, "不来了", "cc")
    assert [v.services for v in ap.upcoming(salon.zhang)] == ["精剪", "全身SPA"]
    day = ap.day_bookings("HQ", MONDAY)
    assert [(v.start.hour, v.status, v.staff_code) for v in day] == [(10, "booked", "t01"), (14, "booked", "t01"),
                                                                     (17, "cancelled", "t02")]


# --- the property: whatever is asked, no two accepted bookings overlap for one staff member or room ------------

REQUESTS = st.lists(st.tuples(st.sampled_from(["HAIR", "SPA"]), st.sampled_from(["t01", "t02", "any"]),
                              st.integers(9 * 4, 20 * 4), st.sampled_from(["zhang", "li"])), max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=REQUESTS)
def test_no_two_accepted_bookings_overlap(salon, requests):
    Booking.update(status="cancelled").execute()  # each example starts from a free day
    for i, (service, staff, quarter, who) in enumerate(requests):
        member = salon.zhang if who == "zhang" else salon.li
        with contextlib.suppress(DomainError):
            ap.book(member, [service], salon.cashier, f"p{id(requests)}-{i}",
                    start=at(quarter // 4, quarter % 4 * 15), staff=staff)
    live = list(Booking.select().where(Booking.status == "booked"))
    for a in live:
        for b in live:
            if a.id < b.id and a.start < b.end and b.start < a.end:
                assert a.staff_id != b.staff_id
                assert a.room_id is None or a.room_id != b.room_id
                assert a.member_id != b.member_id


# --- two desks, one slot -------------------------------------------------------------------------------------

SPAWN = multiprocessing.get_context("spawn")


def _book_worker(target: str, member_id: int, txid: str, barrier, queue) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.ops.setup import connect

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    barrier.wait()
    try:
        with clock.pinned(NOW):
            ap.book(member_id, ["HAIR"], cashier, txid, start=at(10), staff="t01")
        queue.put("ok")
    except ap.BookingRefused:
        queue.put("refused")
    except Exception:
        queue.put(traceback.format_exc(limit=4))


@pytest.mark.slow
def test_two_desks_booking_one_slot_exactly_one_wins(salon):
    members = [salon.zhang, salon.li]
    for round_no in range(4):
        Booking.update(status="cancelled").execute()
        barrier, queue = SPAWN.Barrier(2), SPAWN.Queue()
        procs = [SPAWN.Process(target=_book_worker, args=(salon.target, members[d], f"race{round_no}-{d}", barrier,
                                                          queue)) for d in range(2)]
        for p in procs:
            p.start()
        outcomes = sorted(queue.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert outcomes == ["ok", "refused"], outcomes
        assert Booking.select().where(Booking.status == "booked").count() == 1


def test_the_no_show_fee_is_paid_on_the_next_bill_and_owed_again_after_its_refund(salon):
    from mms_tui.services.money.checkout import checkout, checkout_offers
    from mms_tui.services.money.refund import refund

    save_rules(rules_from_text(POLICY, "toml"), salon.manager)
    r = ap.book(salon.li, ["HAIR"], salon.cashier, "a", start=at(10), staff="t02")
    with clock.pinned(at(10, 30)):
        ap.no_show(r.booking_ids[0], salon.cashier, "n")
        offers = checkout_offers(salon.li, store="HQ", staff=salon.cashier)
        assert [(f.kind, f.code, f.amount_fen) for f in offers.fees_due] == [("booking", "FEE-BOOKING", 5_000)]
        sale = checkout(salon.li, ["WATER"], [("cash", 5_300)], salon.cashier, "pay", fees=["booking"])
        assert sale.total_fen == 5_300
        assert Booking.get_by_id(r.booking_ids[0]).fee_txid == "pay"
        assert checkout_offers(salon.li, store="HQ", staff=salon.cashier).fees_due == []
        with pytest.raises(InvalidInput, match="No booking fee is owed"):
            checkout(salon.li, ["WATER"], [("cash", 5_300)], salon.cashier, "pay2", fees=["booking"])
        refund("pay", salon.manager, "不来了的费用退回", "r-pay")
        assert Booking.get_by_id(r.booking_ids[0]).fee_txid is None
        assert [f.kind for f in checkout_offers(salon.li, store="HQ", staff=salon.cashier).fees_due] == ["booking"]
    assert check_ledger() == []


# --- the commands ---------------------------------------------------------------------------------------------


def test_mms_bookings_add_free_list_move_cancel(salon, run):
    db = ("--db", salon.target)
    with clock.pinned(NOW):
        added = run(*db, "bookings", "add", "13800138000", "HAIR", "--at", "2026-11-16 10:00", "--performer", "t01")
        assert added.exit_code == 0, added.output
        booking_id = int(added.stdout.split("\t")[0])
        clash = run(*db, "bookings", "add", "13900139000", "HAIR", "--at", "2026-11-16 10:30", "--performer",
                    "t01")
        assert clash.exit_code == 1
        assert "王师傅 is busy from 10:00 to 10:45" in clash.stderr and "Next free: 11-16 11:00-11:45 王师傅" in \
            clash.stderr
        free = run(*db, "bookings", "free", "HAIR", "--after", "2026-11-16 10:00", "--performer", "t01",
                   "--count", "2", "--format", "csv")
        assert free.stdout.splitlines() == ["day,start,end,staff,staff_name,room",
                                            "2026-11-16,11:00,11:45,t01,王师傅,", "2026-11-16,11:30,12:15,t01,王师傅,"]
        walk_in = run(*db, "bookings", "add", "-", "HAIR", "--at", "2026-11-16 10:00", "--guest-name", "王女士",
                      "--guest-phone", "13700137000")
        assert walk_in.exit_code == 0 and "\tt02\t" in walk_in.stdout  # any who can: the other stylist
        moved = run(*db, "bookings", "move", booking_id, "--at", "2026-11-17 15:00")
        assert moved.exit_code == 0, moved.output
        listed = run(*db, "bookings", "list", "--from", "2026-11-16", "--to", "2026-11-17", "--staff", "t01",
                     "--format", "json")
        import json

        assert [(r["day"], r["start"], r["status"]) for r in json.loads(listed.stdout)] == [
            ("2026-11-16", "10:00", "cancelled"), ("2026-11-17", "15:00", "booked")]
        new_id = int(moved.stdout)
        cancelled = run(*db, "bookings", "cancel", new_id, "--reason", "出差")
        assert cancelled.exit_code == 0 and "Cancelled: no charge." in cancelled.stderr
        again = run(*db, "bookings", "cancel", new_id, "--reason", "出差")
        assert again.exit_code == 1 and "is cancelled: nothing to change" in again.stderr
        early = run(*db, "bookings", "no-show", int(walk_in.stdout.split("\t")[0]))
        assert early.exit_code == 1 and "Too early for a no-show" in early.stderr
    assert Booking.select().count() == 3


def test_the_bookings_report_against_figures_worked_out_by_hand(salon, run):
    """Monday, the booking hours 09:00–21:00 (720 minutes): t01 rostered 10:00–18:00 (480). t01: 张三 HAIR 10:00
    (45, arrived), SPA 14:00 in SPA1 (90, no-show), 李四 HAIR 16:00 cancelled late, 李四 HAIR 17:00 cancelled early
    → 135 booked of 480; 1 no-show of 2 due; 1 late of 4. t02: 李四 HAIR 11:00 (45, still booked) of 720. SPA1: 90
    of 720; SPA2: 0. A yoga class of 2 places with 1 taken, and one not yet booked."""
    from mms_tui.services.bookings.classes import add_class_type, add_session, book_class
    from mms_tui.services.reports.catalogue import run_report

    attendance.set_week("t01", attendance.parse_week(["mon-fri=10:00-18:00"]), salon.manager)
    save_rules(rules_from_text("[bookings]\nlate_cancel_hours = 5", "toml"), salon.manager)
    a = ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01")
    b = ap.book(salon.zhang, ["SPA"], salon.cashier, "b", start=at(14), staff="t01")
    c = ap.book(salon.li, ["HAIR"], salon.cashier, "c", start=at(16), staff="t01")
    d = ap.book(salon.li, ["HAIR"], salon.cashier, "d", start=at(17), staff="t01")
    ap.book(salon.li, ["HAIR"], salon.cashier, "e", start=at(11), staff="t02")
    ap.cancel(d.booking_ids[0], salon.cashier, "早说了", "d-c")  # 9 hours before: not late
    add_class_type("YOGA", "瑜伽", 60, 2, salon.manager)
    yoga = add_session("HQ", "YOGA", at(19), "t02", salon.manager)
    add_session("HQ", "YOGA", at(20, 15), "t02", salon.manager)
    book_class(salon.zhang, yoga.id, salon.cashier, "y1")
    with clock.pinned(at(9, 55)):
        ap.arrive(a.booking_ids[0], salon.cashier, "a-a")
    with clock.pinned(at(12)):
        ap.cancel(c.booking_ids[0], salon.cashier, "临时有事", "c-c")  # 4 hours before: late
    with clock.pinned(at(14, 30)):
        ap.no_show(b.booking_ids[0], salon.cashier, "b-n")
    rows = {(r["kind"], r["code"]): r for r in run_report("bookings", MONDAY, MONDAY)}
    figures = ("bookings", "booked_minutes", "available_minutes", "utilisation", "no_shows", "no_show_rate",
               "late_cancels", "late_cancel_rate")
    assert [rows["staff", "t01"][k] for k in figures] == [4, 135, 480, "28.1%", 1, "50.0%", 1, "25.0%"]
    # t02 also coaches the two classes: 45 + 60 + 60 minutes
    assert [rows["staff", "t02"][k] for k in figures] == [1, 165, 720, "22.9%", 0, "", 0, "0.0%"]
    assert [rows["room", code]["booked_minutes"] for code in ("SPA1", "SPA2")] == [90, 0]
    assert rows["room", "SPA1"]["utilisation"] == "12.5%"
    assert [rows["class", "YOGA"][k] for k in ("sessions", "places", "filled", "fill_rate")] == [2, 4, 1, "25.0%"]
    printed = run("--db", salon.target, "report", "bookings", "--from", MONDAY, "--to", MONDAY, "--format", "csv")
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.splitlines()[0] == ",".join(
        ("kind", "code", "name", "bookings", "booked_minutes", "available_minutes", "utilisation", "no_shows",
         "no_show_rate", "late_cancels", "late_cancel_rate", "sessions", "places", "filled", "fill_rate"))


def test_a_members_bookings_are_in_their_export_and_gone_with_their_erasure(salon):
    from mms_tui.services.exchange.member_document import member_document
    from mms_tui.services.members.privacy import erase_member

    kept = ap.book(salon.zhang, ["HAIR"], salon.cashier, "a", start=at(10), staff="t01", note="对花粉过敏")
    gone = ap.book(salon.zhang, ["HAIR"], salon.cashier, "b", start=at(15), staff="t01")
    ap.cancel(gone.booking_ids[0], salon.cashier, "去医院复查", "b-c")
    document = member_document("13800138000")
    assert [(b["txid"], b["note"], b["reason"], b["services"]) for b in document["bookings"]] == [
        ("a", "对花粉过敏", "", ["HAIR"]), ("b", "", "去医院复查", ["HAIR"])]
    erase_member(salon.zhang, salon.manager, "会员要求删除", "erase")
    assert [(b.note, b.reason) for b in Booking.select().order_by(Booking.id)] == [("", ""), ("", "")]
    assert Booking.get_by_id(kept.booking_ids[0]).status == "booked"  # the shop's diary keeps the slot

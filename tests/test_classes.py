"""课程安排 (issue #21): class types, rooms and a store's timetable; sessions generated once; places needing a valid
pass or visit package; capacity then a waitlist promoted in order; late cancellations; check-in at the door using
exactly one visit; no-shows; the fill figures; idempotent txids; the commands; and two desk processes racing for
the last place (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import traceback
from dataclasses import dataclass

import pytest

from mms_tui import clock
from mms_tui.models import Card, ClassBooking, ClassSession, Visit
from mms_tui.services.base.errors import InvalidInput, PermissionDenied, TxidConflict, UnknownMember
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.bookings.classes import (
    AlreadyBooked,
    ClassUnavailable,
    NoClassNow,
    NoPass,
    NotCancellable,
    add_class_type,
    add_slot,
    book_class,
    cancel_class,
    cancel_session,
    class_check_in,
    class_fill,
    coach_classes,
    end_slot,
    generate_sessions,
    late_cancel_hours,
    mark_no_shows,
    session_roster,
    timetable,
)
from mms_tui.services.bookings.rooms import add_room, list_rooms
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.passes import freeze_card
from mms_tui.services.members.privacy import erase_member
from mms_tui.services.members.profile import register_member
from mms_tui.services.staff.admin import add_staff

SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Gym:
    desk: object
    today: dt.date
    now: dt.datetime  # the pinned moment the test starts at: today 08:00
    day: dt.date  # tomorrow: the day of the yoga class
    start: dt.datetime  # tomorrow 10:00, store time
    session_id: int


@pytest.fixture
def gym(desk, today):
    """HQ with a room, a coach (t01) and YOGA (60 minutes, 2 places) on tomorrow's weekday at 10:00; the week's
    sessions generated; the clock pinned at 08:00 today."""
    now = dt.datetime.combine(today, dt.time(8, 0))
    day = today + dt.timedelta(days=1)
    with clock.pinned(now):
        add_staff("t01", "教练 王", by=desk.manager, performer=True)
        add_room("R1", "一号教室", "HQ", desk.manager)
        add_class_type("YOGA", "瑜伽", 60, 2, desk.manager)
        add_slot("HQ", "YOGA", day.isoweekday(), "10:00", "t01", desk.manager, room="R1")
        made = generate_sessions("HQ", today, today + dt.timedelta(days=6), desk.manager)
        assert len(made.created) == 1
        yield Gym(desk, today, now, day, dt.datetime.combine(day, dt.time(10, 0)), made.created[0].id)


def member(gym: Gym, n: int, kind: str = "M1", on: dt.date | None = None) -> tuple[int, str]:
    """A member 会员n with a card of ``kind`` (M1 a 30-day pass, V10 a 10-visit package) numbered C0000n."""
    cashier = gym.desk.cashier
    member_id = register_member(f"会员{n}", f"1390000{n:04d}", cashier, f"reg-{n}").member_id
    card_no = f"C{n:05d}"
    issue_card(member_id, kind, cashier, f"card-{n}", card_no=card_no, on=on)
    return member_id, card_no


def places() -> list[tuple[int, str]]:
    return [(r.member_id, r.status) for r in ClassBooking.select().order_by(ClassBooking.id)]


def mms_check_passes(run, target: str) -> None:
    result = run("--db", target, "check")
    assert result.exit_code == 0, result.output


# --- the timetable and its sessions ---------------------------------------------------------------------------


def test_generating_twice_makes_nothing_twice_and_stores_utc(gym, run):
    desk = gym.desk
    with clock.pinned(gym.now):
        again = generate_sessions("HQ", gym.today, gym.today + dt.timedelta(days=13), desk.manager)
    assert len(again.created) == 1 and again.existing == 1  # next week's, and this week's kept
    assert ClassSession.select().count() == 2
    session = ClassSession.get_by_id(gym.session_id)
    assert (session.start, session.end, session.capacity) == (gym.start, gym.start + dt.timedelta(hours=1), 2)
    # the database holds UTC: the store is eight hours ahead of it (tests/conftest.py)
    (raw,) = fetch_rows('SELECT "start" FROM "class_session" WHERE "id" = ?', (gym.session_id,))[0]
    assert clock.parse_stored(raw) == gym.start - dt.timedelta(hours=8)
    assert [(s.weekday, s.start, s.coach, s.room) for s in timetable("HQ")] == [
        (gym.day.isoweekday(), "10:00", "t01", "R1")]
    assert [r.code for r in list_rooms("HQ")] == ["R1"]
    with clock.pinned(gym.now):
        end_slot(timetable("HQ")[0].id, desk.manager)
        after = generate_sessions("HQ", gym.today, gym.today + dt.timedelta(days=27), desk.manager)
    assert after.created == [] and ClassSession.select().count() == 2  # an ended line makes no more
    with clock.pinned(gym.now), pytest.raises(PermissionDenied):
        add_class_type("SPIN", "动感单车", 45, 20, desk.cashier)
    mms_check_passes(run, desk.target)


# --- booking -----------------------------------------------------------------------------------------------------


def test_a_booking_is_refused_with_the_reason_and_nothing_written(gym):
    desk = gym.desk
    with clock.pinned(gym.now):
        nobody = register_member("没卡", "13900009999", desk.cashier, "reg-x").member_id
        frozen, frozen_card = member(gym, 1)
        freeze_card(frozen_card, desk.cashier, "fr-1")
        expired, _ = member(gym, 2, on=gym.today - dt.timedelta(days=40))
        empty, empty_card = member(gym, 3, kind="V10")
        for i in range(10):
            check_in(empty_card, desk.cashier, f"use-{i}", again=True)
        ok, _ = member(gym, 4)
        with pytest.raises(NoPass, match="holds no pass"):
            book_class(nobody, gym.session_id, desk.cashier, "b-none")
        with pytest.raises(NoPass, match="frozen"):
            book_class(frozen, gym.session_id, desk.cashier, "b-frozen")
        with pytest.raises(NoPass, match="expired"):
            book_class(expired, gym.session_id, desk.cashier, "b-expired")
        with pytest.raises(NoPass, match="no visits left"):
            book_class(empty, gym.session_id, desk.cashier, "b-empty")
        first = book_class(ok, gym.session_id, desk.cashier, "b-ok")
        with pytest.raises(AlreadyBooked, match="booked for 瑜伽 at 10:00 already"):
            book_class(ok, gym.session_id, desk.cashier, "b-twice")
        with pytest.raises(UnknownMember):
            book_class("13999999999", gym.session_id, desk.cashier, "b-unknown")
        gone, _ = member(gym, 5)
        erase_member(gone, desk.manager, "会员要求删除", "erase-5")
        with pytest.raises(InvalidInput, match="is not active"):
            book_class(gone, gym.session_id, desk.cashier, "b-erased")
    with clock.pinned(gym.start + dt.timedelta(minutes=1)), pytest.raises(ClassUnavailable, match="has started"):
        book_class(frozen, gym.session_id, desk.cashier, "b-late")
    with clock.pinned(gym.now):
        cancel_session(gym.session_id, desk.manager, "教练病假")
        with pytest.raises(ClassUnavailable, match="was cancelled"):
            book_class(ok, gym.session_id, desk.cashier, "b-after")
    assert ClassBooking.select(ClassBooking.txid).where(ClassBooking.txid.startswith("b-")).count() == 1
    assert ClassBooking.get_by_id(first.id).status == "cancelled"  # with its session


def test_capacity_then_the_waitlist_promoted_in_order_skipping_passes_no_longer_valid(gym, run):
    desk = gym.desk
    with clock.pinned(gym.now):
        a, _ = member(gym, 1)
        b, _ = member(gym, 2)
        c, c_card = member(gym, 3, kind="V10")
        f, f_card = member(gym, 6)
        d, _ = member(gym, 4)
        e, _ = member(gym, 5)
        results = [book_class(m, gym.session_id, desk.cashier, f"b{m}") for m in (a, b, c, f, d, e)]
        assert [(r.status, r.position) for r in results] == [
            ("booked", 0), ("booked", 0), ("waitlisted", 1), ("waitlisted", 2), ("waitlisted", 3),
            ("waitlisted", 4)]
        assert results[2].card_no == c_card  # the package is named; no visit used
        assert Card.get(Card.card_no == c_card).visits_left == 10
        for i in range(10):  # meanwhile 会员3 uses up the package at the desk
            check_in(c_card, desk.cashier, f"use-{i}", again=True)
        freeze_card(f_card, desk.cashier, "fr-6")  # and 会员6's pass is frozen
        done = cancel_class(results[0].id, desk.cashier, "会员来电", "x1")
        assert [p.member_id for p in done.promoted] == [d]  # neither 会员3 nor 会员6 may take it now
        assert [(line.member, line.status, line.position) for line in session_roster(gym.session_id)] == [
            ("会员2", "booked", 1), ("会员4", "booked", 2), ("会员3", "waitlisted", 1), ("会员6", "waitlisted", 2),
            ("会员5", "waitlisted", 3)]
        promoted = ClassBooking.get(ClassBooking.member == d)
        assert promoted.promoted_at == gym.now
        done = cancel_class(f"b{b}", desk.cashier, "出差", "x2")  # by the booking's txid
        assert [p.member_id for p in done.promoted] == [e]
    assert places() == [(a, "cancelled"), (b, "cancelled"), (c, "waitlisted"), (f, "waitlisted"), (d, "booked"),
                        (e, "booked")]
    mms_check_passes(run, desk.target)


def test_a_cancellation_refuses_the_txid_of_a_check_in(gym):
    """A check-in's txid names an operation already done, though its audit event is kept on its transaction
    (migration 30), not in a row of its own."""
    desk = gym.desk
    with clock.pinned(gym.now):
        a, card_no = member(gym, 1)
        booked = book_class(a, gym.session_id, desk.cashier, "b1")
        check_in(card_no, desk.cashier, "ci-1")
        with pytest.raises(TxidConflict):
            cancel_class(booked.id, desk.cashier, "改期", "ci-1")
    assert places() == [(a, "booked")]


def test_a_cancellation_close_to_the_start_is_late(gym):
    desk = gym.desk
    assert late_cancel_hours() == 12
    with clock.pinned(gym.now):
        ids = [member(gym, n)[0] for n in (1, 2, 3)]
        booked = [book_class(m, gym.session_id, desk.cashier, f"b{m}") for m in ids]
    assert [b.status for b in booked] == ["booked", "booked", "waitlisted"]
    with clock.pinned(gym.start - dt.timedelta(hours=12, minutes=1)):
        first = cancel_class(booked[0].id, desk.cashier, "改期", "x1")
        assert (first.late, [p.id for p in first.promoted]) == (False, [booked[2].id])
    with clock.pinned(gym.start - dt.timedelta(hours=11, minutes=59)):
        early = cancel_class(booked[1].id, desk.cashier, "生病", "x2")
        assert early.late is True and early.place.reason == "生病" and early.promoted == []
    with clock.pinned(gym.now):
        fourth = book_class(member(gym, 4)[0], gym.session_id, desk.cashier, "b-4")
        fifth = book_class(member(gym, 5)[0], gym.session_id, desk.cashier, "b-5")
    assert (fourth.status, fifth.status) == ("booked", "waitlisted")
    with clock.pinned(gym.start - dt.timedelta(hours=1)):
        assert cancel_class(fifth.id, desk.cashier, "不等了", "x3").late is False  # held no place
        with pytest.raises(NotCancellable, match="cancelled: it cannot be cancelled"):
            cancel_class(booked[0].id, desk.cashier, "again", "x4")
    with clock.pinned(gym.start), pytest.raises(NotCancellable, match="started at 10:00"):
        cancel_class(booked[2].id, desk.cashier, "太晚", "x5")
    assert [r.late for r in ClassBooking.select().order_by(ClassBooking.id)] == [False, True, False, False, False]


def test_check_in_at_the_door_uses_exactly_one_visit_and_marks_attended(gym, run):
    desk = gym.desk
    with clock.pinned(gym.now):
        pkg, pkg_card = member(gym, 1, kind="V10")
        pas, pas_card = member(gym, 2)
        book_class(pkg, gym.session_id, desk.cashier, "b1")
        book_class(pas, gym.session_id, desk.cashier, "b2")
        with pytest.raises(NoClassNow, match="no class booked at HQ now"):
            class_check_in(pkg_card, "HQ", desk.cashier, "door-early")
    visits = Visit.select().count()
    with clock.pinned(gym.start - dt.timedelta(minutes=10)):
        done = class_check_in(pkg_card, "HQ", desk.cashier, "door-1")
        assert (done.place.status, done.kind, done.visits_left) == ("attended", "visits", 9)
        assert class_check_in(pkg_card, "HQ", desk.cashier, "door-1") == done  # a retry
        with pytest.raises(NoClassNow, match="checked in to 瑜伽 at 10:00 already"):
            class_check_in(pkg_card, "HQ", desk.cashier, "door-2")
        by_phone = class_check_in("13900000002", "HQ", desk.cashier, "door-3", session_id=gym.session_id)
        assert (by_phone.kind, by_phone.card_no) == ("period", pas_card)
    assert Card.get(Card.card_no == pkg_card).visits_left == 9  # one visit, not two
    assert Card.get(Card.card_no == pas_card).visits_left == 0
    assert Visit.select().count() == visits + 2
    row = ClassBooking.get(ClassBooking.member == pkg)
    assert (row.status, row.attended_at, Visit.get_by_id(row.visit_id).card.card_no) == (
        "attended", gym.start - dt.timedelta(minutes=10), pkg_card)
    with clock.pinned(gym.start - dt.timedelta(minutes=10)), pytest.raises(TxidConflict):
        class_check_in(pas_card, "HQ", desk.cashier, "door-1")
    mms_check_passes(run, desk.target)


def test_no_shows_after_the_class_ends(gym):
    desk = gym.desk
    with clock.pinned(gym.now):
        came, came_card = member(gym, 1)
        missed, _ = member(gym, 2)
        waiting, _ = member(gym, 3)
        for m in (came, missed, waiting):
            book_class(m, gym.session_id, desk.cashier, f"b{m}")
    with clock.pinned(gym.start):
        class_check_in(came_card, "HQ", desk.cashier, "door")
        with pytest.raises(Exception, match="no-shows are marked after it ends"):
            mark_no_shows(gym.session_id, desk.cashier)
    with clock.pinned(gym.start + dt.timedelta(hours=1)):
        marked = mark_no_shows(gym.session_id, desk.cashier)
        assert [p.member_id for p in marked] == [missed]
        assert mark_no_shows(gym.session_id, desk.cashier) == []
    assert places() == [(came, "attended"), (missed, "no_show"), (waiting, "waitlisted")]
    assert ClassBooking.get(ClassBooking.member == missed).policy == ""
    coach = coach_classes("t01", gym.day)
    assert [(s.booked, s.waitlisted, s.attended, s.no_show) for s in coach] == [(0, 1, 1, 1)]


def test_class_fill_against_an_independent_count(gym):
    desk = gym.desk
    with clock.pinned(gym.now):
        add_slot("HQ", "YOGA", gym.day.isoweekday(), "18:00", "t01", desk.manager, capacity=3)
        generate_sessions("HQ", gym.day, gym.day, desk.manager)
        evening = ClassSession.get(ClassSession.id != gym.session_id).id
        people = [member(gym, n) for n in range(1, 6)]
        for m, _card in people[:3]:
            book_class(m, gym.session_id, desk.cashier, f"m{m}")  # 2 places, 1 waitlisted
        for m, _card in people[2:5]:
            book_class(m, evening, desk.cashier, f"e{m}")  # 3 of 3
        cancel_class(f"e{people[4][0]}", desk.cashier, "改期", "x1")
    with clock.pinned(gym.start):
        class_check_in(people[0][1], "HQ", desk.cashier, "door-1", session_id=gym.session_id)
    rows = class_fill(gym.today, gym.today + dt.timedelta(days=6), "HQ")
    # the same figures counted straight from the rows
    capacity = sum(s.capacity for s in ClassSession.select())
    taken = ClassBooking.select().where(ClassBooking.status.in_(["booked", "attended", "no_show"])).count()
    came = ClassBooking.select().where(ClassBooking.status == "attended").count()
    assert (capacity, taken, came) == (5, 4, 1)
    assert [(r.class_type, r.sessions, r.places, r.booked, r.attended, r.fill_pct) for r in rows] == [
        ("YOGA", 2, capacity, taken, came, "80.0")]
    assert class_fill(gym.day + dt.timedelta(days=1), gym.day + dt.timedelta(days=1)) == []


def test_the_same_txid_is_the_same_booking(gym):
    desk = gym.desk
    with clock.pinned(gym.now):
        a, _ = member(gym, 1)
        b, _ = member(gym, 2)
        first = book_class(a, gym.session_id, desk.cashier, "same")
        assert book_class(a, gym.session_id, desk.cashier, "same") == first
        with pytest.raises(TxidConflict):
            book_class(b, gym.session_id, desk.cashier, "same")
        cancelled = cancel_class(first.id, desk.cashier, "改期", "cx")
        assert cancel_class(first.id, desk.cashier, "改期", "cx") == cancelled
        with pytest.raises(TxidConflict):
            cancel_class(book_class(b, gym.session_id, desk.cashier, "other").id, desk.cashier, "x", "cx")
    assert places() == [(a, "cancelled"), (b, "booked")]
    events = [json.loads(p) for (p,) in fetch_rows('SELECT "payload" FROM "audit_event" WHERE "action" = ?',
                                                   ("class_booking.cancel",))]
    assert events == [{"late": False, "promoted": [], "reason": "改期"}]


# --- the commands ------------------------------------------------------------------------------------------------


def test_the_commands(gym, run):
    desk = gym.desk
    db = ("--db", desk.target)
    with clock.pinned(gym.now):
        _pkg, pkg_card = member(gym, 1, kind="V10")
        member(gym, 2)
        result = run(*db, "classes", "add-type", "SPIN", "动感单车", "--minutes", "45", "--capacity", "1",
                     "--format", "csv")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["code,name,minutes,capacity,active", "SPIN,动感单车,45,1,True"]
        assert run(*db, "classes", "add-room", "R2", "二号教室", "--store", "HQ").exit_code == 0
        result = run(*db, "classes", "add-slot", "SPIN", ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[gym.day.isoweekday() - 1], "19:30", "--coach", "t01",
                     "--room", "R2", "--store", "HQ", "--format", "json")
        assert result.exit_code == 0, result.output
        slot = json.loads(result.stdout)[0]
        assert (slot["class"], slot["start"], slot["capacity"], slot["room"]) == ("SPIN", "19:30", 1, "R2")
        day = gym.day.isoformat()
        result = run(*db, "classes", "generate", "--from", day, "--to", day, "--store", "HQ", "--format", "json")
        assert result.exit_code == 0, result.output
        (made,) = json.loads(result.stdout)
        assert (made["class"], made["start"]) == ("SPIN", f"{day} 19:30")
        assert "1 sessions made, 1 there already." in result.stderr
        result = run(*db, "classes", "sessions", "--from", day, "--format", "csv")
        assert [line.split(",")[2] for line in result.stdout.splitlines()[1:]] == ["YOGA", "SPIN"]
        result = run(*db, "classes", "book", pkg_card, made["id"], "--txid", "cli-1", "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[0]["status"] == "booked"
        result = run(*db, "classes", "book", "13900000002", made["id"], "--format", "json")
        assert json.loads(result.stdout)[0]["status"] == "waitlisted"
        result = run(*db, "classes", "book", "13900000002", made["id"])
        assert result.exit_code == 1
        assert result.stderr.strip() == "Error: 会员2 is waitlisted for 动感单车 at 19:30 already."
        result = run(*db, "classes", "roster", made["id"], "--format", "csv")
        assert [line.split(",")[2:5] for line in result.stdout.splitlines()[1:]] == [
            ["会员1", pkg_card, "booked"], ["会员2", "C00002", "waitlisted"]]
        result = run(*db, "classes", "edit-type", "YOGA", "--name", "流瑜伽", "--format", "csv")
        assert result.stdout.splitlines()[1:] == ["YOGA,流瑜伽,60,2,True"]
        result = run(*db, "classes", "add-type", "BOX", "拳击", "--minutes", "0", "--capacity", "5")
        assert (result.exit_code, result.stderr.strip()) == (1, "Error: A class lasts 1 to 1440 minutes, not 0.")
    with clock.pinned(dt.datetime.combine(gym.day, dt.time(19, 0))):
        result = run(*db, "classes", "checkin", pkg_card, "--store", "HQ", "--format", "json")
        assert result.exit_code == 0, result.output
        row = json.loads(result.stdout)[0]
        assert (row["status"], row["visits_left"], row["class"]) == ("attended", 9, "动感单车")
        result = run(*db, "classes", "checkin", pkg_card, "--store", "HQ")
        assert result.exit_code == 1 and "already" in result.stderr
        result = run(*db, "classes", "cancel", "1", "--reason", "x")
        assert (result.exit_code, result.stderr.strip()) == (
            1, "Error: The place of 会员1 in 动感单车 is attended: it cannot be cancelled.")
    with clock.pinned(gym.now):
        result = run(*db, "classes", "types", "--format", "csv")
        assert result.stdout.splitlines()[1:] == ["SPIN,动感单车,45,1,True", "YOGA,流瑜伽,60,2,True"]
        result = run(*db, "classes", "timetable", "--store", "HQ", "--format", "csv")
        assert len(result.stdout.splitlines()) == 3
        result = run(*db, "classes", "rooms", "--format", "csv")
        assert result.stdout.splitlines()[1:] == ["R1,一号教室,HQ,True", "R2,二号教室,HQ,True"]
    assert Card.get(Card.card_no == pkg_card).visits_left == 9
    mms_check_passes(run, desk.target)


# --- two desks, one last place -----------------------------------------------------------------------------------


def _book_worker(target: str, member_id: int, session_id: int, txid: str, barrier, queue) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.bookings.classes import book_class as book
    from mms_tui.services.ops.setup import connect

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    barrier.wait()
    try:
        queue.put(("ok", book(member_id, session_id, cashier, txid).status))
    except Exception:
        queue.put(("error", traceback.format_exc(limit=4)))


@pytest.mark.slow
def test_two_desks_race_for_the_last_place(gym, run):
    """One place left, two desk processes book it at the same instant: one is booked, the other waitlisted, every
    round. The sessions are tomorrow's, so the processes' own clock (not pinned) sees them ahead."""
    desk = gym.desk
    starts = ["10:00", "11:00", "12:00", "13:00"]
    with clock.pinned(gym.now):
        for start in starts[1:]:
            add_slot("HQ", "YOGA", gym.day.isoweekday(), start, "t01", desk.manager)
        generate_sessions("HQ", gym.day, gym.day, desk.manager)
        sessions = [s.id for s in ClassSession.select().order_by(ClassSession.start)]
        first = member(gym, 99)[0]
        racers = [(member(gym, 2 * n)[0], member(gym, 2 * n + 1)[0]) for n in range(1, len(sessions) + 1)]
        for session_id in sessions:
            book_class(first, session_id, desk.cashier, f"first-{session_id}")  # one of two places taken
    for session_id, pair in zip(sessions, racers, strict=True):
        barrier = SPAWN.Barrier(2)
        queue = SPAWN.Queue()
        procs = [SPAWN.Process(target=_book_worker, args=(desk.target, m, session_id, f"race-{m}", barrier, queue))
                 for m in pair]
        for p in procs:
            p.start()
        outcomes = sorted(queue.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert outcomes == [("ok", "booked"), ("ok", "waitlisted")], outcomes
        statuses = sorted(r.status for r in ClassBooking.select().where(ClassBooking.session == session_id))
        assert statuses == ["booked", "booked", "waitlisted"]
    mms_check_passes(run, desk.target)


def test_the_rules_policy_for_a_late_cancellation_and_a_no_show(gym, run):
    """late_cancel = visit: the place's own visit package loses one (a ledger entry); no_show = fee: ¥30 on the
    member's next bill, paid there once."""
    from mms_tui.services.loyalty.rules_files import rules_from_text
    from mms_tui.services.loyalty.rules_store import save_rules
    from mms_tui.services.money.checkout import checkout, checkout_offers

    desk = gym.desk
    save_rules(rules_from_text('[bookings]\nlate_cancel = "visit"\nno_show = "fee"\nno_show_fee = "30"', "toml"),
               desk.manager)
    with clock.pinned(gym.now):
        (late_id, late_card), (gone_id, _card) = member(gym, 1, "V10"), member(gym, 2, "V10")
        late = book_class(late_id, gym.session_id, desk.cashier, "p1")
        book_class(gone_id, gym.session_id, desk.cashier, "p2")
    with clock.pinned(gym.start - dt.timedelta(hours=2)):
        cancelled = cancel_class(late.id, desk.cashier, "加班", "c1")
        assert cancelled.late and cancel_class(late.id, desk.cashier, "加班", "c1").late  # a retry: once
    assert ClassBooking.get_by_id(late.id).policy == f"visit:{late_card}"
    assert Card.get(Card.card_no == late_card).visits_left == 9
    with clock.pinned(gym.start + dt.timedelta(hours=2)):
        marked = mark_no_shows(gym.session_id, desk.cashier)
        assert mark_no_shows(gym.session_id, desk.cashier) == []
        assert [p.member_id for p in marked] == [gone_id]
        row = ClassBooking.get(ClassBooking.member == gone_id)
        assert (row.status, row.policy, row.fee_fen) == ("no_show", "fee:3000", 3_000)
        due = checkout_offers(gone_id, store="HQ", staff=desk.cashier).fees_due
        assert [(f.kind, f.amount_fen) for f in due] == [("booking", 3_000)]
        checkout(gone_id, [], [("cash", 3_000)], desk.cashier, "pay", fees=["booking"])
        assert ClassBooking.get(ClassBooking.member == gone_id).fee_txid == "pay"
    mms_check_passes(run, desk.target)


def test_a_coach_or_a_room_is_never_in_two_classes_at_once(gym):
    """A timetable line over another of the same coach or room that weekday is refused; so is a one-off class over
    the coach's appointment or another class in the room; a line at another time, or of another coach in another
    room, is taken."""
    from mms_tui.services.bookings.classes import add_session

    desk = gym.desk
    weekday = gym.day.isoweekday()
    with clock.pinned(gym.now):
        add_staff("t02", "教练 李", by=desk.manager, performer=True)
        add_room("R2", "二号教室", "HQ", desk.manager)
        with pytest.raises(InvalidInput, match="教练 王 teaches 瑜伽 then"):
            add_slot("HQ", "YOGA", weekday, "10:30", "t01", desk.manager, room="R2")
        with pytest.raises(InvalidInput, match="room R1 holds 瑜伽 then"):
            add_slot("HQ", "YOGA", weekday, "09:30", "t02", desk.manager, room="R1")
        assert add_slot("HQ", "YOGA", weekday, "10:30", "t02", desk.manager, room="R2").room == "R2"
        assert add_slot("HQ", "YOGA", weekday, "11:00", "t01", desk.manager, room="R1").coach == "t01"
        with pytest.raises(InvalidInput, match="教练 王 is busy from 10:00 to 11:00"):
            add_session("HQ", "YOGA", gym.start + dt.timedelta(minutes=30), "t01", desk.manager)
        with pytest.raises(InvalidInput, match="Room R1 is taken at 09:30"):
            add_session("HQ", "YOGA", gym.start - dt.timedelta(minutes=30), "t02", desk.manager, room="R1")
        assert add_session("HQ", "YOGA", gym.start + dt.timedelta(hours=3), "t01", desk.manager).coach == "t01"


def test_a_pass_bound_to_another_store_does_not_book_this_stores_class(gym):
    """Issue #24: a pass whose type binds it to another store allows no class here, and says where it is used."""
    from mms_tui.services.catalogue.card_types import edit_card_type
    from mms_tui.services.staff.stores import add_store

    desk = gym.desk
    with clock.pinned(gym.now):
        member_id, _card = member(gym, 1)
        add_store("SH9", "九店", desk.admin, parent="HQ")
        edit_card_type(desk.manager, "M1", stores=("SH9",), bound=True)
        with pytest.raises(NoPass, match="used only at 九店"):
            book_class(member_id, gym.session_id, desk.cashier, "b-bound")
    assert places() == []

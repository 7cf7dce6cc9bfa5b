"""考勤 (issue #20): punches by staff card and by code + PIN, rosters and what they make of a week (late, early
leave, absent, overtime, forgotten clock-outs), a manager's corrections (the original kept, audited), the report,
and the desk: a staff card swiped on a reader clocks in, during a sale too, and still fills the login's code."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui import clock
from mms_tui.models import AuditEvent, Punch, Staff
from mms_tui.services.base.errors import NotFound, PermissionDenied, WrongPin
from mms_tui.services.reports.catalogue import run_report
from mms_tui.services.staff.attendance import (
    AlreadyClockedIn,
    NotClockedIn,
    add_punch,
    clocked_in_now,
    correct_punch,
    parse_week,
    punch_by_card,
    punch_by_pin,
    set_exception,
    set_week,
)
from tests.conftest import CASHIER_PIN

MONDAY = dt.date(2026, 11, 16)  # the week looked at: Monday 16 to Sunday 22 November 2026


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute)


def swipe(moment: dt.datetime, txid: str, kind: str | None = None, card: str = "STAFF001"):
    with clock.pinned(moment):
        return punch_by_card(card, "HQ", txid, kind)


def a_week(desk) -> None:
    """c01 works Monday to Friday 09:00–18:00; Friday 20 is a day off, Sunday 22 a 13:00–17:00 shift.

    Mon 16: in 09:07 (late: after 09:05), out 18:30 → 9 h 23 min, 30 min overtime
    Tue 17: in 09:04, out 17:00 → 7 h 56 min, an early leave
    Wed 18: nothing → absent
    Thu 19: in 08:55, never out → closed at 18:00, forgotten: 9 h 05 min
    Fri 20: day off; in 10:00, out 12:00 → 2 h, all overtime
    Sat 21: off (the week), nothing
    Sun 22: in 13:00, out 17:00 → 4 h
    """
    set_week("c01", parse_week(["mon-fri=09:00-18:00"]), desk.manager)
    set_exception("c01", dt.date(2026, 11, 20), parse_week(["fri=off"])[5], desk.manager, "调休")
    set_exception("c01", dt.date(2026, 11, 22), parse_week(["sun=13:00-17:00"])[7], desk.manager)
    for n, (moment, kind) in enumerate([
        (at(16, 9, 7), "in"), (at(16, 18, 30), "out"), (at(17, 9, 4), "in"), (at(17, 17), "out"),
        (at(19, 8, 55), "in"), (at(20, 10), "in"), (at(20, 12), "out"), (at(22, 13), "in"), (at(22, 17), "out"),
    ]):
        swipe(moment, f"w{n}", kind)


def c01_row(start: dt.date = MONDAY, end: dt.date = MONDAY + dt.timedelta(days=6)) -> dict:
    with clock.pinned(at(23, 10)):
        return next(iter(run_report("attendance", start, end, None, staff="c01")))


# --- punches ---------------------------------------------------------------------------------------------------


def test_a_staff_card_clocks_in_then_out_and_the_same_txid_never_punches_twice(desk):
    first = swipe(at(16, 9), "p1")
    assert (first.kind, first.staff_code, first.at) == ("in", "c01", at(16, 9))
    assert swipe(at(16, 9, 1), "p1").punch_id == first.punch_id  # a retry returns the first punch
    with clock.pinned(at(16, 12)):
        assert [(p.code, p.since) for p in clocked_in_now("HQ")] == [("c01", at(16, 9))]
    assert swipe(at(16, 18), "p2").kind == "out"  # whatever is due
    with clock.pinned(at(16, 19)):
        assert clocked_in_now("HQ") == []
    assert [(p.kind, p.at) for p in Punch.select().order_by(Punch.id)] == [("in", at(16, 9)), ("out", at(16, 18))]


def test_refusals_say_why_and_write_nothing(desk):
    with pytest.raises(NotClockedIn, match="not clocked in"):
        swipe(at(16, 9), "b1", "out")
    with pytest.raises(NotFound, match="no staff member"):
        swipe(at(16, 9), "b2", card="NOBODY99")
    swipe(at(16, 9), "b3", "in")
    with pytest.raises(AlreadyClockedIn, match="clocked in at 09:00 already"):
        swipe(at(16, 10), "b4", "in")
    with clock.pinned(at(16, 11)), pytest.raises(WrongPin):
        punch_by_pin("c01", "9999", "HQ", "b5", "out")
    assert Staff.get(Staff.code == "c01").failed_logins == 1  # the PIN throttle counts it
    assert Punch.select().count() == 1
    with clock.pinned(at(16, 12)):
        assert punch_by_pin("c01", CASHIER_PIN, "HQ", "b6", "out").kind == "out"
    # yesterday's clock-in left open does not keep anyone "clocked in" today: they clock in afresh
    swipe(at(17, 9), "b7", "in")
    assert swipe(at(18, 9), "b8").kind == "in"


# --- rosters and the figures -----------------------------------------------------------------------------------


def test_the_week_against_the_roster(desk):
    a_week(desk)
    assert c01_row() == {"code": "c01", "name": "前台 小陈", "store": "HQ", "days_worked": 5,
                         # 9:23 + 7:56 + 9:05 + 2:00 + 4:00 = 32 h 24 min
                         "hours": "32.40", "late": 1, "early_leave": 1, "absent": 1,
                         "overtime_hours": "2.50", "forgotten_clock_outs": 1}


def test_the_grace_is_a_setting_and_today_is_not_absent_yet(desk):
    from mms_tui.db import write_transaction
    from mms_tui.services.base.config import set_config

    a_week(desk)
    with write_transaction():
        set_config("attendance", {"grace_minutes": 10})
    assert c01_row()["late"] == 0  # 09:07 is within ten minutes
    with clock.pinned(at(18, 20)):  # Wednesday evening: the day is not over, nobody is absent yet
        row = next(iter(run_report("attendance", dt.date(2026, 11, 18), dt.date(2026, 11, 18), None, staff="c01")))
    assert row["absent"] == 0


def test_staff_without_a_roster_only_count_hours(desk):
    with clock.pinned(at(16, 7)):
        punch_by_pin("m01", "2345", "HQ", "m1")
    with clock.pinned(at(16, 21)):
        punch_by_pin("m01", "2345", "HQ", "m2")
    with clock.pinned(at(23, 10)):
        row = next(iter(run_report("attendance", MONDAY, MONDAY + dt.timedelta(days=6), None, staff="m01")))
    assert (row["days_worked"], row["hours"], row["late"], row["absent"], row["overtime_hours"]) == (
        1, "14.00", 0, 0, "0.00")


def test_only_a_manager_sets_a_roster(desk):
    with pytest.raises(PermissionDenied):
        set_week("c01", parse_week(["mon=09:00-18:00"]), desk.cashier)


# --- corrections -----------------------------------------------------------------------------------------------


def test_a_managers_correction_keeps_the_original_and_is_audited(desk, run):
    a_week(desk)
    tuesday_out = Punch.get((Punch.kind == "out") & (Punch.at == at(17, 17)))
    with pytest.raises(PermissionDenied):
        correct_punch(tuesday_out.id, desk.cashier, "忘了", "c-x", at="2026-11-17 18:00")
    with pytest.raises(Exception, match="reason"):
        correct_punch(tuesday_out.id, desk.manager, "  ", "c-y", at="2026-11-17 18:00")
    fixed = correct_punch(tuesday_out.id, desk.manager, "打卡机故障", "c1", at="2026-11-17 18:00")
    assert fixed.at == at(17, 18)
    assert Punch.get_by_id(tuesday_out.id).at == at(17, 17)  # the original, untouched
    # the forgotten clock-out of Thursday, added: 19:00, an hour over
    add_punch("c01", "out", "2026-11-19 19:00", desk.manager, "补打卡", "c2")
    row = c01_row()
    assert (row["early_leave"], row["forgotten_clock_outs"]) == (0, 0)
    # + 1 h on Tuesday; Thursday 08:55–19:00 instead of 18:00: + 1 h, and 1 h overtime
    assert (row["hours"], row["overtime_hours"]) == ("34.40", "3.50")
    events = [(e.action, e.subject, json.loads(e.payload)) for e in
              AuditEvent.select().where(AuditEvent.action.in_(["attendance.correct", "attendance.add"]))
              .order_by(AuditEvent.id)]
    assert [(a, s) for a, s, _p in events] == [("attendance.correct", f"attendance_punch:{tuesday_out.id}"),
                                             ("attendance.add", f"attendance_punch:{fixed.punch_id + 1}")]
    assert events[0][2]["reason"] == "打卡机故障" and events[1][2]["reason"] == "补打卡"
    assert run("--db", desk.target, "check").exit_code == 0
    # a punch changed behind the services' back is what mms check reports
    Punch.update(at=at(17, 16)).where(Punch.id == tuesday_out.id).execute()
    assert run("--db", desk.target, "check").exit_code == 1


def test_a_void_correction_takes_a_punch_away(desk):
    first = swipe(at(16, 9), "v1", "in")
    correct_punch(first.punch_id, desk.manager, "刷错卡", "v2", void=True)
    assert swipe(at(16, 10), "v3").kind == "in"  # nothing counts any more: clocking in again is allowed
    with pytest.raises(Exception, match="corrected already"):
        correct_punch(first.punch_id, desk.manager, "again", "v4", void=True)


# --- the report on the command line ----------------------------------------------------------------------------


def test_the_report_command_prints_and_writes_a_workbook(desk, run, tmp_path):
    from openpyxl import load_workbook

    a_week(desk)
    args = ("--db", desk.target, "report", "attendance", "--from", "2026-11-16", "--to", "2026-11-22")
    with clock.pinned(at(23, 10)):
        shown = run(*args, "--staff", "c01", "--format", "json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)[0]["hours"] == "32.40"
        table = run(*args, "--store", "HQ")
        assert "c01" in table.output and "m01" in table.output
        target = tmp_path / "attendance.xlsx"
        written = run(*args, "--staff", "c01", "--output", target)
        assert written.exit_code == 0, written.output
        nobody = run(*args, "--staff", "zz9")
    sheet = load_workbook(target).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Code", "Name", "Store", "Days worked") and rows[1][0] == "c01" and rows[1][4] == "32.40"
    assert nobody.exit_code == 1 and "zz9" in nobody.output


def test_roster_commands(desk, run):
    base = ("--db", desk.target, "staff", "roster")
    set_ = run(*base, "set", "c01", "mon-fri=09:00-18:00", "sat=10:00-16:00", "--staff", "m01", "--pin-stdin",
               input="2345\n")
    assert set_.exit_code == 0, set_.output
    excepted = run(*base, "except", "c01", "2026-12-24", "off", "--note", "平安夜", "--staff", "m01", "--pin-stdin",
                   input="2345\n")
    assert excepted.exit_code == 0, excepted.output
    shown = json.loads(run(*base, "show", "c01", "--format", "json").output)
    assert [r["shift"] for r in shown] == ["09:00-18:00"] * 5 + ["10:00-16:00", "off", "off"]
    assert shown[-1]["day"] == "2026-12-24" and shown[-1]["note"] == "平安夜"
    refused = run(*base, "set", "c01", "mon=18:00-09:00", "--staff", "m01", "--pin-stdin", input="2345\n")
    assert refused.exit_code == 1 and "ends after it starts" in refused.output
    by_cashier = run(*base, "set", "m01", "mon=09:00-18:00", "--staff", "c01", "--pin-stdin", input="0000\n")
    assert by_cashier.exit_code == 1
    assert run("--db", desk.target, "check").exit_code == 0


# --- the desk ----------------------------------------------------------------------------------------------------


async def test_a_staff_card_on_a_reader_clocks_in_at_the_desk_and_during_a_sale(sqlite_desk, tmp_path):
    from textual.widgets import Input

    from mms_tui.screens.attendance import ClockCardScreen, ClockedInScreen, ClockPinScreen
    from mms_tui.screens.checkout import CheckoutScreen
    from mms_tui.screens.desk import DeskScreen
    from tests.test_devices import Pty
    from tests.test_tui import at_desk, settle, text, wait_until

    reader = Pty(tmp_path / "reader")
    try:
        async with at_desk(sqlite_desk, card_reader=str(tmp_path / "reader"), reader_protocol="line") as (app, pilot):
            assert await wait_until(pilot, lambda: app.readers and app.readers[0].state == "connected")
            reader.write(b"STAFF001\r\n")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ClockCardScreen))
            assert "前台 小陈" in text(app.screen.query_one("#clock-who"))
            await pilot.press("f10")
            await settle(pilot)
            assert isinstance(app.screen, DeskScreen)
            assert [p.kind for p in Punch.select()] == ["in"]

            await pilot.press("f9")  # a walk-in sale with a line on the bill
            await pilot.press(*"HAIR", "enter")
            await settle(pilot)
            sale = app.screen
            assert isinstance(sale, CheckoutScreen) and len(sale.lines) == 1
            await pilot.pause(1.0)  # past the reader's hold: a new presentation
            reader.write(b"STAFF001\r\n")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ClockCardScreen))
            await pilot.press("y")
            await settle(pilot)
            assert app.screen is sale and len(sale.lines) == 1  # the sale is kept
            assert [p.kind for p in Punch.select().order_by(Punch.id)] == ["in", "out"]
            await pilot.press("escape")
            await settle(pilot)
            if not isinstance(app.screen, DeskScreen):
                await pilot.press("y")  # leave the sale
                await settle(pilot)

            await pilot.press("f4")  # by code and PIN: a wrong PIN, then a clock-in
            await settle(pilot)
            assert isinstance(app.screen, ClockPinScreen)
            app.screen.query_one("#clock-code", Input).value = "m01"
            app.screen.query_one("#clock-pin", Input).value = "9999"
            await pilot.press("f2")
            await settle(pilot)
            assert "Wrong staff code or PIN" in text(app.screen.query_one("#dialog-error"))
            await pilot.pause(1.1)  # the throttle's wait after one wrong PIN
            app.screen.query_one("#clock-pin", Input).value = "2345"
            await pilot.press("f2")
            await settle(pilot)
            assert isinstance(app.screen, DeskScreen)
            await pilot.press("f5")
            await settle(pilot)
            assert isinstance(app.screen, ClockedInScreen)
            assert "经理 李强" in text(app.screen.query_one("#clocked-list"))
    finally:
        reader.close()

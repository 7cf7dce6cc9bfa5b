"""Group classes at the desk (issue #21): F7 lists the day's classes with their rosters; F2 there checks a member in
to the class; a swipe and F2 on the member's screen checks a member with a class now in to it (one visit, never
two); F8 marks the no-shows once the class is over; F9 shows only the logged-in coach's classes."""

from __future__ import annotations

import datetime as dt

import pytest
from textual.widgets import DataTable

from mms_tui import clock
from mms_tui.app import create_app
from mms_tui.models import Card, ClassBooking, Visit
from mms_tui.services.bookings.classes import add_class_type, add_session, book_class
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.staff.admin import add_staff
from mms_tui.settings import Settings
from tests.test_snapshots import settle

DAY = dt.date(2026, 11, 16)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute))


@pytest.fixture
def gym(sqlite_desk):
    d = sqlite_desk
    with clock.pinned(at(8)):
        add_staff("t01", "教练 王", by=d.manager, performer=True)
        add_class_type("YOGA", "瑜伽", 60, 2, d.manager)
        d.yoga = add_session("HQ", "YOGA", at(10), "t01", d.manager)
        add_session("HQ", "YOGA", at(18), "c01", d.manager)  # the cashier coaches the evening class
        d.zhang = register_member("张三", "13800138000", d.cashier, "r1").member_id
        issue_card(d.zhang, "V10", d.cashier, "i1", card_no="00077777")
        d.li = register_member("李四", "13900139000", d.cashier, "r2").member_id
        issue_card(d.li, "V10", d.cashier, "i2", card_no="00088888")
        book_class(d.zhang, d.yoga.id, d.cashier, "p1")
        book_class(d.li, d.yoga.id, d.cashier, "p2")
    return d


async def logged_in(pilot) -> None:
    await settle(pilot)
    await pilot.press(*"c01", "enter", *"0000", "enter")
    await settle(pilot)


async def test_the_classes_list_checks_in_from_the_roster_and_marks_no_shows(gym):
    app = create_app(Settings(db=gym.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    with clock.pinned(at(9, 50)):
        async with app.run_test(size=(80, 24)) as pilot:
            await logged_in(pilot)
            await pilot.press("f7")
            await settle(pilot)
            sessions = app.screen.query_one("#classes-sessions", DataTable)
            assert sessions.row_count == 2 and str(sessions.get_cell_at((0, 4))) == "2/2"
            roster = app.screen.query_one("#classes-roster", DataTable)
            assert [str(roster.get_cell_at((r, 1))) for r in range(roster.row_count)] == ["张三", "李四"]
            await pilot.press("tab", "down", "f2")  # 李四 came without a card
            await settle(pilot)
            assert ClassBooking.get(ClassBooking.member == gym.li).status == "attended"
            assert Card.get(Card.card_no == "00088888").visits_left == 9
            await pilot.press("f9")  # only mine: the cashier's evening class
            await settle(pilot)
            assert sessions.row_count == 1 and str(sessions.get_cell_at((0, 0))).startswith("18:00")
    with clock.pinned(at(11, 5)):
        app = create_app(Settings(db=gym.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
        async with app.run_test(size=(80, 24)) as pilot:
            await logged_in(pilot)
            await pilot.press("f7")
            await settle(pilot)
            await pilot.press("f8")
            await settle(pilot)
    assert ClassBooking.get(ClassBooking.member == gym.zhang).status == "no_show"


async def test_a_swipe_and_f2_check_a_member_in_to_their_class_once(gym):
    app = create_app(Settings(db=gym.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    with clock.pinned(at(9, 45)):
        async with app.run_test(size=(80, 24)) as pilot:
            await logged_in(pilot)
            await pilot.press(*"00077777", "enter")
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)
            assert "Checked in to 瑜伽 at 10:00 — 9 visits left" in str(app.screen.query_one("#outcome").render())
            await pilot.press("f2")  # the same intent again: the same check-in
            await settle(pilot)
    assert ClassBooking.get(ClassBooking.member == gym.zhang).status == "attended"
    assert Visit.select().where(Visit.member == gym.zhang).count() == 1
    assert Card.get(Card.card_no == "00077777").visits_left == 9

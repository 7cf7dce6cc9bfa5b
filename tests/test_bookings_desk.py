"""The day view at the desk (issue #21): F6 from the desk, the grid with staff as columns and the current time
marked; Enter on a free slot books it (a refusal offers the next free slot, F6 takes it), F3 moves, F8 cancels with
a reason, F2 — arrived — opens the bill with the booked service and its performer, and the sale is tied to the
booking; F9 the list; a member's screen shows their next bookings and Ctrl+B books for them."""

from __future__ import annotations

import datetime as dt

import pytest
from textual.widgets import DataTable

from mms_tui import clock
from mms_tui.app import create_app
from mms_tui.models import Booking, Commission, ServiceItem
from mms_tui.services.bookings import appointments as ap
from mms_tui.services.members.profile import register_member
from mms_tui.services.staff.admin import add_staff
from mms_tui.settings import Settings
from tests.test_snapshots import settle

MONDAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 9, 40)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(MONDAY, dt.time(hour, minute))


@pytest.fixture
def salon(sqlite_desk):
    ServiceItem.update(duration_minutes=60).where(ServiceItem.code == "HAIR").execute()
    add_staff("t01", "王师傅", by=sqlite_desk.admin, performer=True, services=["HAIR"])
    add_staff("t02", "李师傅", by=sqlite_desk.admin, performer=True, services=["HAIR"])
    sqlite_desk.zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    with clock.pinned(NOW):
        yield sqlite_desk


async def desk_day(pilot) -> None:
    await settle(pilot)
    await pilot.press(*"c01", "enter", *"0000", "enter")
    await settle(pilot)
    await pilot.press("f6")
    await settle(pilot)


def grid(app) -> DataTable:
    return app.screen.query_one("#bookings-grid", DataTable)


async def test_the_grid_marks_now_books_a_free_slot_and_offers_the_next_free_one(salon):
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "b0", start=at(10), staff="t01")
    app = create_app(Settings(db=salon.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await desk_day(pilot)
        table = grid(app)
        assert [str(c.label) for c in table.columns.values()][:3] == ["Time", "王师傅", "李师傅"]
        # the cursor starts on the current time's row (09:30, marked), in the first staff column
        assert table.cursor_coordinate.row == app.screen.grid.now_row
        assert str(table.get_cell_at(table.cursor_coordinate._replace(column=0))).startswith("▶09:30")
        assert "张三" in str(table.get_cell_at(table.cursor_coordinate._replace(row=table.cursor_row + 1)))
        # down to 10:00 under 王师傅 (booked) → Enter offers what to do; Esc; then 10:30 is covered too
        await pilot.press("down", "down", "enter")  # 10:30, still 张三's hour: the menu
        await settle(pilot)
        assert app.screen.__class__.__name__ == "MenuScreen"
        await pilot.press("escape")
        await settle(pilot)
        # 11:00 is free: Enter books it for a walk-in, typed
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "BookDialog"
        assert app.screen.query_one("#book-staff").value == "t01"
        assert app.screen.query_one("#book-start").value == "2026-11-16 11:00"
        app.screen.query_one("#book-guest-name").value = "路人甲"
        app.screen.query_one("#book-guest-phone").value = "13600136000"
        app.screen.query_one("#book-services").value = "HAIR"
        app.screen.query_one("#book-start").value = "2026-11-16 10:30"  # a hurried cashier types a busy time
        await pilot.press("f10")
        await settle(pilot)
        error = str(app.screen.query_one("#dialog-error").render())
        assert "王师傅 is busy from 10:00 to 11:00" in error and "Next free: 11-16 11:00-12:00 王师傅" in error
        assert Booking.select().count() == 1
        await pilot.press("f6", "f10")  # take the next free slot, confirm
        await settle(pilot)
        assert app.screen.__class__.__name__ == "BookingsScreen"
    booked = Booking.get(Booking.guest_name == "路人甲")
    assert (booked.start, booked.staff.code) == (at(11), "t01")


async def test_move_cancel_and_the_list(salon):
    first = ap.book(salon.zhang, ["HAIR"], salon.cashier, "b0", start=at(10), staff="t01").booking_ids[0]
    app = create_app(Settings(db=salon.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await desk_day(pilot)
        await pilot.press("down")  # 10:00 under 王师傅
        await pilot.press("f3")
        await settle(pilot)
        app.screen.query_one("#move-start").value = "2026-11-16 14:00"
        await pilot.press("f10")
        await settle(pilot)
        moved = Booking.get_by_id(first).moved_to_id
        assert Booking.get_by_id(moved).start == at(14)
        # to 14:00 and cancel it: a reason is needed
        table = grid(app)
        table.cursor_coordinate = table.cursor_coordinate._replace(row=app.screen.grid.row_of(at(14)))
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        assert "needs a reason" in str(app.screen.query_one("#dialog-error").render())
        await pilot.press(*"sick", "f10")
        await settle(pilot)
        assert Booking.get_by_id(moved).status == "cancelled"
        await pilot.press("f9")
        await settle(pilot)
        listing = app.screen.query_one("#bookings-list", DataTable)
        assert listing.display and listing.row_count == 2
        assert [str(listing.get_cell_at((r, 4))) for r in range(2)] == ["—cancelled", "—cancelled"]


async def test_arrival_opens_the_bill_with_the_performer_and_ties_the_sale(salon):
    booking = ap.book(salon.zhang, ["HAIR"], salon.cashier, "b0", start=at(10), staff="t02").booking_ids[0]
    app = create_app(Settings(db=salon.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await desk_day(pilot)
        table = grid(app)
        table.cursor_coordinate = table.cursor_coordinate._replace(row=app.screen.grid.row_of(at(10)), column=2)
        await pilot.press("f2")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "CheckoutScreen"
        assert app.screen.performers == {"HAIR": [("t02", 10_000)]}
        assert [line.code for line in app.screen.lines] == ["HAIR"]
        await pilot.press(*"88", "f4")  # cash
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
    b = Booking.get_by_id(booking)
    assert b.status == "arrived" and b.sale_id is not None
    assert [(c.staff.code, c.role) for c in Commission.select()] == [("t02", "lead")]


async def test_the_member_screen_shows_the_next_bookings_and_books_for_them(salon):
    ap.book(salon.zhang, ["HAIR"], salon.cashier, "b0", start=at(10), staff="t01")
    app = create_app(Settings(db=salon.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"c01", "enter", *"0000", "enter")
        await settle(pilot)
        await pilot.press(*"13800138000", "enter")
        await settle(pilot)
        assert "Booked: 11-16 10:00 精剪 王师傅" in str(app.screen.query_one("#member-bookings").render())
        await pilot.press("ctrl+b")
        await settle(pilot)
        app.screen.query_one("#book-services").value = "HAIR"
        app.screen.query_one("#book-staff").value = "t02"
        app.screen.query_one("#book-start").value = "2026-11-17 15:00"
        await pilot.press("f10")
        await settle(pilot)
        assert "Booked 11-17 15:00-16:00 with 李师傅." in str(app.screen.query_one("#outcome").render())
    assert Booking.select().where(Booking.member == salon.zhang).count() == 2


async def test_more_staff_than_fit_slide_sideways(salon):
    """Ten stylists at 80 columns: the grid shows those that fit; → past the last slides the grid by one (the
    title says which), and Enter books the stylist under the cursor."""
    for n in range(3, 11):
        add_staff(f"t{n:02d}", f"师傅{n:02d}", by=salon.admin, performer=True, services=["HAIR"])
    app = create_app(Settings(db=salon.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await desk_day(pilot)
        table = grid(app)
        shown = len(table.columns) - 1
        assert 0 < shown < 10
        assert f"1–{shown}/10 ▶" in str(app.screen.query_one("#bookings-title").render())
        await pilot.press(*["right"] * shown)  # from the first staff column to one past the last shown
        await settle(pilot)
        assert f"2–{shown + 1}/10 ◀▶" in str(app.screen.query_one("#bookings-title").render())
        assert app.screen.slot()[0] == app.screen.grid.columns[shown].code
        await pilot.press(*["left"] * (shown + 1))
        await settle(pilot)
        assert f"1–{shown}/10 ▶" in str(app.screen.query_one("#bookings-title").render())
        assert table.cursor_coordinate.column == 0

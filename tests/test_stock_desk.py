"""进销存 at the desk (issue #22): F8 shows what is low and F3 opens the stock; receiving and counting by scanning,
as a cashier does it at 80×24 — scans from a serial scanner and typed codes, a line's quantity and cost changed,
the count posted with a manager's PIN — and a warning store's sale below zero said at the checkout."""

from __future__ import annotations

from mms_tui.app import create_app
from mms_tui.devices.protocols import Read
from mms_tui.models import StockCount, StockMove, Transaction
from mms_tui.screens.common import Swiped
from mms_tui.services.stock import receiving
from mms_tui.services.stock import settings as stock_settings
from mms_tui.services.stock.common import StockLine
from mms_tui.services.stock.queries import levels
from mms_tui.settings import Settings
from tests.test_snapshots import settle
from tests.test_tui import wait_until


def level(code: str) -> tuple[int, int]:
    row = next((r for r in levels(store="HQ") if r["code"] == code), None)
    return (row["on_hand"], row["value_fen"]) if row else (0, 0)


def app_for(desk):
    return create_app(Settings(db=desk.target, lang="en", wedge_gap_ms=0, lock_minutes=0))


async def stock_screen(pilot) -> None:
    await settle(pilot)
    await pilot.press(*"c01", "enter", *"0000", "enter")
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)


def status(app) -> str:
    return str(app.screen.query_one(".stock-status").render())


async def test_f8_names_what_is_low_and_f3_lists_the_stock_with_the_low_marked(sqlite_desk):
    receiving.receive(sqlite_desk.cashier, [StockLine("WATER", 5, 100), StockLine("SHAMPOO", 30, 2_000)], "rx1")
    stock_settings.set_low(sqlite_desk.manager, "WATER", 10)
    app = app_for(sqlite_desk)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"c01", "enter", *"0000", "enter")
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        assert "Low stock (F3): WATER 5≤10" in str(app.screen.query_one("#today-stock").render())
        await pilot.press("f3")
        await settle(pilot)
        assert type(app.screen).__name__ == "StockScreen"
        table = app.screen.query_one("#stock-table")
        rows = [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [(r[0], r[3], r[6]) for r in rows] == [("SHAMPOO", "30", ""), ("WATER", "5", "low")]
        await pilot.press(*"wat")  # typing narrows the list
        await settle(pilot)
        assert table.row_count == 1
        assert "1 of 2 products · 1 low · value ¥605.00" in status(app)


async def test_receiving_by_scan_adds_units_changes_a_cost_and_takes_them_in_once(sqlite_desk):
    receiving.save_supplier(sqlite_desk.manager, "ACME", name="Acme")
    receiving.receive(sqlite_desk.cashier, [StockLine("WATER", 1, 120)], "rx0")  # its last cost: ¥1.20
    app = app_for(sqlite_desk)
    async with app.run_test(size=(80, 24)) as pilot:
        await stock_screen(pilot)
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert type(screen).__name__ == "ReceiveScreen"
        for _ in range(3):  # three scans on the serial scanner: three units
            app.offer_read(Read("barcode", "6920000000012", "line"))
            await settle(pilot)
        await pilot.press(*"12*SHAMPOO", "enter")
        await settle(pilot)
        await pilot.press(*"NOPE", "enter")
        await settle(pilot)
        assert "No product has the code or barcode NOPE" in status(app)
        assert [(x.code, x.qty, x.cost_fen) for x in screen.lines] == [("WATER", 3, 120), ("SHAMPOO", 12, 0)]
        # the shampoo's cost: F4 on its line
        screen.query_one("#receive-lines").move_cursor(row=1)
        await pilot.press("f4")
        await settle(pilot)
        assert type(app.screen).__name__ == "StockLineDialog"
        app.screen.query_one("#line-cost").value = "25.5"
        await pilot.press("f10")
        await settle(pilot)
        assert screen.lines[1].cost_fen == 2_550
        # the supplier (F3) and the delivery note
        await pilot.press("f3", *"ACME", "enter", *"DN-9", "enter")
        # a code typed but not entered: F10 says so and saves nothing
        await pilot.press(*"TOWEL", "f10")
        await settle(pilot)
        assert "typed but not entered" in status(app) and level("WATER") == (1, 120)
        screen.query_one("#scan").value = ""
        await pilot.press("f10", "f10")  # a hurried double F10
        await settle(pilot)
        assert "Received 15 units worth ¥309.60" in status(app)
        assert screen.lines == []
    assert level("WATER") == (4, 480) and level("SHAMPOO") == (12, 30_600)
    receipts = list(Transaction.select().where(Transaction.kind == "stock_receipt"))
    assert len(receipts) == 2 and receipts[1].note == "DN-9"
    assert StockMove.select().where(StockMove.supplier.is_null(False)).count() == 2


async def test_counting_by_scan_saves_each_scan_and_posts_with_a_managers_pin(sqlite_desk):
    receiving.receive(sqlite_desk.cashier, [StockLine("WATER", 10, 100), StockLine("SHAMPOO", 4, 2_000)], "rx1")
    app = app_for(sqlite_desk)
    async with app.run_test(size=(80, 24)) as pilot:
        await stock_screen(pilot)
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        assert type(screen).__name__ == "CountScreen"
        for _ in range(8):
            app.offer_read(Read("barcode", "6920000000012", "line"))
            await settle(pilot)
        assert await wait_until(pilot, lambda: screen.sheet is not None and screen.sheet.counted == 1)
        # each scan is on the sheet already: a desk that closes now loses nothing
        count = StockCount.get()
        assert [(x.product.code, x.counted) for x in count.lines] == [("WATER", 8)]
        # F4 sets the shampoo's count with a reason
        codes = [x.code for x in screen.sheet.lines]
        screen.query_one("#count-lines").move_cursor(row=codes.index("SHAMPOO"))
        await pilot.press("f4")
        await settle(pilot)
        app.screen.query_one("#line-qty").value = "3"
        app.screen.query_one("#line-reason").value = "破损"
        await pilot.press("f10")
        await settle(pilot)
        assert await wait_until(pilot, lambda: screen.sheet.counted == 2)
        await pilot.press("f10")  # post: a question first
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("f10")
        await settle(pilot)
        assert type(app.screen).__name__ == "ManagerPinScreen"  # a cashier counted: a manager approves
        await pilot.press(*"m01", "enter", *"2345", "enter")
        await settle(pilot)
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "StockScreen")
    assert level("WATER") == (8, 800) and level("SHAMPOO") == (3, 6_000)
    count = StockCount.get()
    assert (count.status, count.approved_by.code) == ("posted", "m01")
    assert StockMove.get((StockMove.kind == "count") & (StockMove.qty == -1)).reason == "破损"


async def test_a_warning_store_sale_below_zero_is_said_at_the_checkout(regular):
    receiving.receive(regular.cashier, [StockLine("WATER", 1, 100)], "rx1")
    stock_settings.set_policy(regular.manager, "warn")
    app = app_for(regular)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"c01", "enter", *"0000", "enter")
        await settle(pilot)
        await pilot.press(*"13800138000", "enter")
        await settle(pilot)
        await pilot.press("f3")  # checkout
        await settle(pilot)
        await pilot.press(*"2*WATER", "enter")
        await settle(pilot)
        await pilot.press("enter", *"6", "f4")  # ¥6 cash
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        assert await wait_until(pilot, lambda: any("WATER is below zero in stock: -1 on hand."
                                                   in str(n.message) for n in app._notifications))
    assert level("WATER") == (-1, 0)


async def test_a_serial_scan_on_the_stock_screens_never_opens_a_member(regular):
    receiving.receive(regular.cashier, [StockLine("WATER", 1, 100)], "rx1")
    app = app_for(regular)
    async with app.run_test(size=(80, 24)) as pilot:
        await stock_screen(pilot)
        app.screen.post_message(Swiped(Read("barcode", "6920000000012", "line")))
        await settle(pilot)
        assert type(app.screen).__name__ == "StockScreen"
        assert app.screen.query_one("#stock-filter").value == "6920000000012"

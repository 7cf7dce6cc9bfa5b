"""The minimal desk, driven by keys through Textual's Pilot against a real SQLite file."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from textual.widgets import DataTable, Input, Label, Select, Static

from mms_tui.app import create_app
from mms_tui.db import write_transaction
from mms_tui.models import AuditEvent, Card, Member, Sale, Transaction, Visit
from mms_tui.screens.checkout import CheckoutScreen
from mms_tui.screens.lock import LockScreen
from mms_tui.screens.member import MemberScreen
from mms_tui.screens.pin import ManagerPinScreen
from mms_tui.screens.register import MemberFormScreen
from mms_tui.screens.today import TodayScreen
from mms_tui.services.base.config import set_config
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.settings import Settings


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def login(pilot, code: str = "c01", pin: str = "0000") -> None:
    await pilot.press(*code, "enter")
    await pilot.pause()
    await pilot.press(*pin, "enter")
    await settle(pilot)
    await settle(pilot)


@asynccontextmanager
async def at_desk(desk, **settings):
    """The real app on the desk's database, logged in as the cashier, at 80×24.

    Pilot presses keys faster than anyone types, and a keyboard-wedge reader is recognised by exactly that, so
    the wedge detection is off here unless a test turns it on (``wedge_gap_ms=30``, the default of the product):
    tests/test_desk_keys.py does, with a reader's burst and with a person's typing."""
    settings.setdefault("wedge_gap_ms", 0)
    app = create_app(Settings(db=desk.target, **settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await login(pilot)
        yield app, pilot


def text(widget) -> str:
    return str(widget.render())


async def test_demo_login_hint_wrong_pin_then_login(sqlite_desk):
    with write_transaction():
        set_config("demo_login", {"code": "admin", "pin": "1234"})
    app = create_app(Settings(db=sqlite_desk.target))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "admin" in text(app.screen.query_one("#demo-hint", Label))
        await login(pilot, "c01", "9999")
        assert "Wrong staff code or PIN" in text(app.screen.query_one("#pin-message", Label))
        assert app.staff is None
        await pilot.press(*"0000", "enter")
        await settle(pilot)
        await settle(pilot)
        assert app.staff is not None and app.staff.code == "c01"
        assert app.screen.focused is app.screen.query_one("#search", Input)


async def test_search_by_card_opens_member_and_by_initials_lists(sqlite_desk):
    zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    register_member("周山", "13912345678", sqlite_desk.cashier, "r2")
    issue_card(zhang, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press(*"00012345", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        assert "张三" in text(app.screen.query_one("#member-title", Static))
        assert app.screen.query_one("#cards", DataTable).get_row_at(0)[0] == "00012345"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press(*"zs", "enter")
        await settle(pilot)
        table = app.screen.query_one("#results", DataTable)
        assert table.row_count == 2
        await pilot.press("down", "enter")
        await settle(pilot)
        assert "周山" in text(app.screen.query_one("#member-title", Static))


async def test_back_from_a_member_picked_from_a_list_typing_goes_to_the_search(sqlite_desk):
    register_member("张三", "13800138000", sqlite_desk.cashier, "r1")
    register_member("周山", "13912345678", sqlite_desk.cashier, "r2")
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press(*"zs", "enter")
        await settle(pilot)
        await pilot.press("enter")  # the first of the list
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press(*"138")  # not into the old list, where Enter would open 张三 again
        search = app.screen.query_one("#search", Input)
        assert app.screen.focused is search and search.value == "138"


async def open_member(pilot, query: str) -> MemberScreen:
    await pilot.press(*query, "enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MemberScreen)
    return pilot.app.screen


async def refund_dialog_of(pilot, card_no: str, chosen):
    """From the desk: the member of ``card_no``, the history (F5), the first row ``chosen`` picks (a predicate on
    HistoryRow), F8. Returns the history screen and the refund dialog over it."""
    from mms_tui.screens.history import RefundScreen

    await open_member(pilot, card_no)
    await pilot.press("f5")
    await settle(pilot)
    history = pilot.app.screen
    history.query_one("#history", DataTable).move_cursor(row=next(i for i, r in enumerate(history.rows) if chosen(r)))
    await pilot.press("f8")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RefundScreen)
    return history, pilot.app.screen


async def test_swipe_then_one_key_check_in(regular):
    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00077777")
        await pilot.press("f2")
        await settle(pilot)
        assert "9" in text(app.screen.query_one("#outcome", Static))
    assert Card.get(Card.card_no == "00077777").visits_left == 9
    assert Visit.select().count() == 1


async def test_top_up_with_rule_bonus_and_double_confirm_charges_once(regular):
    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press(*"1000")
        await settle(pilot)
        assert app.screen.query_one("#bonus", Input).value == "200"  # 充1000送200
        assert app.screen.query_one("#bonus", Input).disabled  # a cashier cannot change the bonus
        await pilot.press("f10", "f10")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        assert "¥1,000.00" in text(app.screen.query_one("#outcome", Static))
    card = Card.get(Card.card_no == "00012345")
    assert (card.principal_fen, card.bonus_fen) == (110_000, 20_000)
    assert Transaction.select().where(Transaction.kind == "topup").count() == 2  # the fixture's and this one


async def test_refund_needs_manager_pin_for_a_cashier(regular):
    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f5")
        await settle(pilot)
        history = app.screen
        rows = history.rows
        top_up_row = next(i for i, r in enumerate(rows) if r.kind == "topup")
        history.query_one("#history", DataTable).move_cursor(row=top_up_row)
        await pilot.press("f8")
        await settle(pilot)
        dialog = app.screen
        assert "¥100.00" in text(dialog.query_one("#refund-terms", Static))  # what goes back, before anything
        await pilot.press("f10")  # no reason yet
        await pilot.pause()
        assert "reason" in text(dialog.query_one("#dialog-error", Label))
        await pilot.press(*"wrong card", "f10")
        await pilot.pause()
        assert isinstance(app.screen, ManagerPinScreen)
        await pilot.press(*"c01", "enter")  # a cashier cannot approve
        await pilot.pause()
        await pilot.press(*"0000", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ManagerPinScreen)
        assert "may not" in text(app.screen.query_one("#pin-message", Label))
        assert Transaction.select().where(Transaction.kind == "refund").count() == 0
        code = app.screen.query_one("#staff-code", Input)
        code.value = "m01"
        code.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"2345", "enter")
        await settle(pilot)
        await settle(pilot)
        assert app.screen is history
        assert "Refunded" in text(history.query_one("#history-status", Static))
    refund_tx = Transaction.get(Transaction.kind == "refund")
    assert (refund_tx.staff.code, refund_tx.note) == ("c01", "wrong card")  # the cashier's drawer pays it out
    assert '"approved_by": "m01"' in AuditEvent.get(AuditEvent.txid == refund_tx.txid).payload
    assert Card.get(Card.card_no == "00012345").principal_fen == 0


async def test_checkout_split_tender_with_change_and_double_confirm_is_one_sale(regular):
    async with at_desk(regular) as (app, pilot):
        member = await open_member(pilot, "00012345")
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CheckoutScreen)
        await pilot.press(*"HAIR", "enter")
        await settle(pilot)
        await pilot.press(*"2*6920000000012", "enter")  # two waters by barcode
        await settle(pilot)
        assert screen.priced.total_fen == 9_400
        await pilot.press("enter")  # empty code box: on to the amount
        await pilot.press(*"50", "f2")  # ¥50 from stored value
        await pilot.press(*"50", "f4")  # ¥50 cash → ¥6 change
        await pilot.pause()
        assert "change ¥6.00" in text(screen.query_one("#totals", Static))
        screen.action_confirm()  # a double confirm, faster than any worker
        screen.action_confirm()
        await settle(pilot)
        assert screen.result is not None and screen.result.change_fen == 600
        assert "Total" in text(screen.query_one("#receipt", Static))
        await pilot.press("f10")  # a second F10 leaves the receipt where it is
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("escape")  # closes it
        await settle(pilot)
        assert app.screen is member
        assert "Sale ¥94.00" in text(member.query_one("#outcome", Static))
    assert Sale.select().count() == 1
    card = Card.get(Card.card_no == "00012345")
    assert card.principal_fen == 5_000


async def test_checkout_refusal_keeps_the_screen_and_charges_nothing(regular):
    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        await pilot.press(*"SPA", "enter")  # ¥498 > ¥100 on the card
        await settle(pilot)
        await pilot.press("f2", "f10")
        await settle(pilot)
        assert "Not enough stored value" in text(screen.query_one("#checkout-message", Label))
        assert app.screen is screen and screen.result is None
    assert Sale.select().count() == 0


async def test_nothing_found_then_register_with_typed_phone_and_first_card(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press(*"13600136000", "enter")
        await settle(pilot)
        assert "F3" in text(app.screen.query_one("#status", Label))
        await pilot.press("f3")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MemberFormScreen)
        assert form.query_one("#phone", Input).value == "13600136000"
        await pilot.press(*"王小明")
        form.query_one("#birthday", Input).value = "1990-13-01"  # no such month
        form.query_one("#card-type", Select).value = "V10"
        form.query_one("#card-no", Input).value = "0099"
        await pilot.press("f10")
        await settle(pilot)
        assert "Birthday" in text(form.query_one("#dialog-error", Label))
        assert Member.select().count() == 0
        form.query_one("#birthday", Input).value = "1990-12-01"
        await pilot.press("f10")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        assert "王小明" in text(app.screen.query_one("#member-title", Static))
    member = Member.get(Member.phone == "13600136000")
    assert (member.name, member.name_initials) == ("王小明", "wxm")
    assert Card.get(Card.card_no == "0099").visits_left == 10


async def test_freeze_and_unfreeze_a_package_from_the_member_screen(regular):
    async with at_desk(regular) as (_app, pilot):
        screen = await open_member(pilot, "00077777")
        await pilot.press("f8")  # asks first
        await pilot.pause()
        assert Card.get(Card.card_no == "00077777").status == "active"
        await pilot.press("f10")
        await settle(pilot)
        assert Card.get(Card.card_no == "00077777").status == "frozen"
        await pilot.press("f2")  # a frozen package refuses the check-in, saying why
        await settle(pilot)
        assert "frozen" in text(screen.query_one("#outcome", Static))
        await pilot.press("f8", "f10")
        await settle(pilot)
    assert Card.get(Card.card_no == "00077777").status == "active"
    assert Visit.select().count() == 0


async def test_lost_card_replaced_from_the_member_screen(regular):
    async with at_desk(regular) as (app, pilot):
        screen = await open_member(pilot, "00012345")
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert "¥100.00" in " ".join(text(label) for label in app.screen.query(Label))  # what moves, in money
        await pilot.press(*"NEW0001", "f10")
        await settle(pilot)
        await settle(pilot)
        assert "NEW0001" in text(screen.query_one("#outcome", Static))
    old, new = Card.get(Card.card_no == "00012345"), Card.get(Card.card_no == "NEW0001")
    assert (old.status, old.principal_fen, new.principal_fen) == ("lost", 0, 10_000)


async def test_today_from_the_command_palette(regular):
    check_in(Card.get(Card.card_no == "00077777").id, regular.cashier, "c1")
    async with at_desk(regular) as (app, pilot):
        assert "张三" in text(app.screen.query_one("#recent-checkins", Static))
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Today")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, TodayScreen)
        table = app.screen.query_one("#today-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ["Top-ups", "1", "¥100.00"] in [row[:3] for row in rows]
        assert ["Check-ins", "1", ""] in [row[:3] for row in rows]


async def test_idle_desk_locks_and_asks_for_the_pin(regular):
    async with at_desk(regular, lock_minutes=10) as (app, pilot):
        app.last_activity -= 11 * 60  # eleven minutes without a key
        app.lock_if_idle()
        await pilot.pause()
        assert isinstance(app.screen, LockScreen)
        await pilot.press(*"9999", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        await pilot.press(*"0000", "enter")
        await settle(pilot)
        await settle(pilot)
        assert not isinstance(app.screen, LockScreen)
        assert app.screen.focused is app.screen.query_one("#search", Input)


async def test_last_four_digits_then_a_refused_action_is_a_notification_not_a_crash(regular):
    register_member("李四", "13912348000", regular.cashier, "r9")  # two members end in 8000
    async with at_desk(regular) as (app, pilot):
        await pilot.press(*"8000", "enter")
        await settle(pilot)
        table = app.screen.query_one("#results", DataTable)
        assert table.row_count == 2
        await pilot.press("enter")  # the first: 张三
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MemberScreen)
        screen.query_one("#cards", DataTable).move_cursor(row=0)  # the stored-value card cannot be frozen
        await pilot.press("f8", "f10")
        await settle(pilot)
        assert app.is_running and app.screen is screen
        messages = [str(n.message) for n in app._notifications]
        assert any("frozen" in m for m in messages), messages


async def wait_until(pilot, predicate, timeout: float = 5.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()


async def test_swipe_on_a_reader_opens_the_member_and_a_scan_adds_to_the_bill(regular, tmp_path):
    from mms_tui.devices.protocols import em4100_decimal, rdm6300_frame
    from mms_tui.screens.cards import IssueCardScreen
    from mms_tui.screens.confirm import ConfirmScreen, UnknownCardScreen
    from mms_tui.services.members.cards import issue_card as issue
    from tests.test_devices import Pty

    zhang = Member.get(Member.phone == "13800138000").id
    issue(zhang, "PT", regular.cashier, "i-rfid", reader_uid="0455884110")  # the EM4100 tag 0A1B2C3D4E
    reader_pty, scanner_pty = Pty(tmp_path / "reader"), Pty(tmp_path / "scanner")
    try:
        async with at_desk(regular, card_reader=str(tmp_path / "reader"), reader_protocol="rdm6300",
                           scanner=str(tmp_path / "scanner")) as (app, pilot):
            assert await wait_until(pilot, lambda: all(r.state == "connected" for r in app.readers))
            assert "●" in app.sub_title
            reader_pty.write(rdm6300_frame("0A1B2C3D4E"))
            assert await wait_until(pilot, lambda: isinstance(app.screen, MemberScreen))
            # the swipe's worker read the panel too: the screen shows it as it opens, with no second read (on a busy
            # machine the screen may take a moment to show it)
            assert await wait_until(pilot, lambda: app.screen.view is not None)
            assert app.screen.preloaded is not None and app.screen.view is app.screen.preloaded
            await settle(pilot)
            assert "张三" in text(app.screen.query_one("#member-title", Static))
            await pilot.press("f3")
            await pilot.pause()
            checkout_screen = app.screen
            assert isinstance(checkout_screen, CheckoutScreen)
            scanner_pty.write(b"]E06901234567892\r\n")  # 洗发水 by its EAN-13
            assert await wait_until(pilot, lambda: checkout_screen.priced is not None)
            assert [line.code for line in checkout_screen.priced.lines] == ["SHAMPOO"]
            other = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
            issue(other, "PT", regular.cashier, "i-li", reader_uid=em4100_decimal("01DEADBEEF"))
            reader_pty.write(rdm6300_frame("01DEADBEEF"))  # another member's card mid-sale: ask first
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await pilot.pause()
            assert app.screen is checkout_screen
            await pilot.pause(1.0)  # past the hold gap: a new presentation
            reader_pty.write(rdm6300_frame("01DEADBEEF"))
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(app.screen, MemberScreen) and app.screen.member_id == other
            await pilot.pause(1.0)
            reader_pty.write(rdm6300_frame("0B0B0B0B0B"))  # nobody's card: offer to issue it to 李四
            assert await wait_until(pilot, lambda: isinstance(app.screen, UnknownCardScreen))
            await pilot.press("i")
            await pilot.pause()
            assert isinstance(app.screen, IssueCardScreen)
            assert app.screen.query_one("#issue-no", Input).value == "0B0B0B0B0B"  # the whole tag, canonical
            reader_pty.write(b"\x02NOT A FRAME!\x03")
            assert await wait_until(pilot, lambda: app.readers[0].parser.errors > 0)
            await pilot.press("escape", "escape")
            await pilot.pause()
            app.push_screen(TodayScreen())
            await settle(pilot)
            devices = text(app.screen.query_one("#today-devices", Static))
            assert "connected" in devices and "frame errors" in devices and "last error" in devices
    finally:
        reader_pty.close()
        scanner_pty.close()


async def test_staff_card_fills_the_login_code(sqlite_desk, tmp_path):
    from tests.test_devices import Pty

    reader_pty = Pty(tmp_path / "reader")
    app = create_app(Settings(db=sqlite_desk.target, card_reader=str(tmp_path / "reader"), reader_protocol="line"))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert await wait_until(pilot, lambda: app.readers and app.readers[0].state == "connected")
            reader_pty.write(b"STAFF001\r\n")
            assert await wait_until(pilot, lambda: app.screen.query_one("#staff-code", Input).value == "c01")
            await pilot.press(*"0000", "enter")
            assert await wait_until(pilot, lambda: app.staff is not None)
    finally:
        reader_pty.close()


def pty_reader(master: int):
    """What a pty's printer side has received so far, read without waiting (the master made non-blocking)."""
    os.set_blocking(master, False)

    def printed() -> bytes:
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                return out
            if not chunk:
                return out
            out += chunk

    return printed


async def collect(pilot, read, timeout: float = 3.0) -> bytes:
    """What the printer received, once it starts arriving and then goes quiet."""
    out = b""
    for _ in range(int(timeout / 0.05)):
        chunk = read()
        out += chunk
        if out and not chunk:
            return out
        await pilot.pause(0.05)
    return out


async def test_cash_sale_prints_with_drawer_kick_and_history_reprints_without(regular, tmp_path):

    master, slave = os.openpty()
    printer = os.ttyname(slave)
    printed = pty_reader(master)

    try:
        async with at_desk(regular, printer=printer) as (app, pilot):
            await open_member(pilot, "00012345")
            await pilot.press("f3")
            await pilot.pause()
            await pilot.press(*"WATER", "enter")
            await settle(pilot)
            await pilot.press("enter", *"10", "f4", "f10")
            await settle(pilot)
            await settle(pilot)
            first = await collect(pilot, printed)
            assert "矿泉水".encode("gb18030") in first
            assert b"\x1bp\x00" in first  # the drawer opens for cash
            await pilot.press("escape")  # close the receipt
            await settle(pilot)
            await pilot.press("f5")
            await settle(pilot)
            await pilot.press("f6")  # the newest row is the sale
            await settle(pilot)
            await settle(pilot)
            assert "Total" in text(app.screen.query_one("#history-status", Static))
            second = await collect(pilot, printed)
            assert "矿泉水".encode("gb18030") in second
            assert b"\x1bp\x00" not in second  # a reprint does not open the drawer
    finally:
        os.close(master)
        os.close(slave)

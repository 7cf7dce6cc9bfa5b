"""The keystrokes a hurried cashier really makes (#14): each defect seen at 80×24, as a Pilot test on a real file."""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable, Input, Label, Static

from mms_tui.app import create_app
from mms_tui.db import write_transaction
from mms_tui.i18n import set_language
from mms_tui.models import AuditEvent, Card, Sale, Staff, Transaction, Visit
from mms_tui.screens.desk import DeskScreen
from mms_tui.screens.dialog import ConfirmScreen
from mms_tui.screens.login import LoginScreen
from mms_tui.screens.member import MemberScreen
from mms_tui.screens.pin import ManagerPinScreen
from mms_tui.services.base.config import set_config
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.settings import Settings
from tests.test_tui import at_desk, login, open_member, settle, text


def visits() -> int:
    return Visit.select().count()


async def wedge(pilot, text: str) -> None:
    """A keyboard-wedge reader: the characters and Enter arrive together, as the reader types them."""
    app = pilot.app
    for key, char in [*((ch, ch) for ch in text), ("enter", "\r")]:
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await settle(pilot)
    await settle(pilot)


# --- 1. one intent, one posting --------------------------------------------------------------------------------


async def test_a_double_check_in_key_takes_one_visit(regular):
    async with at_desk(regular) as (app, pilot):
        screen = await open_member(pilot, "00077777")
        await pilot.press("f2", "f2")  # a double press, faster than the first finishes
        await settle(pilot)
        await pilot.pause(0.4)
        await pilot.press("f2")  # and once more with the result on screen: that result
        await settle(pilot)
        assert "9 visits left" in text(screen.query_one("#outcome", Static))
        await pilot.press("c", "c")  # letters no longer check anyone in: they start a search
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
    assert visits() == 1 and Card.get(Card.card_no == "00077777").visits_left == 9


async def test_a_pass_checked_in_again_the_same_day_asks_first_and_esc_leaves_it(regular):
    issue_card(Card.get(Card.card_no == "00012345").member_id, "M1", regular.cashier, "i-m1", card_no="00088888")
    async with at_desk(regular) as (app, pilot):
        screen = await open_member(pilot, "00088888")
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        screen = await open_member(pilot, "00088888")  # the same member a minute later
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "already checked in" in " ".join(text(label) for label in app.screen.query(Label))
        await pilot.press("enter")  # a hurried Enter confirms nothing
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and "Not checked in again" in text(screen.query_one("#outcome", Static))
        assert visits() == 1
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f10")  # asked for on purpose
        await settle(pilot)
    assert visits() == 2


# --- 2. typing never acts on the open member -----------------------------------------------------------------------


async def test_typing_another_members_phone_on_a_member_screen_opens_that_member(regular):
    register_member("李四", "13912345678", regular.cashier, "r-li")
    async with at_desk(regular, wedge_gap_ms=30) as (app, pilot):
        await open_member(pilot, "00077777")
        for ch in "13912345678":  # typed by a person, key by key, with the wedge detection on
            await pilot.press(ch)
            await pilot.pause(0.1)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen) and "李四" in text(app.screen.query_one("#member-title", Static))
        for ch in "hfe":  # letters of a name: a search, not History, Freeze, Edit of 李四
            await pilot.press(ch)
            await pilot.pause(0.1)
        assert isinstance(app.screen, DeskScreen) and app.screen.query_one("#search", Input).value == "hfe"
    assert visits() == 0 and Card.get(Card.card_no == "00077777").status == "active"


async def test_keys_typed_while_the_desk_was_busy_are_typing_not_a_reader(regular):
    """A person's keys that waited in the queue while the desk was busy (importing its screens after the login was
    drawn, a slow frame) reach it back to back: told by when they were typed, they stay typing, not a card read —
    and a reader's burst, however late it is handled, is still a read."""
    async with at_desk(regular, wedge_gap_ms=30) as (app, pilot):
        offered = []
        app.offer_read = offered.append

        async def deliver(gap: float) -> None:
            at = events.Key("a", "a").time
            for n, (key, char) in enumerate([*((ch, ch) for ch in "0011223344"), ("enter", "\r")]):
                event = events.Key(key, char)
                event.time = at + gap * n
                await app.hold_for_wedge(event)
            await app.release_keys()

        await deliver(0.12)  # a person: 120 ms a key, all handled now at once
        assert offered == []
        await deliver(0.002)  # a reader: 2 ms a key
        assert [r.value for r in offered] == ["0011223344"]
        await settle(pilot)


async def test_a_keyboard_wedge_reader_opens_its_member_from_any_screen_and_checks_in_nobody(regular):
    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    issue_card(li, "V10", regular.cashier, "i-li", card_no="0011223344")
    async with at_desk(regular, wedge_gap_ms=30) as (app, pilot):
        await open_member(pilot, "00077777")
        await wedge(pilot, "0011223344")  # a wedge reader types the card and Enter in milliseconds
        assert isinstance(app.screen, MemberScreen) and app.screen.member_id == li
        from mms_tui.screens.today import TodayScreen

        app.push_screen(TodayScreen())
        await settle(pilot)
        await wedge(pilot, "00077777")  # on the Today screen too: the member opens
        assert isinstance(app.screen, MemberScreen) and "张三" in text(app.screen.query_one("#member-title", Static))
        await wedge(pilot, "13800138000")  # a fast burst that is no card: searched for, never dropped
        assert isinstance(app.screen, MemberScreen) and "张三" in text(app.screen.query_one("#member-title", Static))
        app.pop_screen()
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen) and app.screen.query_one("#search", Input).value == ""
    assert visits() == 0


async def test_a_wedge_burst_on_a_dialog_never_opens_a_member_over_it(regular):
    async with at_desk(regular, wedge_gap_ms=30) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f4")
        await pilot.pause()
        dialog = app.screen
        await wedge(pilot, "00077777")
        assert app.screen is dialog and dialog.query_one("#amount", Input).value == ""
        assert any("dialog" in str(n.message) for n in app._notifications)


# --- 3. destructive actions confirm, in money terms --------------------------------------------------------------


async def test_freeze_and_lost_ask_first_and_esc_changes_nothing(regular):
    async with at_desk(regular) as (app, pilot):
        screen = await open_member(pilot, "00012345")
        screen.query_one("#cards", DataTable).move_cursor(row=0)
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "¥100.00" in " ".join(text(label) for label in app.screen.query(Label))
        await pilot.press("enter", "escape")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert "¥100.00" in " ".join(text(label) for label in app.screen.query(Label))
        await pilot.press("escape")
        await settle(pilot)
    assert Card.get(Card.card_no == "00012345").status == "active"
    assert Transaction.select().where(Transaction.kind.in_(("freeze", "lost"))).count() == 0


async def test_a_lost_cards_swipe_warns_before_anything_else(regular):
    from mms_tui.services.members.cards import report_lost

    report_lost("00077777", regular.cashier, "lost-1")
    async with at_desk(regular) as (app, pilot):
        await pilot.press(*"00077777", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "lost" in " ".join(text(label) for label in app.screen.query(Label))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)


async def test_a_top_up_refund_names_where_the_money_goes_and_keeps_the_reason(regular):
    async with at_desk(regular) as (app, pilot):
        app.staff = regular.manager
        await open_member(pilot, "00012345")
        await pilot.press("f5")
        await settle(pilot)
        history = app.screen
        history.query_one("#history", DataTable).move_cursor(
            row=next(i for i, r in enumerate(history.rows) if r.kind == "topup"))
        await pilot.press("f8")
        await settle(pilot)
        dialog = app.screen
        assert "Cash ¥100.00" in text(dialog.query_one("#refund-terms", Static))
        dialog.query_one("#refund-tender").value = "wechat"
        dialog.query_one("#refund-reason", Input).focus()
        await pilot.press(*"typed 1000 not 100", "f10", "f10")
        await settle(pilot)
        await settle(pilot)
        assert app.screen is history and "WeChat ¥100.00" in text(history.query_one("#history-status", Static))
    refund = Transaction.get(Transaction.kind == "refund")
    assert refund.note == "typed 1000 not 100"
    assert '"to_tender": "wechat"' in AuditEvent.get(AuditEvent.txid == refund.txid).payload


# --- 4. checkout keeps what was typed ------------------------------------------------------------------------------


async def test_an_amount_typed_after_tab_is_applied_not_lost(regular):
    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        await pilot.press(*"HAIR", "enter")
        await settle(pilot)
        await pilot.press("tab", "5", "0", "f2")  # ¥50 of the ¥88 from stored value, typed after a Tab
        await pilot.pause()
        assert [(t.tender, t.amount_fen) for t in screen.tenders] == [("stored_value", 5_000)]
        await pilot.press(*"HAIR")  # typed in the item box and not entered: paying says so
        screen.query_one("#code", Input).value = "HAIR"
        await pilot.press("f4")
        await pilot.pause()
        assert "Enter adds it" in text(screen.query_one("#checkout-message", Label))
        assert len(screen.tenders) == 1


async def test_esc_with_a_cart_asks_and_the_receipt_stays_until_esc(regular):
    async with at_desk(regular) as (app, pilot):
        member = await open_member(pilot, "00012345")
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        await pilot.press(*"WATER", "enter")
        await settle(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # the cart is not thrown away without a word
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and len(screen.lines) == 1
        await pilot.press("enter", *"3", "f4", "f10")
        await settle(pilot)
        await pilot.press("f10", "f10")  # hurried: the receipt stays
        await settle(pilot)
        assert app.screen is screen and screen.query_one("#receipt", Static).display
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is member
    assert Sale.select().count() == 1


# --- 5. PINs ------------------------------------------------------------------------------------------------------


async def test_keys_typed_during_a_wrong_pin_wait_go_nowhere_and_the_wait_outlives_the_screen(sqlite_desk):
    with write_transaction():
        set_config("pin_throttle", {"waits": [30], "lock_after": 5, "lock_minutes": 5})
    app = create_app(Settings(db=sqlite_desk.target))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await login(pilot, "c01", "9999")
        code = app.screen.query_one("#staff-code", Input)
        assert code.value == "c01" and code.disabled
        assert "30 s" in text(app.screen.query_one("#pin-wait", Label))
        await pilot.press(*"0000", "enter")  # the right PIN, typed during the wait
        await settle(pilot)
        assert code.value == "c01" and app.staff is None
        app.switch_screen(LoginScreen())  # a new login screen: the wait is in the database, not the screen
        await settle(pilot)
        await login(pilot, "c01", "0000")
        assert app.staff is None
        assert "wait" in text(app.screen.query_one("#pin-message", Label)).lower()
    assert Staff.get(Staff.code == "c01").failed_logins == 1


async def test_manager_approval_is_throttled_and_locked_like_the_login(regular):
    with write_transaction():
        set_config("pin_throttle", {"waits": [0], "lock_after": 2, "lock_minutes": 5})
    async with at_desk(regular) as (app, pilot):
        app.push_screen(ManagerPinScreen("Refund"))
        await pilot.pause()
        await pilot.press(*"m01", "enter", *"1111", "enter")
        await settle(pilot)
        assert "Wrong" in text(app.screen.query_one("#pin-message", Label))
        await pilot.press(*"2222", "enter")  # the PIN box has the keyboard again
        await settle(pilot)
        assert "locked" in text(app.screen.query_one("#pin-message", Label))
    assert Staff.get(Staff.code == "m01").locked_until is not None


# --- 7. one language ----------------------------------------------------------------------------------------------


async def test_english_checkout_names_tenders_in_english_and_chinese_in_chinese(regular):
    for lang, words, foreign in (("en", ("Stored value", "WeChat", "Confirm"), ("储值", "微信")),
                                 ("zh", ("储值", "微信", "确认"), ("Stored", "Cash", "Points", "palette"))):
        async with at_desk(regular, lang=lang) as (app, pilot):
            await open_member(pilot, "00012345")
            await pilot.press("f3")
            await pilot.pause()
            shown = " ".join(str(w.render()) for w in app.screen.query("FooterKey, #pay-keys"))
            assert all(w in shown for w in words), shown
            assert not any(w in shown for w in foreign), shown
            assert "palette" not in " ".join(c.title for c in app.get_system_commands(app.screen))
    set_language("en")


async def test_footer_labels_follow_the_language_chosen_after_import(regular):
    """DeskScreen was imported under English long ago; the desk opened in Chinese speaks Chinese."""
    async with at_desk(regular, lang="zh") as (app, _pilot):
        labels = [str(k.render()) for k in app.screen.query("FooterKey")]
        assert any("今日" in label for label in labels) and not any("Today" in label for label in labels)
    set_language("en")


# --- 8. the day's drawer -----------------------------------------------------------------------------------------


async def test_today_nets_refunded_top_ups_and_shows_card_sales_refunds_and_each_staff(regular):
    from mms_tui.screens.today import TodayScreen
    from mms_tui.services.money.refund import refund

    refund("t1", regular.manager, "wrong card", "rf-t1")  # the fixture's ¥100 top-up, refunded
    async with at_desk(regular) as (app, pilot):
        app.push_screen(TodayScreen())
        await settle(pilot)
        table = app.screen.query_one("#today-table", DataTable)
        rows = {table.get_row_at(i)[0]: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["Top-ups"][1:3] == ["0", "¥0.00"]  # refunded: not counted
        assert rows["All refunds paid"][1:3] == ["1", "−¥100.00"]
        assert rows["Card sales"][1:3] == ["2", "¥500.00"]  # the 10次卡 for ¥500 (and the free stored-value card)
        shifts = app.screen.query_one("#today-shifts", DataTable)
        assert shifts.row_count >= 1 and "c01" in shifts.get_row_at(0)[0]



# --- 6. names fit, never cut mid-word -----------------------------------------------------------------------------


async def test_a_long_item_name_is_cut_with_an_ellipsis_not_mid_word(regular):
    from mms_tui.models import Product
    from mms_tui.services.money.checkout import checkout

    Product.create(code="S500", name="洗发水 500ml", category="零售", price_fen=6_800)
    zhang = Card.get(Card.card_no == "00012345").member_id
    checkout(zhang, ["HAIR", "S500"], [("cash", 15_600)], regular.cashier, "s-500")
    async with at_desk(regular, lang="zh") as (_app, pilot):
        screen = await open_member(pilot, "00012345")
        sales = text(screen.query_one("#recent-sales", Static))
        assert "500m" not in sales.replace("500ml", "") and "…" in sales  # was "精剪, 洗发水 500m"
    set_language("en")

"""The manager's area at the desk (issue #17): F10, a manager's code and PIN asked of a cashier, a list per kind
filtered by typing, add and edit forms that show the service's refusal naming the field and write nothing, disable
after a yes/no question. Driven by keys against a real SQLite file; every assertion is on the screen or the
database."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Label, Select

from mms_tui.models import AuditEvent, CardType, Product, Staff, Store
from mms_tui.screens.desk import DeskScreen
from mms_tui.screens.dialog import ConfirmScreen, MenuScreen
from mms_tui.screens.manage import ManageListScreen
from mms_tui.screens.manage_catalogue import CardTypesScreen, ItemsScreen
from mms_tui.screens.manage_form import ManageForm
from mms_tui.screens.manage_staff import StaffListScreen
from mms_tui.screens.manage_stores import StoresScreen
from mms_tui.screens.pin import ManagerPinScreen
from mms_tui.services.staff.accounts import authenticate, create_staff
from mms_tui.services.staff.stores import add_store
from tests.test_tui import at_desk, settle, text


async def open_area(pilot, code: str = "m01", pin: str = "2345") -> None:
    """F10 at a cashier's desk, and a manager's code and PIN."""
    await pilot.press("f10")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ManagerPinScreen)
    await pilot.press(*code, "enter", *pin, "enter")
    await settle(pilot)


async def open_kind(pilot, key: str) -> ManageListScreen:
    assert isinstance(pilot.app.screen, MenuScreen)
    await pilot.press(key)
    await settle(pilot)
    assert isinstance(pilot.app.screen, ManageListScreen)
    return pilot.app.screen


def listed(screen: ManageListScreen) -> list[str]:
    """The codes of the rows shown, in order."""
    return [row.key.value for row in screen.query_one("#manage-table", DataTable).ordered_rows]


def form_error(app) -> str:
    label = app.screen.query_one("#dialog-error", Label)
    return text(label) if label.display else ""


async def fill(pilot, **values: str) -> None:
    for field_id, value in values.items():
        pilot.app.screen.query_one(f"#{field_id}", Input).value = value
    await pilot.pause()


async def test_a_cashier_opens_the_area_with_a_managers_pin_and_adds_a_cashier_recorded_under_the_manager(
        sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        assert isinstance(app.screen, MenuScreen)
        screen = await open_kind(pilot, "1")
        assert isinstance(screen, StaffListScreen)
        assert set(listed(screen)) >= {"admin", "m01", "c01"}
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, ManageForm)
        await pilot.press(*"c02")  # the code box has the focus
        await fill(pilot, name="前台 小王", pin="4321")
        app.screen.query_one("#role", Select).value = "cashier"
        app.screen.query_one("#store", Select).value = "HQ"
        await pilot.press("f10")
        await settle(pilot)
        assert app.screen is screen
        assert "c02" in listed(screen)
        table = screen.query_one("#manage-table", DataTable)
        assert str(table.get_row_at(table.cursor_row)[0]) == "c02"  # the cursor on the row added
    added = Staff.get(Staff.code == "c02")
    assert (added.name, added.role, added.store.code) == ("前台 小王", "cashier", "HQ")
    assert authenticate("c02", "4321").code == "c02"
    event = AuditEvent.get(AuditEvent.action == "staff.create", AuditEvent.subject == f"staff:{added.id}")
    assert event.staff_id == sqlite_desk.manager.id  # the manager who gave the PIN, not the cashier at the desk


async def test_a_wrong_manager_pin_or_a_cashiers_pin_opens_nothing(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press("f10")
        await settle(pilot)
        await pilot.press(*"m01", "enter", *"9999", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ManagerPinScreen)
        assert "Wrong staff code or PIN" in text(app.screen.query_one("#pin-message", Label))
        await pilot.press(*"0000", "enter")  # the code stays; this time a cashier's own PIN… for m01: wrong
        await settle(pilot)
        assert isinstance(app.screen, ManagerPinScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        await pilot.press("f10")
        await settle(pilot)
        app.screen.query_one("#staff-code", Input).value = "c01"
        await pilot.press("tab", *"0000", "enter")  # a cashier is not a manager
        await settle(pilot)
        assert isinstance(app.screen, ManagerPinScreen)
        assert "may not do this" in text(app.screen.query_one("#pin-message", Label))


async def test_typing_filters_the_list_wherever_the_focus_is(sqlite_desk):
    for n, name in enumerate(("张 美发", "李 美容", "王 美发")):
        create_staff(f"t{n}", name, "cashier", "1111", store=sqlite_desk.store)
    async with at_desk(sqlite_desk) as (app, pilot):
        app.staff = sqlite_desk.manager  # a manager at the desk goes straight in
        await pilot.press("f10")
        await settle(pilot)
        screen = await open_kind(pilot, "1")
        screen.query_one("#manage-table", DataTable).focus()  # the list has the focus: typing still filters
        await pilot.press(*"美发")
        await pilot.pause()
        assert listed(screen) == ["t0", "t2"]
        assert screen.query_one("#manage-filter", Input).has_focus
        assert "2 of" in text(screen.query_one("#manage-status", Label))
        await pilot.press("backspace", "backspace", *"manager")  # the role shown
        await pilot.pause()
        assert listed(screen) == ["m01"]


async def test_a_duplicate_code_is_refused_naming_it_and_nothing_is_written(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        await open_kind(pilot, "1")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press(*"c01")
        await fill(pilot, name="另一个", pin="4321")
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, ManageForm)
        assert "Staff code c01 is already taken" in form_error(app)
        assert app.screen.query_one("#name", Input).value == "另一个"  # what was typed stays
    assert Staff.get(Staff.code == "c01").name == "前台 小陈"


async def test_an_item_price_below_zero_or_a_wrong_check_digit_is_refused_naming_the_field(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "4")
        assert isinstance(screen, ItemsScreen)
        await pilot.press(*"SHAMPOO", "enter")  # filter to it, Enter edits it
        await settle(pilot)
        assert isinstance(app.screen, ManageForm)
        await fill(pilot, price="-5")
        await pilot.press("f10")
        await settle(pilot)
        assert "Price: cannot be below zero" in form_error(app)
        await fill(pilot, price="abc")
        await pilot.press("f10")
        await settle(pilot)
        assert "Price: Not an amount of money" in form_error(app)
        await fill(pilot, price="72", barcode="6901234567891")  # check digit 2
        await pilot.press("f10")
        await settle(pilot)
        assert "Barcode:" in form_error(app) and isinstance(app.screen, ManageForm)
        await fill(pilot, barcode="6901234567892")
        await pilot.press("f10")
        await settle(pilot)
        assert app.screen is screen
    shampoo = Product.get(Product.code == "SHAMPOO")
    assert (shampoo.price_fen, shampoo.barcode) == (7_200, "6901234567892")
    assert AuditEvent.select().where(AuditEvent.action == "catalogue.edit").count() == 1


async def test_disable_asks_first_esc_keeps_it_and_f10_or_y_disables(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "3")
        assert isinstance(screen, CardTypesScreen)
        await pilot.press(*"V10")
        await pilot.pause()
        assert listed(screen) == ["V10"]
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # a hurried Enter confirms nothing
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert CardType.get(CardType.code == "V10").active
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        await settle(pilot)
        assert not CardType.get(CardType.code == "V10").active
        assert "disabled" in str(screen.query_one("#manage-table", DataTable).get_row_at(0)[-1])
        await pilot.press("f6")  # the same key enables it again, after its question
        await settle(pilot)
        assert "Enable" in " ".join(text(label) for label in app.screen.query(Label))
        await pilot.press("f10")
        await settle(pilot)
        await settle(pilot)
    assert CardType.get(CardType.code == "V10").active


async def test_a_card_type_term_its_kind_lacks_or_a_bad_number_is_refused_naming_it(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "3")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press(*"V20")
        app.screen.query_one("#kind", Select).value = "visits"
        await fill(pilot, name="20次卡", price="900", visits="twenty")
        await pilot.press("f10")
        await settle(pilot)
        assert "Visits: a whole number" in form_error(app)
        await fill(pilot, visits="0")
        await pilot.press("f10")
        await settle(pilot)
        assert "Visits: a visit package holds from 1 to 10000 visits" in form_error(app)
        assert CardType.get_or_none(CardType.code == "V20") is None
        await fill(pilot, visits="20", validity="365")
        await pilot.press("f10")
        await settle(pilot)
        assert app.screen is screen
    made = CardType.get(CardType.code == "V20")
    assert (made.kind, made.visits, made.price_fen, made.validity_days) == ("visits", 20, 90_000, 365)


async def test_a_card_type_is_bound_to_its_stores_from_the_form_and_not_without_them(sqlite_desk):
    """Issue #24: "Used at: only these stores" binds a type's cards to the stores it names; with none named the
    form says so and nothing changes."""
    add_store("SH1", "上海一店", sqlite_desk.admin, parent="HQ")
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        await open_kind(pilot, "3")
        await pilot.press(*"SV", "enter")
        await settle(pilot)
        app.screen.query_one("#bound", Select).value = "yes"
        await pilot.press("f10")
        await settle(pilot)
        assert "name the stores its cards are used at" in form_error(app)
        assert not CardType.get(CardType.code == "SV").bound
        await fill(pilot, stores="sh1")
        await pilot.press("f10")
        await settle(pilot)
    made = CardType.get(CardType.code == "SV")
    assert made.bound and [s.store.code for s in made.stores] == ["SH1"]


async def test_a_store_moved_under_its_own_store_is_refused_with_the_message(sqlite_desk):
    admin = sqlite_desk.admin
    add_store("EAST", "华东区", admin, parent="HQ", kind="region")
    add_store("SH1", "上海一店", admin, parent="EAST")
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot, "admin", "1234")
        screen = await open_kind(pilot, "2")
        assert isinstance(screen, StoresScreen)
        assert listed(screen) == ["HQ", "EAST", "SH1"]  # the tree, in order
        await pilot.press(*"EAST")
        await pilot.pause()
        await pilot.press("f7")
        await settle(pilot)
        app.screen.query_one("#parent", Select).value = "SH1"
        await pilot.press("f10")
        await settle(pilot)
        assert "cannot move under SH1" in form_error(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
    assert Store.get(Store.code == "EAST").parent.code == "HQ"


async def test_a_manager_of_one_store_cannot_put_their_staff_at_another_nor_sees_its_staff(sqlite_desk):
    admin = sqlite_desk.admin
    add_store("SH1", "上海一店", admin, parent="HQ")
    add_store("BJ1", "北京一店", admin, parent="HQ")
    sh, bj = Store.get(Store.code == "SH1"), Store.get(Store.code == "BJ1")
    create_staff("msh", "上海 店长", "manager", "5555", store=sh)
    create_staff("csh", "上海 前台", "cashier", "1111", store=sh)
    create_staff("cbj", "北京 前台", "cashier", "1111", store=bj)
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot, "msh", "5555")
        screen = await open_kind(pilot, "1")
        assert sorted(listed(screen)) == ["csh", "msh"]  # not BJ1's staff
        await pilot.press(*"csh", "enter")
        await settle(pilot)
        app.screen.query_one("#store", Select).value = "BJ1"
        await fill(pilot, name="上海 前台 改名")
        await pilot.press("f10")
        await settle(pilot)
        assert "manages the staff of their own store only" in form_error(app)
        assert isinstance(app.screen, ManageForm)
    moved = Staff.get(Staff.code == "csh")
    assert (moved.store.code, moved.name) == ("SH1", "上海 前台")


async def test_the_area_comes_back_to_its_menu_and_esc_goes_to_the_desk_with_the_rules_one_key_away(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        await open_kind(pilot, "2")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)
        await pilot.press("5")
        await settle(pilot)
        from mms_tui.screens.settings import RulesScreen

        assert isinstance(app.screen, RulesScreen) and app.screen.manager.code == "m01"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        assert app.screen.focused is app.screen.query_one("#search", Input)


async def test_a_card_swiped_or_a_barcode_scanned_in_a_list_finds_its_row_and_opens_no_member(regular):
    from mms_tui.devices.protocols import Read

    async with at_desk(regular) as (app, pilot):
        await open_area(pilot)
        staff = await open_kind(pilot, "1")
        app.offer_read(Read("card", "STAFF001", "rdm6300"))  # c01's staff card
        await settle(pilot)
        assert app.screen is staff and listed(staff) == ["c01"]
        app.offer_read(Read("card", "00012345", "rdm6300"))  # a member's card: no member opens here
        await settle(pilot)
        assert app.screen is staff and listed(staff) == []
        await pilot.press("escape")
        await settle(pilot)
        items = await open_kind(pilot, "4")
        app.offer_read(Read("barcode", "6901234567892", "plain"))
        await settle(pilot)
        assert app.screen is items and listed(items) == ["SHAMPOO"]

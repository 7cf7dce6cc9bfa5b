"""Tiers, categories, price levels and price lists in the manager's area (#17): F10 from a cashier's desk with a
manager's PIN, 6/7/8/9 from its menu; forms that show the service's refusal naming the field and write nothing;
a price taken off its list after a question. Driven by keys against a real SQLite file."""

from __future__ import annotations

from mms_tui.models import Category, ItemPrice, PriceLevel
from mms_tui.screens.dialog import ConfirmScreen
from mms_tui.screens.manage_form import ManageForm
from mms_tui.services.catalogue.prices import add_level, list_prices
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.services.loyalty.tier_admin import list_tiers
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.checkout import quote
from tests.test_manage_screens import fill, form_error, listed, open_area, open_kind
from tests.test_tui import at_desk, settle


async def save(pilot) -> None:
    await pilot.press("f10")
    await settle(pilot)


async def test_a_manager_adds_a_tier_and_its_terms_go_into_the_rules(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "6")
        assert listed(screen) == ["NORMAL", "SILVER", "GOLD", "DIAMOND"]
        await pilot.press("f3")
        await settle(pilot)
        await fill(pilot, **{"new-code": "PLAT", "name": "铂金会员", "rank": "2", "pays": "80", "points": "2.5",
                             "upgrade": "50000"})
        await save(pilot)
        assert "Rank: 2 is already GOLD's" in form_error(app)  # the form stays, with what was typed
        assert [t.code for t in list_tiers()] == ["NORMAL", "SILVER", "GOLD", "DIAMOND"]
        await fill(pilot, rank="4")
        await save(pilot)
        assert not isinstance(app.screen, ManageForm)
        assert listed(screen)[-1] == "PLAT"
    level = load_rules().tiers.benefit("PLAT")
    assert (level.price_bp, level.points_pct, level.upgrade_at) == (8_000, 250, 5_000_000)


async def test_a_tier_is_edited_in_place_and_a_bad_multiplier_is_named(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        await open_kind(pilot, "6")
        await pilot.press(*"GOLD", "enter")
        await settle(pilot)
        await fill(pilot, points="两倍")
        await save(pilot)
        assert form_error(app).startswith("Points multiplier:")
        await fill(pilot, points="1.5", pays="88")
        await save(pilot)
        assert not isinstance(app.screen, ManageForm)
    assert load_rules().tiers.benefit("GOLD").price_bp == 8_800


async def test_a_dealer_price_set_on_the_screen_is_what_the_dealer_pays_and_f8_takes_it_off(sqlite_desk):
    add_level(sqlite_desk.manager, "DEALER", "经销商价")
    dealer = register_member("王总", "13900139000", sqlite_desk.cashier, "r1").member_id
    update_member(dealer, sqlite_desk.manager, "u1", price_level="DEALER")
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "9")
        await pilot.press("f3")
        await settle(pilot)
        await fill(pilot, item="SHAMPOO", list="DEALER", price="-1")
        await save(pilot)
        assert form_error(app) == "Price: cannot be negative."
        assert ItemPrice.select().count() == 0
        await fill(pilot, price="45")
        await save(pilot)
        assert listed(screen) == ["SHAMPOO · DEALER"]
        assert quote(dealer, ["SHAMPOO"]).lines[0].unit_price_fen == 4_500
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # no: it stays
        await settle(pilot)
        assert len(list_prices()) == 1
        await pilot.press("f8", "y")
        await settle(pilot)
        assert list_prices() == [] and listed(screen) == []


async def test_categories_and_price_levels_are_added_renamed_and_disabled(sqlite_desk):
    save_rules({"points": {"category_multipliers": {"零售": "0.5"}}}, sqlite_desk.manager)
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "7")
        await pilot.press("f3")
        await settle(pilot)
        await fill(pilot, name="美甲")
        await save(pilot)
        assert "美甲" in listed(screen)
        await pilot.press(*"零售", "enter")
        await settle(pilot)
        await fill(pilot, name="商品")
        await save(pilot)
        assert "the loyalty rules name 零售" in form_error(app)
        await pilot.press("escape")  # the form
        await settle(pilot)
        await pilot.press("escape")  # the list: back to the menu
        await settle(pilot)
        levels = await open_kind(pilot, "8")
        await pilot.press("f3")
        await settle(pilot)
        await fill(pilot, **{"new-code": "GOLD", "name": "金卡价"})
        await save(pilot)
        assert "is a tier's" in form_error(app)
        await fill(pilot, **{"new-code": "DEALER", "name": "经销商价"})
        await save(pilot)
        assert listed(levels) == ["DEALER"]
        await pilot.press("f6", "y")
        await settle(pilot)
    assert Category.get(Category.name == "零售").name == "零售"
    assert PriceLevel.get(PriceLevel.code == "DEALER").active is False


async def test_the_shops_member_fields_are_defined_renamed_and_disabled(sqlite_desk):
    from mms_tui.services.members.attributes import field_definitions

    async with at_desk(sqlite_desk) as (app, pilot):
        await open_area(pilot)
        screen = await open_kind(pilot, "0")
        await pilot.press("f3")
        await settle(pilot)
        app.screen.query_one("#kind").value = "choice"
        await fill(pilot, **{"new-code": "GOAL", "name": "健身目标", "choices": "减脂"})
        await save(pilot)
        assert form_error(app) == "Choices: a choice field needs two or more different choices."
        await fill(pilot, choices="减脂，增肌")
        await save(pilot)
        assert listed(screen) == ["GOAL"]
        await pilot.press("enter")
        await settle(pilot)
        await fill(pilot, name="目标")
        await save(pilot)
        await pilot.press("f6", "y")
        await settle(pilot)
    assert [(f.code, f.name, f.choices, f.active) for f in field_definitions(inactive=True)] == [
        ("GOAL", "目标", ("减脂", "增肌"), False)]

"""The catalogue kept from the command line: ``mms products`` (products and services) and ``mms cardtypes``, each
``list|add|edit|disable|enable``."""

from __future__ import annotations

from dataclasses import asdict

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import format_option, staff_options
from mms_tui.cli.output import for_people, write_rows
from mms_tui.i18n import _

KIND = click.Choice(["product", "service"])


def _print(items, fmt: str) -> None:
    """Items as rows: prices as ¥ amounts in tables, exact fen in machine formats."""
    write_rows(for_people((asdict(item) for item in items), fmt), fmt)


@click.group("products")
def products_group() -> None:
    """Products and services the desk sells: list, add, edit, disable, enable (a manager's work).

    \b
    mms products list --search 洗发
    mms products add SHAMPOO 洗发水 --price 68 --category 零售 --barcode 6901234567892 --staff m01
    mms products add HAIR 精剪 --kind service --price 88 --duration 45 --staff m01
    mms products edit HAIR --price 98 --staff m01
    mms products disable SHAMPOO --staff m01
    """


@products_group.command("list")
@click.option("--kind", type=KIND, help="Only products, or only services.")
@click.option("--search", default="", help="Text the code, name, category or barcode contains.")
@click.option("--all", "inactive", is_flag=True, help="Disabled items too.")
@format_option()
@click.pass_context
def products_list(ctx: click.Context, kind: str | None, search: str, inactive: bool, fmt: str) -> None:
    """The catalogue, products then services, by code (prices in fen in machine formats)."""
    from mms_tui.services.catalogue.items import list_items

    open_database(settings_of(ctx))
    _print(list_items(kind, search=search, inactive=inactive), fmt)


@products_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", type=KIND, default="product", show_default=True, help="A product, or a service.")
@click.option("--price", required=True, help="Price in yuan, e.g. 88 or 12.50.")
@click.option("--category", default="", help="Category, e.g. 零售 or 美发.")
@click.option("--barcode", help="Barcode (an EAN-13, EAN-8 or UPC-A must carry its right check digit).")
@click.option("--duration", type=int, help="How many minutes a service takes.")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def products_add(ctx: click.Context, code: str, name: str, kind: str, price: str, category: str,
                 barcode: str | None, duration: int | None, staff_code: str | None, pin_stdin: bool,
                 fmt: str) -> None:
    """Add a product or a service (its code unique among both)."""
    from mms_tui.services.base.text import parse_yuan
    from mms_tui.services.catalogue.items import add_item

    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    _print([add_item(staff, kind, code, name, parse_yuan(price), category=category, barcode=barcode,
                     duration_minutes=duration)], fmt)


@products_group.command("edit")
@click.argument("code")
@click.option("--name", help="New name.")
@click.option("--price", help="New price in yuan.")
@click.option("--category", help="New category.")
@click.option("--barcode", help="New barcode; an empty one ('') takes it off.")
@click.option("--duration", type=int, help="Minutes a service takes.")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def products_edit(ctx: click.Context, code: str, name: str | None, price: str | None, category: str | None,
                  barcode: str | None, duration: int | None, staff_code: str | None, pin_stdin: bool,
                  fmt: str) -> None:
    """Change what is given of a product or service; the rest stays."""
    from mms_tui.services.base.text import parse_yuan
    from mms_tui.services.catalogue.items import edit_item

    changes = {key: value for key, value in (("name", name), ("category", category), ("barcode", barcode),
                                              ("duration_minutes", duration)) if value is not None}
    if price is not None:
        changes["price_fen"] = parse_yuan(price)
    if not changes:
        raise click.UsageError(_("Give at least one of --name, --price, --category, --barcode, --duration."))
    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    _print([edit_item(staff, code, **changes)], fmt)


def _activation(group: click.Group, name: str, active: bool, setter: str, help: str) -> click.Command:
    """``disable`` and ``enable`` of a catalogue group: the same command but for the state it sets; ``setter`` is
    the service function (module:name) that sets it."""
    @group.command(name, help=help)
    @click.argument("code")
    @staff_options("Manager or admin recorded on the change.")
    @format_option()
    @click.pass_context
    def command(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
        import importlib

        module, function = setter.split(":")
        set_state = getattr(importlib.import_module(module), function)
        open_database(settings_of(ctx))
        _print([set_state(acting_staff(staff_code, pin_stdin), code, active)], fmt)

    return command


products_disable = _activation(products_group, "disable", False, "mms_tui.services.catalogue.items:set_active",
                               "Stop selling an item; its sales keep naming it (nothing is deleted).")
products_enable = _activation(products_group, "enable", True, "mms_tui.services.catalogue.items:set_active",
                              "Sell a disabled item again.")


# --- card types -----------------------------------------------------------------------------------------------------

CARD_KIND = click.Choice(["stored_value", "points", "discount", "visits", "period"])


def _percent_bp(text: str | None) -> int | None:
    """What a discount card pays, typed in percent of the price ("88" or "88%": 88折; "8.5": 8.5%), in basis
    points."""
    from mms_tui.services.base.text import parse_yuan

    if text is None:
        return None
    return parse_yuan(text.strip().removesuffix("%"))  # two decimals of a percent are basis points


def card_type_options(fn):
    """The terms of a card type, for add and edit (prices in yuan, discounts in percent paid)."""
    for option in reversed([
        click.option("--price", help="Price in yuan."),
        click.option("--validity-days", type=int, help="Days a card stays valid after it is issued."),
        click.option("--visits", type=int, help="Visits in a visit package (次卡)."),
        click.option("--pays", help="What a discount card pays, in percent of the price (88 = 88折)."),
        click.option("--period-days", type=int, help="Days of a period pass (月卡 30)."),
        click.option("--transferable/--not-transferable", default=None,
                     help="Visits may move to another member of the family (visit packages)."),
        click.option("--start-on-first-use/--start-on-purchase", default=None,
                     help="A period pass starts at its first check-in."),
        click.option("--max-freeze-days", type=int, help="Days a card may stay frozen per calendar year."),
        click.option("--stores", metavar="CODES", help="Sold only at these stores or regions, comma-separated "
                                                        "('' for every store)."),
    ]):
        fn = option(fn)
    return fn


def _terms_given(price, validity_days, visits, pays, period_days, transferable, start_on_first_use,
                 max_freeze_days, stores) -> dict:
    from mms_tui.services.base.text import parse_yuan

    given = {"price_fen": parse_yuan(price) if price is not None else None, "validity_days": validity_days,
             "visits": visits, "discount_bp": _percent_bp(pays), "period_days": period_days,
             "transferable": transferable, "start_on_first_use": start_on_first_use,
             "max_freeze_days": max_freeze_days,
             "stores": tuple(c for c in stores.split(",") if c.strip()) if stores is not None else None}
    return {k: v for k, v in given.items() if v is not None}


@click.group("cardtypes")
def cardtypes_group() -> None:
    """Card types: what each kind of card costs and entitles (a manager's work).

    \b
    mms cardtypes list
    mms cardtypes add V20 20次卡 --kind visits --price 900 --visits 20 --validity-days 365 --staff m01
    mms cardtypes add DC85 85折卡 --kind discount --price 299 --pays 85 --validity-days 365 --staff m01
    mms cardtypes edit V20 --price 880 --staff m01
    mms cardtypes disable V20 --staff m01
    """


@cardtypes_group.command("list")
@click.option("--all", "inactive", is_flag=True, help="Disabled types too.")
@format_option()
@click.pass_context
def cardtypes_list(ctx: click.Context, inactive: bool, fmt: str) -> None:
    """Every card type with its terms, by kind and code."""
    from mms_tui.services.catalogue.card_types import list_card_types

    open_database(settings_of(ctx))
    _print(list_card_types(inactive=inactive), fmt)


@cardtypes_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", type=CARD_KIND, required=True, help="What the card holds.")
@card_type_options
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def cardtypes_add(ctx: click.Context, code: str, name: str, kind: str, staff_code: str | None, pin_stdin: bool,
                  fmt: str, **terms) -> None:
    """Add a card type; the terms its kind does not have must be left out."""
    from mms_tui.services.catalogue.card_types import CardTypeTerms, add_card_type

    given = _terms_given(**terms)
    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    _print([add_card_type(staff, CardTypeTerms(code, name, kind, **given))], fmt)


@cardtypes_group.command("edit")
@click.argument("code")
@click.option("--name", help="New name.")
@card_type_options
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def cardtypes_edit(ctx: click.Context, code: str, name: str | None, staff_code: str | None, pin_stdin: bool,
                   fmt: str, **terms) -> None:
    """Change what is given, for cards issued from now on (a card's kind never changes)."""
    from mms_tui.services.catalogue.card_types import edit_card_type

    changes = _terms_given(**terms)
    if name is not None:
        changes["name"] = name
    if not changes:
        raise click.UsageError(_("Give at least one term to change."))
    open_database(settings_of(ctx))
    _print([edit_card_type(acting_staff(staff_code, pin_stdin), code, **changes)], fmt)


cardtypes_disable = _activation(cardtypes_group, "disable", False,
                                "mms_tui.services.catalogue.card_types:set_card_type_active",
                                "Stop selling a card type; its cards keep working.")
cardtypes_enable = _activation(cardtypes_group, "enable", True,
                               "mms_tui.services.catalogue.card_types:set_card_type_active",
                               "Sell a disabled card type again.")

"""The catalogue kept from the command line: ``mms products`` (products and services) and ``mms cardtypes``, each
``list|add|edit|disable|enable``, and ``mms prices`` (price lists and price levels)."""

from __future__ import annotations

from dataclasses import asdict

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import (
    dry_run_option,
    file_argument,
    file_format_option,
    format_option,
    staff_options,
)
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
        click.option("--bound/--anywhere", default=None,
                     help="Its cards are used only at --stores (checked in, paid with, topped up), or at every store."),
    ]):
        fn = option(fn)
    return fn


def _terms_given(price, validity_days, visits, pays, period_days, transferable, start_on_first_use,
                 max_freeze_days, stores, bound) -> dict:
    from mms_tui.services.base.text import parse_yuan

    given = {"price_fen": parse_yuan(price) if price is not None else None, "validity_days": validity_days,
             "visits": visits, "discount_bp": _percent_bp(pays), "period_days": period_days,
             "transferable": transferable, "start_on_first_use": start_on_first_use,
             "max_freeze_days": max_freeze_days, "bound": bound,
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


# --- price lists -----------------------------------------------------------------------------------------------------


@click.group("prices")
def prices_group() -> None:
    """Price lists (价格体系): an item's price per tier, per price level (经销商价 …) and per store.

    A member given a price level pays its price (it replaces the tier's); a store's price beats its region's,
    which beats the chain's; promotions apply after. LIST is a tier's or a price level's code, or RETAIL for a
    store's own retail price.

    \b
    mms prices add-level DEALER 经销商价 --staff m01
    mms prices set SHAMPOO 45 --list DEALER --staff m01
    mms prices set HAIR 78 --list GOLD --store BR1 --staff m01
    mms members edit 13800138000 --price-level DEALER --staff m01
    mms prices list --list DEALER
    mms prices export prices.xlsx ; mms prices import prices.xlsx --staff m01
    """


def _price_rows(rows, fmt: str):
    return for_people((asdict(r) for r in rows), fmt)


@prices_group.command("list")
@click.option("--list", "list_code", metavar="LIST", help="Only this list (a tier, a price level, or RETAIL).")
@click.option("--store", "store_code", metavar="CODE", help="Only prices set for this store or region.")
@click.option("--item", metavar="CODE", help="Only this product or service.")
@format_option()
@click.pass_context
def prices_list(ctx: click.Context, list_code: str | None, store_code: str | None, item: str | None,
                fmt: str) -> None:
    """The prices set, by item, list and store (store '' is chain-wide), beside each item's catalogue price."""
    from mms_tui.services.catalogue.prices import list_prices

    open_database(settings_of(ctx))
    write_rows(_price_rows(list_prices(list_code=list_code, store=store_code, item=item), fmt), fmt)


@prices_group.command("set")
@click.argument("item")
@click.argument("price")
@click.option("--list", "list_code", metavar="LIST", default="RETAIL", show_default=True,
              help="A tier's or a price level's code, or RETAIL (a store's own retail price; needs --store).")
@click.option("--store", "store_code", metavar="CODE", help="For this store or region only (default: chain-wide).")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def prices_set(ctx: click.Context, item: str, price: str, list_code: str, store_code: str | None,
               staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Set ITEM's PRICE (yuan) on a list, or take it off with PRICE 'none'."""
    from mms_tui.services.base.errors import InvalidInput
    from mms_tui.services.base.text import parse_yuan
    from mms_tui.services.catalogue.prices import set_price

    try:
        fen = None if price.strip().lower() in ("none", "-") else parse_yuan(price)
    except InvalidInput as exc:
        raise InvalidInput(_("Price: {reason}").format(reason=exc)) from None
    open_database(settings_of(ctx))
    row = set_price(acting_staff(staff_code, pin_stdin), item, fen, list_code=list_code, store=store_code)
    if row is None:
        click.echo(_("{item} is off that list.").format(item=item.strip().upper()), err=True)
    else:
        write_rows(_price_rows([row], fmt), fmt)


@prices_group.command("levels")
@format_option()
@click.pass_context
def prices_levels(ctx: click.Context, fmt: str) -> None:
    """The price levels, with how many members buy at each and how many prices each has."""
    from mms_tui.services.catalogue.prices import list_levels

    open_database(settings_of(ctx))
    write_rows((asdict(level) for level in list_levels()), fmt)


@prices_group.command("add-level")
@click.argument("code")
@click.argument("name")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def prices_add_level(ctx: click.Context, code: str, name: str, staff_code: str | None, pin_stdin: bool,
                     fmt: str) -> None:
    """Add a price level (零售价, 会员价, 经销商价, 二级经销商价 …) to give members with mms members edit."""
    from mms_tui.services.catalogue.prices import add_level

    open_database(settings_of(ctx))
    write_rows([asdict(add_level(acting_staff(staff_code, pin_stdin), code, name))], fmt)


@prices_group.command("edit-level")
@click.argument("code")
@click.option("--name", help="New name.")
@click.option("--enable/--disable", "active", default=None,
              help="Give the level's prices again / stop (its members then pay as their tier).")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def prices_edit_level(ctx: click.Context, code: str, name: str | None, active: bool | None, staff_code: str | None,
                      pin_stdin: bool, fmt: str) -> None:
    """Rename a price level, or disable and enable it."""
    from mms_tui.services.catalogue.prices import edit_level

    if name is None and active is None:
        raise click.UsageError(_("Give at least one term to change."))
    open_database(settings_of(ctx))
    write_rows([asdict(edit_level(acting_staff(staff_code, pin_stdin), code, name=name, active=active))], fmt)


@prices_group.command("import")
@file_argument(stdin=True)
@click.option("--encoding", default="auto", show_default=True, help="auto, or any codec name, e.g. gbk.")
@dry_run_option("Check every row and report, but write nothing.")
@click.option("--sheet", metavar="NAME", help="Worksheet of an .xlsx file (default: the first).")
@staff_options("Manager or admin recorded on the import.")
@click.pass_context
def prices_import(ctx: click.Context, file: str, encoding: str, dry_run: bool, sheet: str | None,
                  staff_code: str | None, pin_stdin: bool) -> None:
    """Set prices from a CSV or XLSX file (编码/code, 价格表/list, 门店/store, 价格/price), all or nothing; every bad
    row is named. Reads what mms prices export writes; - reads standard input."""
    from mms_tui.cli.exchange import import_

    ctx.invoke(import_, what="prices", file=file, encoding=encoding, mapping=(), on_duplicate="error",
               dry_run=dry_run, sheet=sheet, staff_code=staff_code, pin_stdin=pin_stdin)


@prices_group.command("export")
@click.argument("target", metavar="FILE|-")
@file_format_option(["csv", "jsonl", "json", "xlsx"],
                    help="File format (default: from FILE's suffix .xlsx/.jsonl/.json, else csv).")
@click.option("--store", "store_code", metavar="CODE", help="Only prices set for this store.")
@click.pass_context
def prices_export(ctx: click.Context, target: str, fmt: str | None, store_code: str | None) -> None:
    """Write every price of the price lists to FILE (or - for stdout), prices in yuan: a file mms prices import
    reads back."""
    from mms_tui.cli.exchange import export

    ctx.invoke(export, what="prices", target=target, member_file=None, fmt=fmt, encoding=None,
               store_code=store_code, start=None, end=None)


# --- categories ------------------------------------------------------------------------------------------------------


@click.group("categories")
def categories_group() -> None:
    """Categories (类别) of products and services: the list an item's category must be on (a manager's work).

    \b
    mms categories list
    mms categories add 美甲 --staff m01
    mms categories rename 美甲 美甲美睫 --staff m01
    mms categories disable 美甲美睫 --staff m01
    """


@categories_group.command("list")
@click.option("--all", "inactive", is_flag=True, help="Disabled categories too.")
@format_option()
@click.pass_context
def categories_list(ctx: click.Context, inactive: bool, fmt: str) -> None:
    """The categories by name, with how many products and services each holds."""
    from mms_tui.services.catalogue.categories import list_categories

    open_database(settings_of(ctx))
    write_rows((asdict(c) for c in list_categories(inactive=inactive)), fmt)


@categories_group.command("add")
@click.argument("name")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def categories_add(ctx: click.Context, name: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Add a category to the list."""
    from mms_tui.services.catalogue.categories import add_category

    open_database(settings_of(ctx))
    write_rows([asdict(add_category(acting_staff(staff_code, pin_stdin), name))], fmt)


@categories_group.command("rename")
@click.argument("name")
@click.argument("new_name")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def categories_rename(ctx: click.Context, name: str, new_name: str, staff_code: str | None, pin_stdin: bool,
                      fmt: str) -> None:
    """Rename a category and every item in it (refused while the loyalty rules name it)."""
    from mms_tui.services.catalogue.categories import rename_category

    open_database(settings_of(ctx))
    write_rows([asdict(rename_category(acting_staff(staff_code, pin_stdin), name, new_name))], fmt)


def _category_state(name: str, active: bool, help: str) -> click.Command:
    @categories_group.command(name, help=help)
    @click.argument("category")
    @staff_options("Manager or admin recorded on the change.")
    @format_option()
    @click.pass_context
    def command(ctx: click.Context, category: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
        from mms_tui.services.catalogue.categories import set_category_active

        open_database(settings_of(ctx))
        write_rows([asdict(set_category_active(acting_staff(staff_code, pin_stdin), category, active))], fmt)

    return command


categories_disable = _category_state("disable", False, "Put no more items in a category; its items keep it.")
categories_enable = _category_state("enable", True, "Allow a disabled category again.")

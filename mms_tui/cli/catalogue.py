"""The catalogue kept from the command line: ``mms products list|add|edit|disable|enable`` (products and services)."""

from __future__ import annotations

from dataclasses import asdict

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import format_option, staff_options
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _

KIND = click.Choice(["product", "service"])


def _print(items, fmt: str) -> None:
    write_rows((asdict(item) for item in items), fmt)


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


def _set_active(ctx: click.Context, code: str, active: bool, staff_code: str | None, pin_stdin: bool,
                fmt: str) -> None:
    from mms_tui.services.catalogue.items import set_active

    open_database(settings_of(ctx))
    _print([set_active(acting_staff(staff_code, pin_stdin), code, active)], fmt)


@products_group.command("disable")
@click.argument("code")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def products_disable(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Stop selling an item; its sales keep naming it (nothing is deleted)."""
    _set_active(ctx, code, False, staff_code, pin_stdin, fmt)


@products_group.command("enable")
@click.argument("code")
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def products_enable(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Sell a disabled item again."""
    _set_active(ctx, code, True, staff_code, pin_stdin, fmt)

"""Stock (进销存): ``mms stock levels|receive|return|transfer|transfers|receive-transfer|count|adjust|suppliers|low|
policy|unit|consume`` — the same services the desk's receiving and counting screens call. Stock is kept at the
desk's store (``mms --store CODE``)."""

from __future__ import annotations

import click

from mms_tui.cli.common import acting_staff, open_database, readable, settings_of
from mms_tui.cli.options import file_argument, format_option, read_encoding_option, staff_options
from mms_tui.cli.output import for_people, write_rows
from mms_tui.i18n import _


@click.group("stock")
def stock_group() -> None:
    """Stock (进销存) per product and store, on its own ledger: receipts from suppliers, sales, transfers between
    stores, stock-takes. Quantities are whole numbers of a product's unit (pcs, ml, g); values at moving-average
    cost. 'mms check' proves the levels equal their movements.

    \b
    mms --store S01 stock receive delivery.xlsx --supplier ACME --reference DN-0012
    mms --store S01 stock receive --item 6920000000012:24:1.50 --supplier ACME
    mms --store S01 stock transfer --to S02 --item WATER:12
    mms --store S02 stock receive-transfer 7
    mms --store S01 stock count open                 # then: count add, count sheet, count post
    mms --store S01 stock adjust WATER -2 --reason 破损
    mms --store S01 stock levels --low
    """


def _items(texts: tuple[str, ...], with_cost: bool):
    from mms_tui.services.base.text import parse_count, parse_yuan
    from mms_tui.services.stock.common import StockLine

    lines = []
    for text in texts:
        parts = text.rsplit(":", 2) if with_cost else text.rsplit(":", 1)
        if len(parts) != (3 if with_cost else 2):
            raise click.ClickException(_("--item {value!r}: write CODE:QTY{cost}.").format(
                value=text, cost=":COST" if with_cost else ""))
        qty = parse_count(parts[1])
        lines.append(StockLine(parts[0], qty, parse_yuan(parts[2]) if with_cost else 0))
    return lines


def _lines(file: str | None, items: tuple[str, ...], encoding: str, with_cost: bool, pin_stdin: bool):
    lines = _items(items, with_cost)
    if file:
        from mms_tui.services.exchange.import_stock import read_stock_lines

        with readable(file, pin_stdin) as path:
            lines += read_stock_lines(path, encoding, with_cost=with_cost)
    if not lines:
        raise click.ClickException(_("Give a FILE or at least one --item."))
    return lines


def _print_lines(result, fmt: str) -> None:
    write_rows(for_people(result.lines, fmt), fmt)


item_option = click.option("--item", "items", multiple=True, metavar="CODE:QTY[:COST]",
                           help="A product (code or barcode), its quantity and, on a receipt, its unit cost in yuan; "
                                "repeatable.")
encoding_option = read_encoding_option()


@stock_group.command("levels")
@click.option("--store", "store_code", metavar="CODE", help="Only this store (default: every store).")
@click.option("--low", is_flag=True, help="Only products at or below their low-stock threshold, or below zero.")
@format_option()
@click.pass_context
def stock_levels(ctx: click.Context, store_code: str | None, low: bool, fmt: str) -> None:
    """On hand, value and low-stock threshold of every product counted at a store."""
    from mms_tui.services.stock.queries import levels

    open_database(settings_of(ctx))
    if not write_rows(for_people(levels(store=store_code, low_only=low), fmt), fmt):
        click.echo(_("No stock."), err=True)


@stock_group.command("receive")
@file_argument(stdin=True, required=False)
@item_option
@click.option("--supplier", metavar="CODE", help="The supplier the goods came from.")
@click.option("--reference", default="", help="The supplier's delivery note number.")
@encoding_option
@staff_options("Staff member who takes the goods in.")
@format_option()
@click.pass_context
def stock_receive(ctx: click.Context, file: str | None, items: tuple[str, ...], supplier: str | None, reference: str,
                  encoding: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """入库: take goods in at the desk's store, from a spreadsheet FILE (columns code or 条码, qty or 数量, cost or
    进价 in yuan; - reads it from standard input) and/or --item lines; all or nothing."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.stock.receiving import receive

    settings = settings_of(ctx)
    open_database(settings)
    by = acting_staff(staff_code, pin_stdin)
    result = receive(by, _lines(file, items, encoding, True, pin_stdin), new_txid(), store=settings.store, supplier=supplier,
                     reference=reference)
    _print_lines(result, fmt)
    click.echo(_("Received {qty} units worth {value} ({txid}).").format(
        qty=result.qty, value=_money(result.value_fen), txid=result.txid), err=True)


def _money(fen: int) -> str:
    from mms_tui.services.base.text import format_money

    return format_money(fen)


@stock_group.command("return")
@file_argument(stdin=True, required=False)
@item_option
@click.option("--supplier", metavar="CODE", required=True, help="The supplier the goods go back to.")
@click.option("--reason", default="", help="Why (damaged, wrong goods…).")
@encoding_option
@staff_options("Manager who sends the goods back.")
@format_option()
@click.pass_context
def stock_return(ctx: click.Context, file: str | None, items: tuple[str, ...], supplier: str, reason: str,
                 encoding: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """退货: send goods back to a supplier (out at the average cost; never below zero): the lines of FILE (- for
    standard input) and/or --item."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.stock.receiving import return_goods

    settings = settings_of(ctx)
    open_database(settings)
    by = acting_staff(staff_code, pin_stdin)
    result = return_goods(by, _lines(file, items, encoding, False, pin_stdin), new_txid(), store=settings.store,
                          supplier=supplier, reason=reason)
    _print_lines(result, fmt)


@stock_group.command("transfer")
@file_argument(stdin=True, required=False)
@item_option
@click.option("--to", "to_store", metavar="CODE", required=True, help="The store the goods go to.")
@click.option("--note", default="", help="A note for the receiving store.")
@encoding_option
@staff_options("Manager who sends the goods.")
@format_option()
@click.pass_context
def stock_transfer(ctx: click.Context, file: str | None, items: tuple[str, ...], to_store: str, note: str,
                   encoding: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """调拨: send goods from the desk's store to another; they are in transit until that store receives them. The
    lines: FILE (- for standard input) and/or --item."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.stock.transfers import send_transfer

    settings = settings_of(ctx)
    open_database(settings)
    by = acting_staff(staff_code, pin_stdin)
    result = send_transfer(by, _lines(file, items, encoding, False, pin_stdin), to_store, new_txid(), store=settings.store,
                           note=note)
    _print_lines(result, fmt)
    click.echo(_("Transfer {id} to {store}: {qty} units in transit.").format(
        id=result.transfer_id, store=result.to_store, qty=result.qty), err=True)


@stock_group.command("transfers")
@click.option("--store", "store_code", metavar="CODE", help="Only transfers from or to this store.")
@click.option("--in-transit", is_flag=True, help="Only those not received yet.")
@format_option()
@click.pass_context
def stock_transfers(ctx: click.Context, store_code: str | None, in_transit: bool, fmt: str) -> None:
    """Transfers, newest first, with their status."""
    from dataclasses import asdict

    from mms_tui.services.stock.transfers import list_transfers

    open_database(settings_of(ctx))
    write_rows(for_people((asdict(t) for t in list_transfers(store=store_code, in_transit=in_transit)), fmt), fmt)


@stock_group.command("receive-transfer")
@click.argument("transfer_id", type=int, metavar="ID")
@staff_options("Staff member of the receiving store.")
@format_option()
@click.pass_context
def stock_receive_transfer(ctx: click.Context, transfer_id: int, staff_code: str | None, pin_stdin: bool,
                           fmt: str) -> None:
    """Take transfer ID in at the store it was sent to, at the value it left with."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.stock.transfers import receive_transfer

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    _print_lines(receive_transfer(by, transfer_id, new_txid()), fmt)


@stock_group.group("count")
def count_group() -> None:
    """盘点: a stock-take of the desk's store. Open a sheet, count products on it (add to a count, or set it),
    print the sheet, then post the variances (a manager)."""


@count_group.command("open")
@click.option("--note", default="", help="A note, e.g. the month counted.")
@staff_options("Staff member who counts.")
@click.pass_context
def count_open(ctx: click.Context, note: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Open a count sheet at the desk's store (the open one, if there is one); prints its number."""
    from mms_tui.services.stock.counts import open_count

    settings = settings_of(ctx)
    open_database(settings)
    click.echo(open_count(acting_staff(staff_code, pin_stdin), store=settings.store, note=note))


@count_group.command("add")
@click.argument("count_id", type=int, metavar="ID")
@click.argument("product", metavar="CODE")
@click.argument("qty", type=int, default=1)
@click.option("--set", "set_", is_flag=True, help="Set the count to QTY instead of adding QTY to it.")
@click.option("--reason", help="Why it differs (破损, 过期…).")
@staff_options("Staff member who counts.")
@click.pass_context
def count_add(ctx: click.Context, count_id: int, product: str, qty: int, set_: bool, reason: str | None,
              staff_code: str | None, pin_stdin: bool) -> None:
    """Count QTY (default 1) of a product (code or barcode) on sheet ID."""
    from mms_tui.services.stock.counts import count_item

    open_database(settings_of(ctx))
    line = count_item(acting_staff(staff_code, pin_stdin), count_id, product, qty, add=not set_, reason=reason)
    click.echo(f"{line.code}\t{line.counted}\t{line.on_hand}")


@count_group.command("sheet")
@click.argument("count_id", type=int, metavar="ID")
@format_option()
@click.pass_context
def count_sheet_cmd(ctx: click.Context, count_id: int, fmt: str) -> None:
    """The count sheet: every product stocked at the store, on hand, counted, variance (print it to count on
    paper)."""
    from mms_tui.services.stock.counts import count_sheet

    open_database(settings_of(ctx))
    sheet = count_sheet(count_id)
    write_rows(({"code": x.code, "name": x.name, "category": x.category, "unit": x.unit, "on_hand": x.on_hand,
                 "counted": "" if x.counted is None else x.counted,
                 "variance": "" if x.variance is None else x.variance, "reason": x.reason} for x in sheet.lines), fmt)


@count_group.command("post")
@click.argument("count_id", type=int, metavar="ID")
@click.option("--missing-as-zero", is_flag=True, help="Products stocked but not counted were not found: count 0.")
@staff_options("Manager who approves the variances.")
@format_option()
@click.pass_context
def count_post(ctx: click.Context, count_id: int, missing_as_zero: bool, staff_code: str | None, pin_stdin: bool,
               fmt: str) -> None:
    """Post sheet ID: each variance from on hand becomes a movement with its reason."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.stock.counts import post_count

    open_database(settings_of(ctx))
    result = post_count(acting_staff(staff_code, pin_stdin), count_id, new_txid(), missing_as_zero=missing_as_zero)
    write_rows(for_people(result.variances, fmt), fmt)
    click.echo(_("Posted count {id}: {n} variances, {value}.").format(
        id=count_id, n=len(result.variances), value=_money(result.value_fen)), err=True)


@count_group.command("cancel")
@click.argument("count_id", type=int, metavar="ID")
@staff_options("Staff member who cancels it.")
@click.pass_context
def count_cancel(ctx: click.Context, count_id: int, staff_code: str | None, pin_stdin: bool) -> None:
    """Cancel open sheet ID; nothing moves."""
    from mms_tui.services.stock.counts import cancel_count

    open_database(settings_of(ctx))
    cancel_count(acting_staff(staff_code, pin_stdin), count_id)


@stock_group.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("product", metavar="CODE")
@click.argument("qty", type=int)
@click.option("--reason", required=True, help="Why (破损, 赠送, 找到…).")
@click.option("--cost", help="Unit cost in yuan of goods added (default: the average cost).")
@staff_options("Manager who adjusts.")
@click.pass_context
def stock_adjust(ctx: click.Context, product: str, qty: int, reason: str, cost: str | None, staff_code: str | None,
                 pin_stdin: bool) -> None:
    """调整: change a product's stock at the desk's store by QTY (negative: take out, e.g. -2)."""
    from mms_tui.services.base.text import parse_yuan
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.stock.counts import adjust

    settings = settings_of(ctx)
    open_database(settings)
    result = adjust(acting_staff(staff_code, pin_stdin), product, qty, reason, new_txid(), store=settings.store,
                    unit_cost_fen=parse_yuan(cost) if cost else None)
    click.echo(f"{result.code}\t{result.qty}\t{result.on_hand}")


@stock_group.group("suppliers")
def suppliers_group() -> None:
    """供应商: where goods come from."""


@suppliers_group.command("list")
@click.option("--all", "inactive", is_flag=True, help="Disabled suppliers too.")
@format_option()
@click.pass_context
def suppliers_list(ctx: click.Context, inactive: bool, fmt: str) -> None:
    """The suppliers, by code."""
    from dataclasses import asdict

    from mms_tui.services.stock.receiving import list_suppliers

    open_database(settings_of(ctx))
    write_rows((asdict(s) for s in list_suppliers(inactive=inactive)), fmt)


@suppliers_group.command("set")
@click.argument("code")
@click.option("--name", help="Name (needed for a new supplier).")
@click.option("--contact", help="Contact person.")
@click.option("--phone", help="Phone.")
@click.option("--note", help="A note.")
@click.option("--enable/--disable", "active", default=None, help="Take receipts from it, or no longer.")
@staff_options("Manager who keeps the suppliers.")
@click.pass_context
def suppliers_set(ctx: click.Context, code: str, name: str | None, contact: str | None, phone: str | None,
                  note: str | None, active: bool | None, staff_code: str | None, pin_stdin: bool) -> None:
    """Add supplier CODE or change it."""
    from mms_tui.services.stock.receiving import save_supplier

    open_database(settings_of(ctx))
    row = save_supplier(acting_staff(staff_code, pin_stdin), code, name=name, contact=contact, phone=phone,
                        note=note, active=active)
    click.echo(f"{row.code}\t{row.name}")


@stock_group.command("low")
@click.argument("product", metavar="CODE")
@click.argument("at", required=False, type=int)
@staff_options("Manager who sets it.")
@click.pass_context
def stock_low(ctx: click.Context, product: str, at: int | None, staff_code: str | None, pin_stdin: bool) -> None:
    """The product is low at the desk's store at or below AT (left out: no threshold)."""
    from mms_tui.services.stock.settings import set_low

    settings = settings_of(ctx)
    open_database(settings)
    set_low(acting_staff(staff_code, pin_stdin), product, at, store=settings.store)


@stock_group.command("policy")
@click.argument("policy", type=click.Choice(["refuse", "warn"]))
@staff_options("Manager who sets it.")
@click.pass_context
def stock_policy(ctx: click.Context, policy: str, staff_code: str | None, pin_stdin: bool) -> None:
    """A sale that would take a product below zero at the desk's store: refused, or allowed with a warning."""
    from mms_tui.services.stock.settings import set_policy

    settings = settings_of(ctx)
    open_database(settings)
    set_policy(acting_staff(staff_code, pin_stdin), policy, store=settings.store)


@stock_group.command("unit")
@click.argument("product", metavar="CODE")
@click.argument("unit", type=click.Choice(["pcs", "ml", "g"]))
@staff_options("Manager who sets it.")
@click.pass_context
def stock_unit(ctx: click.Context, product: str, unit: str, staff_code: str | None, pin_stdin: bool) -> None:
    """The base unit a product is counted in (before it moves any stock)."""
    from mms_tui.services.stock.settings import set_unit

    open_database(settings_of(ctx))
    set_unit(acting_staff(staff_code, pin_stdin), product, unit)


@stock_group.command("consume")
@click.argument("service", metavar="SERVICE")
@click.argument("product", metavar="PRODUCT")
@click.argument("qty", type=int)
@staff_options("Manager who sets it.")
@click.pass_context
def stock_consume(ctx: click.Context, service: str, product: str, qty: int, staff_code: str | None,
                  pin_stdin: bool) -> None:
    """Each SERVICE sold takes QTY of PRODUCT off the shelf (0: no longer), e.g. COLOUR DYE 60."""
    from mms_tui.services.stock.settings import set_consumption

    open_database(settings_of(ctx))
    set_consumption(acting_staff(staff_code, pin_stdin), service, product, qty)

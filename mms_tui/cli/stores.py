"""Stores: ``mms stores list|add|edit|move|close``, the chain's tree (总部 → 区域 → 门店)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import format_option, staff_options
from mms_tui.cli.output import MACHINE_FORMATS, write_rows
from mms_tui.i18n import _


@click.group("stores")
def stores_group() -> None:
    """The chain's stores as a tree: HQ → region → store, any depth. Reports' --store takes any node and
    covers the stores below it.

    \b
    mms stores list
    mms stores add EAST 华东区 --kind region --parent HQ
    mms stores add SH1 上海一店 --parent EAST --phone 021-5555 --receipt-header '欢迎光临\\n会员日每周三'
    mms stores edit SH1 --address '上海市徐汇区…'
    mms stores move SH1 --parent WEST
    mms stores close SH1
    """


def _rows(stores: Iterable, fmt: str) -> Iterator[dict]:
    from mms_tui.services.staff.stores import KIND_NAMES

    machine = fmt in MACHINE_FORMATS
    for s in stores:
        yield {"code": s.code if machine else "· " * s.depth + s.code, "name": s.name,
               "kind": s.kind if machine else _(KIND_NAMES[s.kind]),
               "parent": s.parent or "", **({"depth": s.depth} if machine else {}), "address": s.address,
               "phone": s.phone,
               "receipt_header": s.receipt_header if machine else s.receipt_header.replace("\n", " / "),
               "closed_at": s.closed_at or "", "time_zone": s.time_zone}


def _kind_option(fn):
    return click.option("--kind", type=click.Choice(["hq", "region", "store"]),
                        help="What the node is: hq (总部), region (区域) or store (门店).")(fn)


def _details_options(fn):
    fn = click.option("--time-zone", metavar="ZONE",
                      help="The store's own IANA time zone (Asia/Urumqi) when it is not the chain's; '' for the "
                           "chain's (an admin's).")(fn)
    fn = click.option("--receipt-header", metavar="TEXT",
                      help="Printed at the top of the store's receipts; \\n starts a new line (at most 4).")(fn)
    fn = click.option("--phone", metavar="PHONE", help="The store's phone, printed on receipts.")(fn)
    return click.option("--address", metavar="TEXT", help="The store's address, printed on receipts.")(fn)


@stores_group.command("list")
@click.option("--under", metavar="CODE", help="Only this node and the stores below it.")
@click.option("--open", "open_only", is_flag=True, help="Leave closed stores out.")
@format_option()
@click.pass_context
def stores_list(ctx: click.Context, under: str | None, open_only: bool, fmt: str) -> None:
    """The stores in tree order, each under its parent (in tables a dot per level)."""
    from mms_tui.services.staff.stores import list_stores

    open_database(settings_of(ctx))
    write_rows(_rows(list_stores(under, include_closed=not open_only), fmt), fmt)


@stores_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", metavar="CODE", help="The node it goes under (default: a new root).")
@_kind_option
@_details_options
@staff_options("Admin recorded on the change.")
@format_option()
@click.pass_context
def stores_add(ctx: click.Context, code: str, name: str, parent: str | None, kind: str | None,
               address: str | None, phone: str | None, receipt_header: str | None, time_zone: str | None,
               staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Add a store (or a region, or an HQ) with this CODE and NAME."""
    from mms_tui.services.staff.stores import add_store

    open_database(settings_of(ctx))
    made = add_store(code, name, acting_staff(staff_code, pin_stdin), parent=parent, kind=kind or "store",
                     address=address or "", phone=phone or "", receipt_header=receipt_header or "",
                     time_zone=time_zone or "")
    write_rows(_rows([made], fmt), fmt)


@stores_group.command("edit")
@click.argument("code")
@click.option("--name", metavar="TEXT", help="A new name (an admin's).")
@_kind_option
@_details_options
@staff_options("Admin, or a manager of this store (address, phone and receipt header only), recorded on it.")
@format_option()
@click.pass_context
def stores_edit(ctx: click.Context, code: str, name: str | None, kind: str | None, address: str | None,
                phone: str | None, receipt_header: str | None, time_zone: str | None, staff_code: str | None,
                pin_stdin: bool, fmt: str) -> None:
    """Change a store's name, kind, address, phone, receipt header or time zone (what is not given stays)."""
    from mms_tui.services.staff.stores import edit_store

    open_database(settings_of(ctx))
    changed = edit_store(code, acting_staff(staff_code, pin_stdin), name=name, kind=kind, address=address,
                         phone=phone, receipt_header=receipt_header, time_zone=time_zone)
    write_rows(_rows([changed], fmt), fmt)


@stores_group.command("move")
@click.argument("code")
@click.option("--parent", metavar="CODE", help="The node it moves under.")
@click.option("--root", is_flag=True, help="Make it a root of the tree (no parent).")
@staff_options("Admin recorded on the change.")
@format_option()
@click.pass_context
def stores_move(ctx: click.Context, code: str, parent: str | None, root: bool, staff_code: str | None,
                pin_stdin: bool, fmt: str) -> None:
    """Move a store, with every store below it, under another parent."""
    from mms_tui.services.staff.stores import move_store

    if bool(parent) == root:
        raise click.ClickException(_("Say where it goes: --parent CODE or --root."))
    open_database(settings_of(ctx))
    moved = move_store(code, parent, acting_staff(staff_code, pin_stdin))
    write_rows(_rows([moved], fmt), fmt)


@stores_group.command("close")
@click.argument("code")
@staff_options("Admin recorded on the change.")
@format_option()
@click.pass_context
def stores_close(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Close a store now: its history stays in every report, it takes no new operation. Refused while a shift
    is open there or a store below it is open."""
    from mms_tui.services.staff.stores import close_store

    open_database(settings_of(ctx))
    write_rows(_rows([close_store(code, acting_staff(staff_code, pin_stdin))], fmt), fmt)

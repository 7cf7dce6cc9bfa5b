"""The chain's stores as a tree (总部 → 区域 → 门店, any depth): add, edit, move under another parent, close, list
in tree order, and the subtree of a node — what a report on that node, and later a manager's scope, covers.

A node's kind is a column (``Store.kind``), not read off the tree: a region is set up before its stores, and it
stays a region when its last store closes. A closed store keeps its history and takes no new operation
(:func:`mms_tui.services.base.resolve.refuse_closed`). Adding, renaming, moving and closing are an admin's
(``stores.manage``); a manager may edit the address, phone and receipt header of a store in their own store's
subtree (``stores.edit``). Every change is one audited event with the store as it was before and after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import STORE_KINDS, Shift, Staff, Store
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import has_role, require

KIND_NAMES = {"hq": N_("HQ"), "region": N_("region"), "store": N_("store")}

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,20}")
_PHONE = re.compile(r"[0-9+() -]{0,30}")
#: a receipt header is a few short lines at the top of the slip
HEADER_LINES, HEADER_CHARS = 4, 200


@dataclass(frozen=True)
class StoreInfo:
    id: int
    code: str
    name: str
    kind: str
    parent: str | None  # the parent's code
    depth: int  # 0 for a root
    address: str
    phone: str
    receipt_header: str
    closed_at: str | None  # the store's local time it closed, to the minute
    time_zone: str = ""  # its own IANA zone; empty: the chain's


def _tree() -> tuple[dict[int, Store], dict[int | None, list[Store]]]:
    """Every store by id, and the children of each (None: the roots), ordered by code. A chain has tens of
    stores, so the tree is read whole and walked here: the same on SQLite and PostgreSQL."""
    stores = {s.id: s for s in Store.select().order_by(Store.code)}
    children: dict[int | None, list[Store]] = {}
    for store in stores.values():
        children.setdefault(store.parent_id, []).append(store)
    return stores, children


def _below(children: dict[int | None, list[Store]], root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(child.id for child in children.get(node, []))
    return found


def find_store(store: Store | int | str) -> Store:
    """A store by id or code (closed ones too), or NotFound naming it."""
    if isinstance(store, Store):
        store = store.id
    found = Store.get_or_none(Store.id == store if isinstance(store, int) else Store.code == str(store).strip())
    if found is None:
        raise NotFound(_("No store {store!r}.").format(store=store))
    return found


def subtree(store: Store | int | str) -> list[int]:
    """The ids of the store and every store below it (closed ones too: their history counts)."""
    root = find_store(store)
    return sorted(_below(_tree()[1], root.id))


def _depth(stores: dict[int, Store], store_id: int) -> int:
    depth, node = 0, stores[store_id]
    while node.parent_id is not None:
        depth, node = depth + 1, stores[node.parent_id]
    return depth


def _info(store: Store, stores: dict[int, Store], depth: int) -> StoreInfo:
    parent = stores.get(store.parent_id) if store.parent_id is not None else None
    return StoreInfo(store.id, store.code, store.name, store.kind, parent.code if parent else None, depth,
                     store.address, store.phone, store.receipt_header,
                     str(store.closed_at)[:16] if store.closed_at is not None else None, store.time_zone or "")


def list_stores(under: Store | int | str | None = None, *, include_closed: bool = True) -> list[StoreInfo]:
    """The stores in tree order (each node before its children, siblings by code), or only ``under``'s subtree."""
    stores, children = _tree()
    roots = [find_store(under)] if under is not None else children.get(None, [])
    listed: list[StoreInfo] = []

    def walk(store: Store, depth: int) -> None:
        if include_closed or store.closed_at is None:
            listed.append(_info(store, stores, depth))
        for child in children.get(store.id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, _depth(stores, root.id))
    return listed


def state_of(store: Store) -> dict[str, object]:
    """What an audited change of a store records of it, before and after."""
    parent = Store.get_or_none(Store.id == store.parent_id) if store.parent_id is not None else None
    return {"code": store.code, "name": store.name, "kind": store.kind, "parent": parent.code if parent else None,
            "address": store.address, "phone": store.phone, "receipt_header": store.receipt_header,
            "closed_at": str(store.closed_at)[:19] if store.closed_at is not None else None,
            "time_zone": store.time_zone or ""}


def _clean_zone(name: str) -> str:
    """A store's own time zone: an IANA name (Asia/Urumqi), or empty for the chain's."""
    text = (name or "").strip()
    if not text:
        return ""
    try:
        return clock.parse_zone(text).key
    except ValueError:
        raise InvalidInput(_("Time zone: {zone!r} is not a time zone; give an IANA name such as Asia/Shanghai, or "
                             "nothing for the chain's.").format(zone=name)) from None


def _clean_code(code: str) -> str:
    code = (code or "").strip()
    if not _CODE.fullmatch(code):
        raise InvalidInput(_("Store code: 1 to 20 letters, digits, '-', '_' or '.' (got {code!r}).").format(
            code=code))
    return code


def _clean_text(value: str, field: str, longest: int, *, required: bool = False) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise InvalidInput(_("Store {field} is required.").format(field=_(field)))
    if len(value) > longest:
        raise InvalidInput(_("Store {field}: at most {n} characters.").format(field=_(field), n=longest))
    return value


def _clean_phone(phone: str) -> str:
    phone = (phone or "").strip()
    if not _PHONE.fullmatch(phone):
        raise InvalidInput(_("Store phone: digits, spaces, '+', '-' and brackets, at most 30 (got {phone!r}).")
                           .format(phone=phone))
    return phone


def _clean_header(text: str) -> str:
    lines = [line.rstrip() for line in (text or "").replace("\r\n", "\n").replace("\\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > HEADER_LINES or sum(len(line) for line in lines) > HEADER_CHARS:
        raise InvalidInput(_("Receipt header: at most {lines} lines and {chars} characters.").format(
            lines=HEADER_LINES, chars=HEADER_CHARS))
    return "\n".join(lines)


def _clean_kind(kind: str) -> str:
    if kind not in STORE_KINDS:
        raise InvalidInput(_("Store kind must be one of: {kinds}.").format(kinds=", ".join(STORE_KINDS)))
    return kind


def _open_parent(parent: Store | int | str) -> Store:
    try:
        found = find_store(parent)
    except NotFound:
        raise NotFound(_("Parent store: no store {store!r}.").format(store=parent)) from None
    if found.closed_at is not None:
        raise InvalidInput(_("Parent store {code} is closed.").format(code=found.code))
    return found


def _stored(store: Store) -> StoreInfo:
    stores = _tree()[0]
    return _info(stores[store.id], stores, _depth(stores, store.id))


def _record(action: str, store: Store, by: Staff, before: dict[str, object] | None) -> None:
    fresh = Store.get_by_id(store.id)
    audit(action, f"store:{store.id}", staff=by, store=fresh, payload={"before": before, "after": state_of(fresh)})


def add_store(code: str, name: str, by: Staff, *, parent: Store | int | str | None = None, kind: str = "store",
              address: str = "", phone: str = "", receipt_header: str = "", time_zone: str = "") -> StoreInfo:
    """A new node of the tree (an admin's), under ``parent`` (None: a new root); ``time_zone``: its own, when it
    is not the chain's."""
    require(by, "stores.manage")
    code = _clean_code(code)
    values = {"code": code, "name": _clean_text(name, N_("name"), 100, required=True), "kind": _clean_kind(kind),
              "address": _clean_text(address, N_("address"), 200), "phone": _clean_phone(phone),
              "receipt_header": _clean_header(receipt_header), "time_zone": _clean_zone(time_zone)}
    with write_transaction():
        if Store.get_or_none(Store.code == code) is not None:
            raise InvalidInput(_("Store code {code} is already taken.").format(code=code))
        parent_obj = _open_parent(parent) if parent is not None else None
        store = Store.create(parent=parent_obj, **values)
        _record("store.add", store, by, None)
    return _stored(store)


#: what a manager may change of a store in their own subtree; the rest of an edit is an admin's
MANAGER_FIELDS = ("address", "phone", "receipt_header")


def edit_store(store: Store | int | str, by: Staff, *, name: str | None = None, kind: str | None = None,
               address: str | None = None, phone: str | None = None,
               receipt_header: str | None = None, time_zone: str | None = None) -> StoreInfo:
    """Change what is given (None: left as it is). Renaming, the kind and the time zone are an admin's; a manager
    may change the address, phone and receipt header of a store at or below their own."""
    require(by, "stores.edit")
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _clean_text(name, N_("name"), 100, required=True)
    if kind is not None:
        changes["kind"] = _clean_kind(kind)
    if address is not None:
        changes["address"] = _clean_text(address, N_("address"), 200)
    if phone is not None:
        changes["phone"] = _clean_phone(phone)
    if receipt_header is not None:
        changes["receipt_header"] = _clean_header(receipt_header)
    if time_zone is not None:
        changes["time_zone"] = _clean_zone(time_zone)
    if not changes:
        raise InvalidInput(_("Nothing to change: give a name, kind, address, phone, receipt header or time zone."))
    target = find_store(store)
    if any(field not in MANAGER_FIELDS for field in changes):
        require(by, "stores.manage")
    elif not has_role(by, "admin") and (by.store_id is None or target.id not in subtree(by.store_id)):
        raise PermissionDenied(_("{name} may edit only their own store's details, not {code}'s.").format(
            name=by.name, code=target.code))
    with write_transaction():
        target = find_store(target.id)
        before = state_of(target)
        Store.update(**changes).where(Store.id == target.id).execute()
        _record("store.edit", target, by, before)
    if "time_zone" in changes:
        clock.forget()  # this process may serve the store: its zone is read again
    return _stored(target)


def move_store(store: Store | int | str, parent: Store | int | str | None, by: Staff) -> StoreInfo:
    """Put the store (and its subtree) under ``parent`` (None: make it a root). A store cannot go under itself
    or under one of its own stores."""
    require(by, "stores.manage")
    with write_transaction():
        target = find_store(store)
        new_parent = _open_parent(parent) if parent is not None else None
        if new_parent is not None and new_parent.id in subtree(target.id):
            raise InvalidInput(_("Store {code} cannot move under {parent}: {parent} is {code} or one of its "
                                 "stores.").format(code=target.code, parent=new_parent.code))
        before = state_of(target)
        Store.update(parent=new_parent.id if new_parent else None).where(Store.id == target.id).execute()
        _record("store.move", target, by, before)
    return _stored(target)


def close_store(store: Store | int | str, by: Staff) -> StoreInfo:
    """Close a store now: its history stays in every report; it takes no new operation. Refused while a shift
    is open there, or while a store below it is still open."""
    require(by, "stores.manage")
    with write_transaction():
        target = find_store(store)
        if target.closed_at is not None:
            raise InvalidInput(_("Store {code} is already closed.").format(code=target.code))
        open_shifts = list(Shift.select(Staff.code).join(Staff, on=(Shift.staff == Staff.id))
                           .where((Shift.store == target.id) & Shift.closed_at.is_null()).tuples())
        if open_shifts:
            raise InvalidInput(_("Store {code} has open shifts ({staff}); close them first.").format(
                code=target.code, staff=", ".join(sorted(code for (code,) in open_shifts))))
        still_open = [s.code for s in Store.select().where(Store.id.in_(subtree(target.id))
                                                           & (Store.id != target.id) & Store.closed_at.is_null())]
        if still_open:
            raise InvalidInput(_("Store {code} still has open stores below it ({stores}); close or move them "
                                 "first.").format(code=target.code, stores=", ".join(sorted(still_open))))
        before = state_of(target)
        Store.update(closed_at=clock.now()).where(Store.id == target.id).execute()
        _record("store.close", target, by, before)
    return _stored(target)

"""房间 / 器械: a store's rooms and resources, which appointments and group classes book. A manager adds them to
the stores they look after and takes them out of use (never deleted: bookings name them). Every change is an
audited state (``mms check`` holds the row to it)."""

from __future__ import annotations

from dataclasses import dataclass

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Room, Staff, Store
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.staff.permissions import in_store_scope, require


@dataclass(frozen=True)
class RoomRow:
    id: int
    code: str
    name: str
    store: str
    active: bool


def _row(room: Room) -> RoomRow:
    return RoomRow(room.id, room.code, room.name, Store.get_by_id(room.store_id).code, bool(room.active))


def _managed_store(by: Staff, store: Store | str | None) -> Store:
    require(by, "rooms.manage")
    where = resolve_store(store, by, writing=True)
    if not in_store_scope(by, where.id):
        raise PermissionDenied(_("{name} does not manage store {store}.").format(name=by.name, store=where.code))
    return where


def add_room(code: str, name: str, store: Store | str | None, by: Staff) -> RoomRow:
    """A new room of ``store`` (the manager's own when None). Codes are unique across the chain."""
    code, name = (code or "").strip(), (name or "").strip()
    if not code or len(code) > 20:
        raise InvalidInput(_("A room needs a code of 1 to 20 characters."))
    if not name or len(name) > 50:
        raise InvalidInput(_("A room needs a name of 1 to 50 characters."))
    with write_transaction():
        where = _managed_store(by, store)
        if Room.get_or_none(Room.code == code) is not None:
            raise InvalidInput(_("There is a room {code} already.").format(code=code))
        room = Room.create(code=code, name=name, store=where)
        record_states("room", [room.id], staff=by, store=where)
    return _row(Room.get_by_id(room.id))


def set_room_active(code: str, active: bool, by: Staff) -> RoomRow:
    """Take a room out of use (nothing new is booked in it) or back into use."""
    with write_transaction():
        room = find_room(code)
        where = _managed_store(by, room.store_id)
        if bool(room.active) != active:
            Room.update(active=active).where(Room.id == room.id).execute()
            record_states("room", [room.id], staff=by, store=where)
    return _row(Room.get_by_id(room.id))


def find_room(code: str) -> Room:
    room = Room.get_or_none(Room.code == (code or "").strip())
    if room is None:
        raise NotFound(_("No room {code!r}.").format(code=code))
    return room


def list_rooms(store: Store | str | None = None, *, include_inactive: bool = False) -> list[RoomRow]:
    """The rooms of ``store`` (or of every store), by store and code."""
    query = Room.select()
    if store is not None:
        query = query.where(Room.store == resolve_store(store).id)
    if not include_inactive:
        query = query.where(Room.active == True)  # noqa: E712
    stores = {s.id: s.code for s in Store.select()}
    return sorted((RoomRow(r.id, r.code, r.name, stores[r.store_id], bool(r.active)) for r in query),
                  key=lambda r: (r.store, r.code))

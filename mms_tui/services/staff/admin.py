"""Staff administration (员工管理): add, edit, disable and enable staff, reset a PIN, list them with their last
login; performers (技师/教练: stylists, coaches, therapists) who serve members but never log in, with their level
and the services they may perform.

Who may: an admin manages everyone; a manager manages the staff of their own store and grants no role above
their own (so never admin); a cashier manages no one (:func:`_require_manages`). Each change is one audited event
whose payload holds the account ``before`` and ``after`` (never a PIN) and the ``state`` ``mms check`` holds the
account to.

A performer's row keeps the least login role (cashier) with no PIN: the login refuses it as an unknown code, and
the role only matters to someone who can log in. Lists and forms show such a row's role as ``performer``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import STAFF_ROLES, ServiceItem, Staff, StaffService, Store
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.base.resolve import find_card, resolve_store
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.accounts import hash_pin, state_of
from mms_tui.services.staff.permissions import ROLE_NAMES, ROLE_RANK, in_store_scope, require

#: what lists show as the role of a performer
PERFORMER = "performer"
#: levels a shop commonly uses (the field takes any short text; commission and price rules match it as written)
LEVELS = ("助理", "技师", "高级", "首席")
_CODE = re.compile(r"\S{1,20}")


@dataclass(frozen=True)
class StaffRow:
    code: str
    name: str
    role: str  # cashier, manager, admin, or performer
    store: str  # the store's code, "" for none
    card_no: str
    level: str
    services: tuple[str, ...]  # codes of the services they may perform
    active: bool
    must_change_pin: bool
    last_login_at: dt.datetime | None


def _services_of(staff_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    ids = list(staff_ids)
    found: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        query = (StaffService.select(StaffService.staff, ServiceItem.code).join(ServiceItem)
                 .where(StaffService.staff.in_(ids)).order_by(ServiceItem.code).tuples())
        for staff_id, code in query:
            found[staff_id].append(code)
    return {i: tuple(codes) for i, codes in found.items()}


def _row(staff: Staff, stores: dict[int, str], services: tuple[str, ...]) -> StaffRow:
    return StaffRow(staff.code, staff.name, PERFORMER if staff.performer else staff.role,
                    stores.get(staff.store_id, "") if staff.store_id else "", staff.card_no or "", staff.level or "",
                    services, bool(staff.active), bool(staff.must_change_pin), staff.last_login_at)


def _store_codes() -> dict[int, str]:
    return dict(Store.select(Store.id, Store.code).tuples())


def staff_row(staff: Staff) -> StaffRow:
    return _row(staff, _store_codes(), _services_of([staff.id])[staff.id])


def _snapshot(staff: Staff) -> dict[str, object]:
    """What an audited change records of the account before and after (never the PIN)."""
    row = staff_row(staff)
    return {"code": row.code, "name": row.name, "role": row.role, "store": row.store, "card_no": row.card_no,
            "level": row.level, "services": list(row.services), "active": row.active,
            "must_change_pin": row.must_change_pin}


def list_staff(by: Staff, *, store: str | None = None, include_disabled: bool = True) -> list[StaffRow]:
    """The staff ``by`` manages (a manager: their store's; an admin: everyone, or one ``store``), by store and
    code, with their last login."""
    require(by, "staff.manage")
    query = Staff.select().order_by(Staff.store, Staff.code)
    if store is not None:
        query = query.where(Staff.store == resolve_store(store).id)
    if not include_disabled:
        query = query.where(Staff.active == True)  # noqa: E712
    found = [s for s in query if in_store_scope(by, s.store_id)]
    stores, services = _store_codes(), _services_of(s.id for s in found)
    return [_row(s, stores, services[s.id]) for s in found]


def _require_manages(by: Staff, store_id: int | None, role: str, what: str) -> None:
    """Refuse unless ``by`` may manage staff of ``store_id`` holding ``role`` (checked for the account as it is
    and as it would become)."""
    require(by, "staff.manage")
    if not in_store_scope(by, store_id):
        raise PermissionDenied(_("{name} manages the staff of their own store only, not {who}.").format(
            name=by.name, who=what))
    if ROLE_RANK.get(role, 0) > ROLE_RANK[by.role]:
        raise PermissionDenied(_("{name} ({role}) may not grant the role {granted}.").format(
            name=by.name, role=_(ROLE_NAMES[by.role]), granted=_(ROLE_NAMES[role])))


def _target(code: str) -> Staff:
    staff = Staff.get_or_none(Staff.code == (code or "").strip())
    if staff is None:
        raise NotFound(_("No staff member {code!r}.").format(code=code))
    return staff


def _checked_text(value: str, field: str, longest: int, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(_("{field} is required.").format(field=field))
        return None
    if len(text) > longest:
        raise InvalidInput(_("{field} is longer than {n} characters.").format(field=field, n=longest))
    return text


def _checked_role(role: str) -> str:
    if role not in STAFF_ROLES:
        raise InvalidInput(_("Role must be one of: {roles}.").format(roles=", ".join(STAFF_ROLES)))
    return role


def _checked_card(card_no: str | None, staff_id: int | None) -> str | None:
    card = _checked_text(card_no or "", _("Staff card"), 64, required=False)
    if card is None:
        return None
    holder = Staff.get_or_none(Staff.card_no == card)
    if holder is not None and holder.id != staff_id:
        raise InvalidInput(_("Staff card {card} already belongs to {code}.").format(card=card, code=holder.code))
    if find_card(card) is not None:
        raise InvalidInput(_("Staff card {card} is a member's card number.").format(card=card))
    return card


def _checked_services(codes: Iterable[str]) -> list[int]:
    wanted = [c.strip() for c in codes if c and c.strip()]
    found = dict(ServiceItem.select(ServiceItem.code, ServiceItem.id)
                 .where(ServiceItem.code.in_(wanted) & (ServiceItem.active == True)).tuples())  # noqa: E712
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise InvalidInput(_("Services: no active service {codes}.").format(codes=", ".join(unknown)))
    return sorted(set(found.values()))


def _set_services(staff_id: int, service_ids: list[int]) -> None:
    StaffService.delete().where(StaffService.staff == staff_id).execute()
    if service_ids:
        StaffService.insert_many([{"staff": staff_id, "service": s} for s in service_ids]).execute()


def _store_of(store: str | None, by: Staff) -> Store | None:
    """The store named, else the acting staff member's own."""
    if store is not None and store.strip():
        return resolve_store(store.strip())
    return Store.get_by_id(by.store_id) if by.store_id is not None else None


def _write(action: str, staff: Staff, by: Staff, before: dict[str, object] | None) -> StaffRow:
    """The audited event of a change made in the caller's write transaction: before, after, and the state."""
    fresh = Staff.get_by_id(staff.id)
    store = Store.get_by_id(fresh.store_id) if fresh.store_id is not None else None
    audit(action, f"staff:{fresh.id}", staff=by, store=store,
          payload={"before": before, "after": _snapshot(fresh), "state": state_of(fresh)})
    return staff_row(fresh)


def _duplicate(code: str) -> InvalidInput:
    return InvalidInput(_("Staff code {code} is already taken.").format(code=code))


def add_staff(code: str, name: str, *, by: Staff, role: str = "cashier", store: str | None = None,
              pin: str | None = None, card_no: str | None = None, performer: bool = False,
              level: str | None = None, services: Iterable[str] = ()) -> StaffRow:
    """A new staff member: one who logs in (``role`` and ``pin``) or a ``performer`` (no PIN, never logs in),
    at ``store`` (default: the store of ``by``)."""
    code = (code or "").strip()
    if not _CODE.fullmatch(code):
        raise InvalidInput(_("Staff code: 1 to 20 characters without spaces."))
    name = _checked_text(name, _("Name"), 50)
    role = _checked_role(role)
    if performer:
        if role != "cashier":
            raise InvalidInput(_("Role: a performer does not log in and holds no role."))
        if pin is not None:
            raise InvalidInput(_("PIN: a performer does not log in and has no PIN."))
        pin_hash = ""
    else:
        if pin is None:
            raise InvalidInput(_("PIN: a staff member who logs in needs one."))
        pin_hash = hash_pin(pin)
    where = _store_of(store, by)
    if where is None and role != "admin":
        raise InvalidInput(_("Store: a {role} works at one store; name it.").format(role=_(ROLE_NAMES[role])))
    _require_manages(by, where.id if where else None, role, code)
    level = _checked_text(level or "", _("Level"), 20, required=False)
    service_ids = _checked_services(services)
    try:
        with write_transaction():
            if Staff.get_or_none(Staff.code == code) is not None:
                raise _duplicate(code)
            card = _checked_card(card_no, None)
            staff = Staff.create(code=code, name=name, role=role, pin_hash=pin_hash, store=where, card_no=card,
                                 performer=performer, level=level)
            _set_services(staff.id, service_ids)
            return _write("staff.create", staff, by, None)
    except peewee.IntegrityError:  # the same code or card saved by another desk at the same moment
        raise _duplicate(code) from None


def edit_staff(code: str, *, by: Staff, name: str | None = None, role: str | None = None, store: str | None = None,
               card_no: str | None = None, level: str | None = None,
               services: Iterable[str] | None = None) -> StaffRow:
    """Change what is given (None: unchanged; an empty ``card_no`` or ``level`` clears it). ``by`` must manage
    the account as it is and as it becomes."""
    staff = _target(code)
    _require_manages(by, staff.store_id, staff.role, staff.code)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _checked_text(name, _("Name"), 50)
    if role is not None and role != staff.role:
        if staff.performer:
            raise InvalidInput(_("Role: {code} is a performer and does not log in.").format(code=staff.code))
        changes["role"] = _checked_role(role)
        if staff.id == by.id:
            raise PermissionDenied(_("Role: nobody changes their own role."))
    if store is not None:
        changes["store"] = resolve_store(store.strip()).id if store.strip() else None
    if level is not None:
        changes["level"] = _checked_text(level, _("Level"), 20, required=False)
    new_store = changes.get("store", staff.store_id)
    new_role = str(changes.get("role", staff.role))
    if new_store is None and new_role != "admin":
        raise InvalidInput(_("Store: a {role} works at one store; name it.").format(role=_(ROLE_NAMES[new_role])))
    _require_manages(by, new_store, new_role, staff.code)  # type: ignore[arg-type]
    service_ids = _checked_services(services) if services is not None else None
    try:
        with write_transaction():
            before = _snapshot(staff)
            if card_no is not None:
                changes["card_no"] = _checked_card(card_no, staff.id)
            if staff.role == "admin" and new_role != "admin":
                _keep_an_admin(staff)
            if changes:
                Staff.update(**changes).where(Staff.id == staff.id).execute()
            if service_ids is not None:
                _set_services(staff.id, service_ids)
            return _write("staff.edit", staff, by, before)
    except peewee.IntegrityError:
        raise InvalidInput(_("Staff card {card} already belongs to another staff member.").format(
            card=card_no)) from None


def _keep_an_admin(staff: Staff) -> None:
    others = Staff.select().where((Staff.role == "admin") & (Staff.active == True)  # noqa: E712
                                  & (Staff.id != staff.id)).exists()
    if not others:
        raise InvalidInput(_("{code} is the last active admin; make another admin first.").format(code=staff.code))


def set_staff_active(code: str, active: bool, *, by: Staff) -> StaffRow:
    """Disable (the account logs in no more; its history stays) or enable a staff member."""
    staff = _target(code)
    _require_manages(by, staff.store_id, staff.role, staff.code)
    if not active and staff.id == by.id:
        raise PermissionDenied(_("Nobody disables their own account."))
    with write_transaction():
        before = _snapshot(staff)
        if not active and staff.role == "admin" and staff.active:
            _keep_an_admin(staff)
        Staff.update(active=active).where(Staff.id == staff.id).execute()
        return _write("staff.enable" if active else "staff.disable", staff, by, before)


def reset_pin(code: str, new_pin: str, *, by: Staff) -> StaffRow:
    """Give a staff member a temporary PIN (and lift a lockout): it opens no desk until its owner replaces it
    (:func:`mms_tui.services.staff.accounts.set_own_pin`)."""
    staff = _target(code)
    _require_manages(by, staff.store_id, staff.role, staff.code)
    if staff.performer:
        raise InvalidInput(_("PIN: {code} is a performer and does not log in.").format(code=staff.code))
    pin_hash = hash_pin(new_pin)
    with write_transaction():
        before = _snapshot(staff)
        Staff.update(pin_hash=pin_hash, must_change_pin=True, failed_logins=0, last_failed_at=None,
                     locked_until=None).where(Staff.id == staff.id).execute()
        return _write("staff.reset_pin", staff, by, before)


"""Staff accounts and PINs (argon2 hashes, never the PIN itself)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mms_tui.db import write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import STAFF_ROLES, Staff, Store
from mms_tui.services.errors import InvalidInput, NotFound, PermissionDenied, WrongPin
from mms_tui.services.ledger import audit

# Desk logins happen all day; these costs keep a verify well under 100 ms on a counter PC.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_PIN = re.compile(r"^\d{4,8}$")
ROLE_RANK = {"cashier": 0, "manager": 1, "admin": 2}
ROLE_NAMES = {"cashier": N_("cashier"), "manager": N_("manager"), "admin": N_("admin")}


@dataclass(frozen=True)
class StaffInfo:
    id: int
    code: str
    name: str
    role: str
    store_id: int | None


def _info(staff: Staff) -> StaffInfo:
    return StaffInfo(staff.id, staff.code, staff.name, staff.role, staff.store_id)


def hash_pin(pin: str) -> str:
    if not isinstance(pin, str) or not _PIN.match(pin):
        raise InvalidInput(_("A PIN is 4 to 8 digits."))
    return _hasher.hash(pin)


def create_staff(
    code: str, name: str, role: str, pin: str, store: Store | None = None, card_no: str | None = None
) -> StaffInfo:
    code = code.strip()
    if not code or not name.strip():
        raise InvalidInput(_("Staff code and name are required."))
    if role not in STAFF_ROLES:
        raise InvalidInput(_("Role must be one of: {roles}.").format(roles=", ".join(STAFF_ROLES)))
    pin_hash = hash_pin(pin)
    with write_transaction():
        if Staff.get_or_none(Staff.code == code) is not None:
            raise InvalidInput(_("Staff code {code} is already taken.").format(code=code))
        staff = Staff.create(code=code, name=name.strip(), role=role, pin_hash=pin_hash, store=store, card_no=card_no)
        audit("staff.create", f"staff:{staff.id}", staff=None, store=store, payload={"code": code, "role": role})
    return _info(staff)


def authenticate(code: str, pin: str) -> Staff:
    """The staff member for this code and PIN, or WrongPin (the same message whichever part was wrong)."""
    staff = Staff.get_or_none((Staff.code == (code or "").strip()) & (Staff.active == True))  # noqa: E712
    ok = False
    if staff is not None:
        try:
            ok = _hasher.verify(staff.pin_hash, pin or "")
        except (VerificationError, InvalidHashError):
            ok = False
    if not ok:
        with write_transaction():
            if staff is not None:
                Staff.update(failed_logins=Staff.failed_logins + 1).where(Staff.id == staff.id).execute()
            audit("staff.login_failed", f"staff:{staff.id if staff else code}", staff=None, store=None)
        raise WrongPin(_("Wrong staff code or PIN."))
    if staff.failed_logins:
        with write_transaction():
            Staff.update(failed_logins=0).where(Staff.id == staff.id).execute()
    return staff


def staff_code_for_card(card_no: str) -> str | None:
    """The code of the active staff member whose card this is (staff cards log in with code filled, PIN asked)."""
    staff = Staff.get_or_none((Staff.card_no == (card_no or "").strip()) & (Staff.active == True))  # noqa: E712
    return staff.code if staff else None


def first_admin() -> Staff:
    """Who a command line change is recorded under when no staff code is given: the first active admin."""
    admin = Staff.select().where((Staff.role == "admin") & (Staff.active == True)).order_by(Staff.id).first()  # noqa: E712
    if admin is None:
        raise NotFound(_("No admin exists yet; run 'mms init' first."))
    return admin


def staff_or_first_admin(staff: Staff | str | None) -> Staff:
    """Who a command line or batch change is recorded under: the staff named (``--staff CODE``), else the first
    active admin."""
    from mms_tui.services.common import resolve_staff

    return resolve_staff(staff) if staff else first_admin()


def require_role(staff: Staff, role: str) -> None:
    if ROLE_RANK.get(staff.role, -1) < ROLE_RANK[role]:
        raise PermissionDenied(
            _("{name} ({role}) may not do this; a {needed} must.").format(
                name=staff.name, role=_(ROLE_NAMES.get(staff.role, staff.role)), needed=_(ROLE_NAMES[role]))
        )


def change_pin(staff: Staff, old_pin: str, new_pin: str) -> None:
    authenticate(staff.code, old_pin)
    new_hash = hash_pin(new_pin)
    with write_transaction():
        Staff.update(pin_hash=new_hash).where(Staff.id == staff.id).execute()
        audit("staff.change_pin", f"staff:{staff.id}", staff=staff, store=None)

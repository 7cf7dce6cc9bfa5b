"""Staff accounts, PINs (argon2 hashes, never the PIN itself) and the one place every role check is decided.

PINs are throttled per staff account in the database, so every desk, the lock screen, each manager approval and
every process see the same count: after a wrong PIN the next try waits a moment (refused unchecked until then),
and after ``lock_after`` wrong PINs in a row the account takes no PIN for ``lock_minutes`` or until a manager
unlocks it (setting ``pin_throttle``). An unknown code costs the same hash check as a known one.

Permissions are named (:data:`PERMISSIONS`); a screen or a command asks :func:`may` to decide what to offer and the
service itself calls :func:`require`, so no entry point can skip a check.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import STAFF_ROLES, Staff, Store
from mms_tui.services.base.errors import (
    AccountLocked,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PinChangeRequired,
    PinWait,
    WrongPin,
)
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import may_work_at, require

# Desk logins happen all day; these costs keep a verify well under 100 ms on a counter PC.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_PIN = re.compile(r"[0-9]{4,8}")  # ASCII digits only: \d would take ١٢٣٤ too


@dataclass(frozen=True)
class StaffInfo:
    id: int
    code: str
    name: str
    role: str
    store_id: int | None


def _info(staff: Staff) -> StaffInfo:
    return StaffInfo(staff.id, staff.code, staff.name, staff.role, staff.store_id)


def state_of(staff: Staff) -> dict[str, object]:
    """What an audited change of a staff account records of it (``mms check`` holds the account to it)."""
    from mms_tui.services.ledger.chain import staff_state

    return staff_state(staff.code, staff.role, staff.active, staff.store_id, staff.pin_hash)


def normalise_pin(pin: str) -> str:
    """The PIN as it is hashed and checked: full-width digits (１２３４, what a Chinese input method types) are
    the ASCII digits they show. Setting a PIN and checking one both go through here, so the same keys always
    give the same PIN."""
    return unicodedata.normalize("NFKC", pin) if isinstance(pin, str) and not pin.isascii() else pin


def check_pin(pin: str) -> str:
    """The normalised PIN, or InvalidInput unless it is 4 to 8 digits (before anything is written with it)."""
    pin = normalise_pin(pin)
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise InvalidInput(_("A PIN is 4 to 8 digits."))
    return pin


def hash_pin(pin: str) -> str:
    return _hasher.hash(check_pin(pin))


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
        audit("staff.create", f"staff:{staff.id}", staff=None, store=store,
              payload={"code": code, "role": role, "state": state_of(staff)})
    return _info(staff)


#: checked against when the code is unknown, so a wrong code costs the same time as a wrong PIN: a hash made once
#: by ``_hasher`` (same cost settings; a test holds them equal) and written here, not made at import — that took
#: 30 ms of every start of the desk and of every command
_NOBODY = "$argon2id$v=19$m=19456,t=2,p=1$gS8FeOw1DMoRZbYUGprEFg$ei+9fYAUAz7GuvntvUpR3EfnCZVMi87MqH+uo1DT/I0"


@dataclass(frozen=True)
class PinPolicy:
    waits: tuple[int, ...]  # seconds to wait after the 1st, 2nd, … wrong PIN in a row (the last one repeats)
    lock_after: int  # wrong PINs in a row that lock the account (0: never)
    lock_minutes: int


def pin_policy() -> PinPolicy:
    from mms_tui.services.base.config import get_config

    raw = get_config("pin_throttle") or {}
    waits = tuple(max(0, int(w)) for w in raw.get("waits", [0]) or [0])
    return PinPolicy(waits, max(0, int(raw.get("lock_after", 5))), max(1, int(raw.get("lock_minutes", 5))))


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))


def _refuse_while_waiting(staff: Staff, now: dt.datetime, policy: PinPolicy) -> None:
    """A locked account, or a try too soon after a wrong PIN, is refused before the PIN is looked at."""
    if staff.locked_until is not None and staff.locked_until > now:
        raise AccountLocked(_(
            "Too many wrong PINs: {code} is locked until {time}; a manager can unlock it sooner."
        ).format(code=staff.code, time=staff.locked_until.strftime("%H:%M:%S")),
            _seconds_until(staff.locked_until, now))
    if staff.failed_logins and staff.last_failed_at is not None:
        wait = policy.waits[min(staff.failed_logins, len(policy.waits)) - 1]
        ready = staff.last_failed_at + dt.timedelta(seconds=wait)
        if ready > now:
            seconds = _seconds_until(ready, now)
            raise PinWait(_("Wrong PIN: wait {n} s before the next try.").format(n=seconds), seconds)


def _verify(pin_hash: str, pin: str) -> bool:
    def matches(candidate: str) -> bool:
        try:
            return _hasher.verify(pin_hash, candidate)
        except (VerificationError, InvalidHashError):
            return False

    pin = pin or ""
    if matches(normalise_pin(pin)):
        return True
    # a PIN set in full-width digits before they were normalised was hashed as typed: it still opens with them
    return normalise_pin(pin) != pin and matches(pin)


def _pin_holder(code: str, pin: str) -> Staff:
    """The active staff member who logs in with this code and PIN, or WrongPin (the same message whichever part
    was wrong), PinWait when a try comes too soon after a wrong PIN, AccountLocked after too many in a row. A
    disabled account and a performer (who has no PIN) answer as an unknown code does."""
    code = (code or "").strip()
    staff = Staff.get_or_none((Staff.code == code) & (Staff.active == True) & (Staff.performer == False))  # noqa: E712
    now = clock.now()
    policy = pin_policy()
    if staff is not None:
        _refuse_while_waiting(staff, now, policy)
    ok = _verify(staff.pin_hash if staff is not None else _NOBODY, pin) and staff is not None
    if not ok:
        locked_until = None
        with write_transaction():
            if staff is not None:
                Staff.update(failed_logins=Staff.failed_logins + 1, last_failed_at=now).where(
                    Staff.id == staff.id).execute()
                failures = Staff.get_by_id(staff.id).failed_logins
                if policy.lock_after and failures >= policy.lock_after:
                    locked_until = now + dt.timedelta(minutes=policy.lock_minutes)
                    Staff.update(locked_until=locked_until).where(Staff.id == staff.id).execute()
                    audit("staff.locked", f"staff:{staff.id}", staff=None, store=None,
                          payload={"failures": failures, "until": locked_until})
            audit("staff.login_failed", f"staff:{staff.id if staff else code[:40]}", staff=None, store=None)
        if locked_until is not None:
            _refuse_while_waiting(Staff.get_by_id(staff.id), now, policy)
        wait = 0
        if staff is not None:  # the wait before the next try starts now: the desk counts it down at once
            failures = Staff.get_by_id(staff.id).failed_logins
            wait = policy.waits[min(failures, len(policy.waits)) - 1]
        raise WrongPin(_("Wrong staff code or PIN."), wait)
    return staff


def authenticate(code: str, pin: str, store: Store | str | None = None) -> Staff:
    """The staff member for this code and PIN (see :func:`_pin_holder` for the refusals). Every desk's login,
    lock screen and manager approval comes here, so the count is one per account.

    A login at a desk names the desk's ``store``: a staff member bound to another store is refused there (admins
    work anywhere). A PIN a manager reset opens nothing: :class:`PinChangeRequired` until its owner sets a new
    one with :func:`set_own_pin`."""
    from mms_tui.services.base.resolve import resolve_store

    staff = _pin_holder(code, pin)
    refusal: DomainError | None = None
    if store is not None:
        desk = resolve_store(store)
        if not may_work_at(staff, desk.id):
            refusal = PermissionDenied(_("{name} works at another store and may not log in at {store}.").format(
                name=staff.name, store=desk.code))
    if refusal is None and staff.must_change_pin:
        refusal = PinChangeRequired(_("{code}'s PIN was reset: set a new PIN before logging in.").format(
            code=staff.code))
    login = {} if refusal is not None else {"last_login_at": clock.now()}
    with write_transaction():  # the PIN was right: its wrong tries are forgiven even when the login is refused
        Staff.update(failed_logins=0, last_failed_at=None, locked_until=None, **login).where(
            Staff.id == staff.id).execute()
    if refusal is not None:
        raise refusal
    return staff


def unlock_staff(code: str, by: Staff) -> None:
    """Lift a PIN lockout (and the wait after wrong PINs) before it runs out."""
    require(by, "staff.unlock")
    staff = Staff.get_or_none(Staff.code == (code or "").strip())
    if staff is None:
        raise NotFound(_("No staff member {code!r}.").format(code=code))
    with write_transaction():
        Staff.update(failed_logins=0, last_failed_at=None, locked_until=None).where(Staff.id == staff.id).execute()
        audit("staff.unlock", f"staff:{staff.id}", staff=by, store=None)


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
    """Who a batch change made by the program itself is recorded under: the staff given, else the first active
    admin. A command line naming a staff member goes through :func:`command_staff`, which checks their PIN."""
    from mms_tui.services.base.resolve import resolve_staff

    return resolve_staff(staff) if staff else first_admin()


def command_staff(code: str | None, pin: str | None) -> Staff:
    """Who a command-line change is made by. ``--staff CODE`` is believed only with that staff member's PIN,
    checked (throttled and locked) like a login at a desk; without ``--staff`` the change is the trusted
    account's — whoever runs mms at a shell with the database file's permissions (scheduled jobs) — recorded
    under the first admin."""
    if not code:
        return first_admin()
    if pin is None:
        raise InvalidInput(_("--staff {code} needs that staff member's PIN: type it when asked, or pass it on "
                             "standard input with --pin-stdin.").format(code=code))
    return authenticate(code, pin)


def set_own_pin(code: str, current_pin: str, new_pin: str) -> Staff:
    """A staff member replaces their own PIN — the one a manager reset (what the login asks for after
    :class:`PinChangeRequired`) or their usual one. The current PIN is checked (throttled and locked like a
    login); the new one must differ from it. Returns the account, free to log in with the new PIN."""
    staff = _pin_holder(code, current_pin)
    new_pin = check_pin(new_pin)
    if _verify(staff.pin_hash, new_pin):
        raise InvalidInput(_("The new PIN must differ from the current one."))
    new_hash = hash_pin(new_pin)
    with write_transaction():
        Staff.update(pin_hash=new_hash, must_change_pin=False, failed_logins=0, last_failed_at=None,
                     locked_until=None).where(Staff.id == staff.id).execute()
        changed = Staff.get_by_id(staff.id)
        audit("staff.change_pin", f"staff:{staff.id}", staff=changed, store=None,
              payload={"state": state_of(changed)})
    return changed

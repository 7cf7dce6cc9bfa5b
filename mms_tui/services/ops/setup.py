"""Opening a database and setting it up: schema, the first store, default tiers and card types, the first admin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import peewee

from mms_tui import clock
from mms_tui.db import (
    DatabaseError,
    database,
    database_fault,
    describe,
    init_database,
    is_sqlite,
    write_transaction,
)
from mms_tui.i18n import _
from mms_tui.models import Card, CardType, Member, Staff, Store, Tier, Transaction
from mms_tui.models.migrations import LATEST, current_version, migrate
from mms_tui.services.base.config import set_config
from mms_tui.services.base.errors import InvalidInput, SchemaMissing
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.staff.accounts import check_pin, create_staff

#: (code, name, rank); what each gives is the default rules' (loyalty.rules.DEFAULT_TIER_LEVELS)
DEFAULT_TIERS = [
    ("NORMAL", "普通会员", 0),
    ("SILVER", "银卡会员", 1),
    ("GOLD", "金卡会员", 2),
    ("DIAMOND", "钻石会员", 3),
]

#: (code, name, kind, price_fen, validity_days, visits, discount_bp, period_days)
DEFAULT_CARD_TYPES = [
    ("SV", "储值卡", "stored_value", 0, None, 0, 10000, None),
    ("PT", "积分卡", "points", 0, None, 0, 10000, None),
    ("DC88", "88折卡", "discount", 19_900, 365, 0, 8800, None),
    ("V10", "10次卡", "visits", 50_000, 180, 10, 10000, None),
    ("V30", "30次卡", "visits", 120_000, 365, 30, 10000, None),
    ("M1", "月卡", "period", 30_000, None, 0, 10000, 30),
    ("Q1", "季卡", "period", 80_000, None, 0, 10000, 90),
    ("Y1", "年卡", "period", 280_000, None, 0, 10000, 365),
]


@dataclass(frozen=True)
class InitResult:
    applied: list[int]
    version: int
    store_code: str
    admin_created: bool
    room: str = ""  # the room an upgrade left free inside the file, and how to hand it back ("" when none)


@dataclass(frozen=True)
class DatabaseInfo:
    location: str
    schema_version: int
    latest_version: int
    stores: int
    staff: int
    members: int
    cards: int
    transactions: int
    time_zone: str


def connect(target: str, *, create: bool = True, new_folder: bool = True) -> None:
    """Point the models at ``target`` and make sure it can be reached (a clear error, not a driver traceback).

    With ``new_folder`` False (a path someone typed) a SQLite file in a folder that does not exist is refused
    rather than the folder made (a typo would otherwise start an empty shop somewhere); the default locations make
    theirs. With ``create`` False (a command that only reads) a file that does not exist is refused too, instead
    of being made empty by opening it."""
    if "://" not in target:
        path = Path(target).expanduser()
        if not new_folder and not path.parent.is_dir():
            raise DatabaseError(_("Cannot open the database {target}: the folder {folder} does not exist (create it "
                                  "first: mkdir -p {folder}).").format(target=target, folder=path.parent))
        if not create and not path.exists():
            raise SchemaMissing(_("There is no database at {target}; run 'mms init' (or 'mms demo').").format(
                target=target))
    db = init_database(target)
    try:
        db.connect(reuse_if_open=True)
    except (peewee.DatabaseError, peewee.ImproperlyConfigured) as exc:  # a driver not installed is one line too
        error = database_fault(exc) or " ".join(str(exc).split())  # the server's hints come on lines of their own
        raise DatabaseError(_("Cannot open the database {target}: {error}").format(target=target, error=error)) from None


def open_store(target: str) -> None:
    """Connect and insist on a current schema: the desk never runs on a half-made database."""
    connect(target, create=False)
    version = current_version()
    if version == 0:
        raise SchemaMissing(_("The database {target} is not set up; run 'mms init' (or 'mms demo').").format(target=target))
    if version < LATEST:
        raise SchemaMissing(
            _("The database is at schema {have}; this program needs {need}. Run 'mms upgrade'.").format(
                have=version, need=LATEST
            )
        )


def needs_admin() -> bool:
    return not Staff.select().where(Staff.role == "admin").exists()


#: migrations after which the file has much room free: 26 packed the stored results (the file shrinks by about a
#: quarter), 28 made indexes smaller, 29 copied the chains' links to a table of their own shape (the file grew by
#: the copy until the room is handed back), 30 moved most audit events onto their transactions
ROOMY_MIGRATIONS = {26, 28, 29, 30}


#: the share of the file that must be free inside it for ``VACUUM`` to be worth rewriting the whole file
ROOM_WORTH_VACUUM = 0.05
#: free disk kept beyond what ``VACUUM`` needs
DISK_MARGIN = 64 * 2**20


def _hand_back_room() -> str:
    """After a migration in :data:`ROOMY_MIGRATIONS`, ``VACUUM`` rewrites the file without the room that became
    free, when that room is worth it. It needs free disk twice the file's size — SQLite's temporary copy (in the
    temporary folder) and the write-ahead log beside the database, which holds the whole new file until the
    checkpoint after — and without it the database stays as it is, the room reused as it grows. Returns what the
    upgrade should say when the room was left in the file ("" when it was handed back or not worth it)."""
    import logging
    import shutil
    import tempfile

    page_size = database.execute_sql("PRAGMA page_size").fetchone()[0]
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    free = database.execute_sql("PRAGMA freelist_count").fetchone()[0]
    if not pages or free < pages * ROOM_WORTH_VACUUM:
        return ""
    path = Path(database.execute_sql("PRAGMA database_list").fetchone()[2])
    size, room = pages * page_size, free * page_size
    folders = {path.parent, Path(tempfile.gettempdir())}
    need: dict[int, int] = {}
    for folder in folders:  # (the two on one disk need both copies' room there)
        need[folder.stat().st_dev] = need.get(folder.stat().st_dev, 0) + size
    short = [(folder, shutil.disk_usage(folder).free, need[folder.stat().st_dev]) for folder in folders
             if shutil.disk_usage(folder).free < need[folder.stat().st_dev] + DISK_MARGIN]
    left = _("The upgrade left {room} MB free inside {path}; it is used again as the database grows. To hand it back "
             "to the disk, run 'sqlite3 {path} VACUUM' with every desk closed, with {need} MB free on the disk.")
    if short:
        folder, has, needs = short[0]
        logging.getLogger(__name__).warning("VACUUM after the upgrade left out: %s has %d bytes free, needs %d",
                                            folder, has, needs)
        return left.format(room=room // 10**6, path=path, need=(needs + DISK_MARGIN) // 10**6)
    try:
        database.execute_sql("VACUUM")
    except peewee.OperationalError as exc:
        logging.getLogger(__name__).warning("VACUUM after the upgrade left out: %s", exc)
        return left.format(room=room // 10**6, path=path, need=(2 * size + DISK_MARGIN) // 10**6)
    finally:
        try:
            database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # (the log held the whole new file)
        except peewee.OperationalError as exc:  # (the log is checkpointed later, as any)
            logging.getLogger(__name__).warning("checkpoint after VACUUM left out: %s", exc)
    return ""


def initialise(
    *,
    store_code: str = "HQ",
    store_name: str = "总店",
    admin_code: str | None = None,
    admin_name: str = "",
    admin_pin: str | None = None,
    time_zone: str | None = None,
) -> InitResult:
    """Create or upgrade the schema; add the first store, tiers, card types and (when given) the first admin.

    The admin's code and PIN are checked before anything is made: a PIN such as ``abc`` must not leave a database
    set up with no admin to log in."""
    if admin_pin is not None:
        check_pin(admin_pin)
        if not (admin_code or "").strip():
            raise InvalidInput(_("Staff code and name are required."))
    if time_zone is not None:
        zone = checked_time_zone(time_zone)
    version_before = current_version()
    applied = migrate()
    room = ""
    if set(applied) & ROOMY_MIGRATIONS and version_before > 0 and is_sqlite():
        room = _hand_back_room()
    with write_transaction():
        if time_zone is not None:
            set_config("time_zone", zone)
        store = Store.get_or_none(Store.code == store_code)
        if store is None and not Store.select().exists():
            store = Store.create(code=store_code, name=store_name)
        if 12 in applied and version_before > 0:  # tier terms moved into the rules: audit what it made
            from mms_tui.services.loyalty.rules_store import audit_migrated_rules  # (not at every start)

            audit_migrated_rules("migration 12: the tiers' discount, multiplier and upgrade spend moved here")
            record_states("tier")
        if 13 in applied and version_before > 0:  # the tiers' fixed prices moved to the price lists' table
            record_states("item_price")
        if not Tier.select().exists():
            Tier.insert_many([dict(code=c, name=n, rank=r) for c, n, r in DEFAULT_TIERS]).execute()
            record_states("tier")
        if not CardType.select().exists():
            CardType.insert_many(
                [dict(code=c, name=n, kind=k, price_fen=pr, validity_days=v, visits=vi, discount_bp=d, period_days=pd)
                 for c, n, k, pr, v, vi, d, pd in DEFAULT_CARD_TYPES]
            ).execute()
            record_states("card_type")
    created = False
    if admin_code and admin_pin is not None and needs_admin():
        create_staff(admin_code, admin_name or admin_code, "admin", admin_pin,
                     store=Store.select().order_by(Store.id).first())
        created = True
    first = Store.select().order_by(Store.id).first()
    return InitResult(applied, current_version(), first.code if first else store_code, created, room)


def checked_time_zone(name: str) -> str:
    """An IANA time zone name (``Asia/Shanghai``), or one clear message."""
    try:
        return clock.parse_zone(name).key
    except ValueError:
        raise InvalidInput(_("Unknown time zone {zone!r}: give a name such as Asia/Shanghai.").format(
            zone=name)) from None


def info() -> DatabaseInfo:
    version = current_version()

    def count(model: type[peewee.Model]) -> int:
        return model.select().count() if version else 0

    return DatabaseInfo(describe(), version, LATEST, count(Store), count(Staff), count(Member), count(Card),
                        count(Transaction), clock.zone_name())

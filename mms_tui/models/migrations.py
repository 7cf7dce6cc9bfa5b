"""Numbered schema migrations, recorded in ``schema_version``.

A new database gets every table from the current models in one step and is stamped with the latest number; an
existing one runs, in order, each migration it has not recorded. A migration is a function of the database and a
``playhouse.migrate`` migrator; add new ones to the end of ``MIGRATIONS`` and never edit a released one.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from mms_tui.db import database, write_transaction
from mms_tui.models import ALL_MODELS, SchemaVersion

Migration = Callable[[peewee.Database, object], None]


def _initial(db: peewee.Database, migrator: object) -> None:
    db.create_tables(ALL_MODELS)


def _report_indexes(db: peewee.Database, migrator: object) -> None:
    """The indexes the reports read with at a million members (issue #5). The models declare the same ones, so a
    new database has them from the start; they are written out here rather than taken from the models so that
    this step stays what it is when the models change again."""
    # (card, account) grows an amount: the liability report adds up the card ledger from this index alone
    db.execute_sql('DROP INDEX IF EXISTS "ledger_entry_card_id_account"')
    for name, table, columns in REPORT_INDEXES:
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})')


#: (index, table, columns) made by migration 2
REPORT_INDEXES = [
    ("ledger_entry_card_id_account_amount", "ledger_entry", '"card_id", "account", "amount"'),
    ("ledger_transaction_kind_day", "ledger_transaction", '"kind", date("created_at"), "created_at"'),
    ("sale_line_sale_id_category_line_total_fen", "sale_line", '"sale_id", "category", "line_total_fen"'),
    ("sale_member_id_status_created_at_total_fen", "sale", '"member_id", "status", "created_at", "total_fen"'),
    ("visit_member_id_status_created_at", "visit", '"member_id", "status", "created_at"'),
    ("card_card_type_id_status_valid_until_issued_at_store_id", "card",
     '"card_type_id", "status", "valid_until", "issued_at", "store_id"'),
    ("member_created_at_home_store_id", "member", '"created_at", "home_store_id"'),
]

def _drop_prefix_indexes(db: peewee.Database, migrator: object) -> None:
    """Indexes whose columns begin a composite index: the composite serves every query they served (and the
    foreign key checks), so they only cost time on each write and in a big import (issue #5)."""
    for name in PREFIX_INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


#: dropped by migration 3: ledger_entry(card_id) begins (card_id, account, amount); card(card_type_id) begins the
#: cards report's (card_type_id, status, valid_until, issued_at, store_id)
PREFIX_INDEXES = ["ledger_entry_card_id", "card_card_type_id"]

def _loyalty(db: peewee.Database, migrator: object) -> None:
    """Issue #6: coupons; families, annual fees; transferable packages, passes from first use, freeze limits."""
    from playhouse.migrate import migrate as run

    from mms_tui.models import Card, CardType, Coupon, Member

    db.create_tables([Coupon])
    columns = {
        "member": [("family_id", Member.family), ("fees_paid_until", Member.fees_paid_until)],
        "card_type": [("transferable", CardType.transferable), ("start_on_first_use", CardType.start_on_first_use),
                      ("max_freeze_days", CardType.max_freeze_days)],
        "card": [("freeze_year", Card.freeze_year), ("freeze_days_year", Card.freeze_days_year)],
    }
    for table, fields in columns.items():
        have = {c.name for c in db.get_columns(table)}
        run(*[migrator.add_column(table, name, field)  # type: ignore[attr-defined]
              for name, field in fields if name not in have])


def _desk_safety(db: peewee.Database, migrator: object) -> None:
    """Issue #14: the PIN throttle and lockout on each staff account; shifts (交班)."""
    from playhouse.migrate import migrate as run

    from mms_tui.models import Shift, Staff

    have = {c.name for c in db.get_columns("staff")}
    run(*[migrator.add_column("staff", name, field)  # type: ignore[attr-defined]
          for name, field in (("last_failed_at", Staff.last_failed_at), ("locked_until", Staff.locked_until),
                              ("last_login_at", Staff.last_login_at)) if name not in have])
    db.create_tables([Shift])


def _chains(db: peewee.Database, migrator: object) -> None:
    """Issue #15: hash chains over the ledger and the audit, built over the history already there."""
    from mms_tui.models import ChainHead, ChainLink
    from mms_tui.services.ledger.chain import STATE_COLUMNS, rebuild, record_staff_states, record_states

    db.create_tables([ChainHead, ChainLink])
    record_staff_states()
    for table in STATE_COLUMNS:  # the catalogue and tiers as they stand: held to this from now on
        record_states(table)
    rebuild()


#: (number, name, function); numbers are consecutive from 1
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema", _initial),
    (2, "indexes for the reports", _report_indexes),
    (3, "drop indexes that composite ones cover", _drop_prefix_indexes),
    (4, "loyalty: coupons, families, fees, passes", _loyalty),
    (5, "desk safety: PIN lockout, shifts", _desk_safety),
    (6, "tamper evidence: hash chains", _chains),
]

LATEST = MIGRATIONS[-1][0]


def current_version() -> int:
    """0 for an empty database."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def migrate() -> list[int]:
    """Create or upgrade the schema; return the numbers applied now (empty when already current)."""
    applied: list[int] = []
    version = current_version()
    if version > LATEST:
        raise RuntimeError(
            f"database schema {version} is newer than this program knows ({LATEST}); upgrade mms first"
        )
    db = database.obj
    migrator = SqliteMigrator(db) if isinstance(db, peewee.SqliteDatabase) else PostgresqlMigrator(db)
    with write_transaction():
        if version == 0:
            db.create_tables(ALL_MODELS)
            for number, name, _fn in MIGRATIONS:
                SchemaVersion.create(version=number, name=name)
                applied.append(number)
            return applied
        for number, name, fn in MIGRATIONS:
            if number > version:
                fn(db, migrator)
                SchemaVersion.create(version=number, name=name)
                applied.append(number)
    return applied

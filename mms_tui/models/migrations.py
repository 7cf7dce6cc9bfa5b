"""Numbered schema migrations, recorded in ``schema_version``.

A new database gets every table from the current models in one step and is stamped with the latest number; an
existing one runs, in order, each migration it has not recorded. A migration is a function of the database and a
``playhouse.migrate`` migrator; add new ones to the end of ``MIGRATIONS`` and never edit a released one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import peewee
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from mms_tui import clock
from mms_tui.db import database, is_sqlite, write_transaction
from mms_tui.models import ALL_MODELS, Config, SchemaVersion

Migration = Callable[[peewee.Database, object], None]


def _add_columns(db: peewee.Database, migrator: object, table: str, fields: list[tuple[str, peewee.Field]]) -> None:
    """Add the columns ``table`` lacks. A NOT NULL column is added in place with its default: peewee's
    add_column makes one on SQLite by rebuilding the table, which fails as soon as another table's rows point at
    it (a card type with cards, a member with cards, a staff member with transactions) — an upgrade of a real
    shop would stop there (tests/test_upgrade_golden.py)."""
    from playhouse.migrate import migrate as run

    have = {c.name for c in db.get_columns(table)}
    for name, field in fields:
        if name in have:
            continue
        if field.null:
            run(migrator.add_column(table, name, field))  # type: ignore[attr-defined]
            continue
        given = [c for c in field.constraints or [] if isinstance(c, peewee.SQL) and c.sql.upper().startswith("DEFAULT")]
        saved = field.constraints
        if not given:
            value = field.default
            literal = (("1" if value else "0") if is_sqlite() else ("TRUE" if value else "FALSE")) \
                if isinstance(value, bool) else str(value) if isinstance(value, int) \
                else "'" + str(value).replace("'", "''") + "'"
            field.constraints = [*(saved or []), peewee.SQL(f"DEFAULT {literal}")]
        try:  # (peewee's alter_add_column would make it NULL first: the column is written out here)
            ctx = db.get_sql_context()
            sql, params = ctx.sql(field.ddl(ctx)).query()
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {sql}', params)
        finally:
            field.constraints = saved


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
    from mms_tui.models import Card, CardType, Coupon, Member

    db.create_tables([Coupon])
    columns = {
        "member": [("family_id", Member.family), ("fees_paid_until", Member.fees_paid_until)],
        "card_type": [("transferable", CardType.transferable), ("start_on_first_use", CardType.start_on_first_use),
                      ("max_freeze_days", CardType.max_freeze_days)],
        "card": [("freeze_year", Card.freeze_year), ("freeze_days_year", Card.freeze_days_year)],
    }
    for table, fields in columns.items():
        _add_columns(db, migrator, table, fields)


def _desk_safety(db: peewee.Database, migrator: object) -> None:
    """Issue #14: the PIN throttle and lockout on each staff account; shifts (交班)."""
    from playhouse.migrate import migrate as run

    from mms_tui.models import Shift, Staff

    have = {c.name for c in db.get_columns("staff")}
    run(*[migrator.add_column("staff", name, field)  # type: ignore[attr-defined]
          for name, field in (("last_failed_at", Staff.last_failed_at), ("locked_until", Staff.locked_until),
                              ("last_login_at", Staff.last_login_at)) if name not in have])
    db.create_tables([Shift])


class _ChainLink6(peewee.Model):
    """``chain_link`` as migration 6 made it (a row id, indexes by (chain, seq) and by (kind, ref)); the model has
    changed since (migration 29), and the migrations between read this shape."""

    chain = peewee.IntegerField()
    seq = peewee.BigIntegerField()
    kind = peewee.CharField(max_length=8)
    ref = peewee.BigIntegerField()
    digest = peewee.BlobField()

    class Meta:
        database = database
        table_name = "chain_link"


_ChainLink6.add_index(peewee.ModelIndex(_ChainLink6, [_ChainLink6.chain, _ChainLink6.seq], unique=True,
                                        name="chain_link_chain_seq"))
_ChainLink6.add_index(peewee.ModelIndex(_ChainLink6, [_ChainLink6.kind, _ChainLink6.ref], unique=True,
                                        name="chain_link_kind_ref"))


def _chains(db: peewee.Database, migrator: object) -> None:
    """Issue #15: hash chains over the ledger and the audit, built over the history already there."""
    from mms_tui.models import ChainHead
    from mms_tui.services.ledger.chain import STATE_COLUMNS, rebuild, record_staff_states, record_states

    db.create_tables([ChainHead, _ChainLink6])
    record_staff_states()
    for table in STATE_COLUMNS:  # the catalogue and tiers as they stand: held to this from now on
        record_states(table)
    rebuild()


def _utc_moments(db: peewee.Database, migrator: object) -> None:
    """Issue #16: time decided once. Every timestamp was the desk's naive local time; now it is stored as UTC
    (``Moment`` fields), ledger transactions carry their local day, and the database records its zone.

    The zone the old times were written in is the ``time_zone`` setting if there is one, else the system's. The
    hash chains were computed over those local times, so ``history_time_zone`` records the same zone: the chains
    write each moment in it and still verify (a new database's chains write UTC). An old time in the hour that
    happens twice when summer time ends is taken as the first of the two; one in the hour skipped when it starts
    as the same wall time before the change."""
    zone_name = _setting(db, TIME_ZONE_KEY) or clock.system_zone_name()
    zone = clock.parse_zone(zone_name)
    have = {c.name for c in db.get_columns("ledger_transaction")}
    if "local_day" not in have:
        # NOT NULL needs a default to be added to rows already there (SQLite could only drop it by rebuilding the
        # table the whole ledger hangs on); every insert writes the day, so the default never applies
        db.execute_sql('ALTER TABLE "ledger_transaction" ADD COLUMN "local_day" DATE NOT NULL DEFAULT \'1970-01-01\'')
    for table, key, column in MOMENTS_OF_7:
        _moments_to_utc(db, table, key, column, zone)
    if not is_sqlite():
        db.execute_sql('ALTER TABLE "ledger_transaction" ALTER COLUMN "local_day" DROP DEFAULT')
    db.execute_sql('DROP INDEX IF EXISTS "ledger_transaction_kind_day"')
    db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{LOCAL_DAY_INDEX}" ON "ledger_transaction" '
                   '("kind", "local_day", "created_at")')
    _record_zones(zone_name, zone_name)


#: (table, primary key, column) of every timestamp a database had when migration 7 came: what it converts (the
#: columns later migrations add are UTC from the start)
MOMENTS_OF_7 = [
    ("schema_version", "version", "applied_at"), ("store", "id", "created_at"), ("staff", "id", "created_at"),
    ("staff", "id", "last_failed_at"), ("staff", "id", "locked_until"), ("staff", "id", "last_login_at"),
    ("shift", "id", "opened_at"), ("shift", "id", "closed_at"), ("member", "id", "created_at"),
    ("card", "id", "issued_at"), ("ledger_transaction", "id", "created_at"), ("audit_event", "id", "created_at"),
    ("sale", "id", "created_at"), ("visit", "id", "created_at"), ("coupon", "id", "issued_at"),
    ("coupon", "id", "used_at"),
]
def _store_tree(db: peewee.Database, migrator: object) -> None:
    """Issue #17: the store tree's nodes get a kind (HQ, region, store), an address, a phone, a receipt header,
    and the moment they closed. Written out: peewee's migrator would make a NOT NULL column on SQLite by
    rebuilding the table, which every store's rows and foreign keys hang on; a default fills the rows there."""
    have = {c.name for c in db.get_columns("store")}
    for name, definition in STORE_TREE_COLUMNS:
        if name not in have:
            definition = definition.replace("TIMESTAMP", "DATETIME") if is_sqlite() else definition  # peewee's
            db.execute_sql(f'ALTER TABLE "store" ADD COLUMN "{name}" {definition}')


#: (column, definition) added by migration 10
STORE_TREE_COLUMNS = [
    ("kind", "VARCHAR(10) NOT NULL DEFAULT 'store' CHECK (kind IN ('hq','region','store'))"),
    ("address", "VARCHAR(200) NOT NULL DEFAULT ''"),
    ("phone", "VARCHAR(30) NOT NULL DEFAULT ''"),
    ("receipt_header", "TEXT NOT NULL DEFAULT ''"),
    ("closed_at", "TIMESTAMP"),
]


#: made by migration 7 in place of migration 2's index on date(created_at)
LOCAL_DAY_INDEX = "ledger_transaction_kind_local_day_created_at"
TIME_ZONE_KEY, HISTORY_TIME_ZONE_KEY = "time_zone", "history_time_zone"
#: rows converted per statement batch
BATCH = 5_000


def _setting(db: peewee.Database, key: str) -> str | None:
    row = db.execute_sql(f'SELECT "value" FROM "config" WHERE "key" = {db.param}', (key,)).fetchone()
    return json.loads(row[0]) if row else None


def _record_zones(zone: str, history: str) -> None:
    for key, value in ((TIME_ZONE_KEY, zone), (HISTORY_TIME_ZONE_KEY, history)):
        Config.insert(key=key, value=json.dumps(value)).on_conflict(
            conflict_target=[Config.key], update={Config.value: json.dumps(value)}).execute()


def _moments_to_utc(db: peewee.Database, table: str, key: str, column: str, zone: object) -> None:
    """One column of naive local times to naive UTC, in batches by primary key (a transaction's local day too)."""
    mark = db.param
    day = f', "local_day" = {mark}' if table == "ledger_transaction" else ""
    update = f'UPDATE "{table}" SET "{column}" = {mark}{day} WHERE "{key}" = {mark}'
    after: object = None
    while True:
        where = f'WHERE "{column}" IS NOT NULL' + (f' AND "{key}" > {mark}' if after is not None else "")
        rows = db.execute_sql(f'SELECT "{key}", "{column}" FROM "{table}" {where} ORDER BY "{key}" LIMIT {BATCH}',
                              () if after is None else (after,)).fetchall()
        if not rows:
            return
        changes = []
        for row_key, stored in rows:
            local = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(str(stored))
            utc = local.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)
            changes.append((utc, local.date(), row_key) if day else (utc, row_key))
        db.cursor().executemany(update, changes)
        after = rows[-1][0]


def _member_record(db: peewee.Database, migrator: object) -> None:
    """Issue #17: a member's address, email and preferences; tags; the shop's own member fields; marketing
    consent per channel."""
    from mms_tui.models import Consent, Member, MemberField, MemberFieldValue, MemberTag

    _add_columns(db, migrator, "member", [("address", Member.address), ("email", Member.email),
                                          ("preferences", Member.preferences)])
    db.create_tables([MemberTag, MemberField, MemberFieldValue, Consent])


def _staff_admin(db: peewee.Database, migrator: object) -> None:
    """Issue #17: staff administration — a PIN reset to be replaced at the next login, performers (技师/教练)
    with their level, and the services each staff member may perform."""
    from mms_tui.models import Staff, StaffService

    _add_columns(db, migrator, "staff", [("must_change_pin", Staff.must_change_pin), ("performer", Staff.performer),
                                         ("level", Staff.level)])
    db.create_tables([StaffService])


def _card_type_stores(db: peewee.Database, migrator: object) -> None:
    """Issue #17: card types sold only at some stores."""
    from mms_tui.models import CardTypeStore

    db.create_tables([CardTypeStore])


def _hundredths(value: int) -> int | str:
    """As the rules document writes a multiplier, a percent or yuan: 2 for a whole number, '1.5' otherwise."""
    return value // 100 if value % 100 == 0 else f"{value // 100}.{value % 100:02d}"


def _tier_terms_to_rules(db: peewee.Database, migrator: object) -> None:
    """Issue #17: what a tier gives and takes lives in one place. The tier table's discount, points multiplier
    and upgrade spend move into the loyalty rules document (``tiers.levels``: ``discount``, ``points_multiplier``,
    ``upgrade_at``), where the per-category discounts and keep thresholds already were; the columns are dropped.
    A value the document already sets for that tier is kept. With a basis other than spend the upgrade spend was
    not in force and is not carried over. The levels are always written out (``[]`` when no tier gave anything),
    since a document without them gives the default tiers the default terms. The move is audited by the set-up that ran the migration
    (:func:`mms_tui.services.ops.setup.initialise`), which records the document and the tiers' new state."""
    from playhouse.migrate import migrate as run

    have = {c.name for c in db.get_columns("tier")}
    columns = ("discount_bp", "points_pct", "upgrade_spend_fen")
    if not set(columns) <= have:
        return
    rows = db.execute_sql('SELECT "code", "discount_bp", "points_pct", "upgrade_spend_fen" FROM "tier" '
                          'ORDER BY "rank", "id"').fetchall()
    saved = Config.get_or_none(Config.key == "loyalty_rules")
    try:
        document = json.loads(saved.value) if saved is not None else {}
        tiers = document.setdefault("tiers", {})
        changed = "levels" not in tiers  # written out: left out, the default tiers' default terms would apply
        levels = tiers.setdefault("levels", [])
        basis = tiers.get("basis", "spend")
    except (ValueError, TypeError, AttributeError):
        raise RuntimeError("the saved loyalty rules cannot be read; import them again with 'mms rules import' "
                           "on the old version, then upgrade") from None
    for code, discount_bp, points_pct, upgrade_spend_fen in rows:
        terms: dict[str, object] = {}
        if discount_bp != 10_000:
            terms["discount"] = _hundredths(10_000 - discount_bp)
        if points_pct != 100:
            terms["points_multiplier"] = _hundredths(points_pct)
        if basis == "spend" and upgrade_spend_fen:
            terms["upgrade_at"] = _hundredths(upgrade_spend_fen)
            if isinstance(terms["upgrade_at"], int):
                terms["upgrade_at"] = str(terms["upgrade_at"])  # money is a string of yuan in the document
        if not terms:
            continue
        level = next((lv for lv in levels if isinstance(lv, dict) and lv.get("tier") == code), None)
        if level is None:
            level = {"tier": code}
            levels.append(level)
        for key, value in terms.items():
            if key not in level:
                level[key] = value
                changed = True
    if changed and rows:  # (no tiers yet: the set-up that follows makes the default ones, with the defaults)
        text = json.dumps(document, ensure_ascii=False)
        Config.insert(key="loyalty_rules", value=text).on_conflict(
            conflict_target=[Config.key], update={Config.value: text}).execute()
    run(*[migrator.drop_column("tier", column) for column in columns])  # type: ignore[attr-defined]


def _price_lists(db: peewee.Database, migrator: object) -> None:
    """Issue #17: price lists. Price levels a member can be given, and one table of prices per item, list (a
    tier's, a level's, or a store's retail) and store, which takes over the tiers' fixed prices (``tier_price``,
    chain-wide) and replaces that table. Each moved price keeps its recorded state on the chain under its new
    row (the set-up that ran the migration records it: :func:`mms_tui.services.ops.setup.initialise`)."""
    from playhouse.migrate import migrate as run

    from mms_tui.models import ItemPrice, Member, PriceLevel

    db.create_tables([PriceLevel, ItemPrice])
    if "price_level_id" not in {c.name for c in db.get_columns("member")}:
        run(migrator.add_column("member", "price_level_id", Member.price_level))  # type: ignore[attr-defined]
    if "tier_price" in db.get_tables():
        rows = db.execute_sql('SELECT "tier_id", "product_id", "service_id", "price_fen" FROM "tier_price" '
                              'ORDER BY "id"').fetchall()
        for tier_id, product_id, service_id, price_fen in rows:
            kind, item_id = ("product", product_id) if product_id is not None else ("service", service_id)
            ItemPrice.insert(key=f"{kind[0]}{item_id}:t{tier_id}:s0", product=product_id, service=service_id,
                             tier=tier_id, price_fen=price_fen).execute()
        db.execute_sql('DROP TABLE "tier_price"')


def _categories(db: peewee.Database, migrator: object) -> None:
    """Issue #17: categories as a managed list, started with every category the catalogue's items name."""
    from mms_tui.models import Category

    db.create_tables([Category])
    names = {name for (name,) in db.execute_sql('SELECT DISTINCT "category" FROM "product" UNION '
                                                'SELECT DISTINCT "category" FROM "service_item"').fetchall() if name}
    have = {name for (name,) in db.execute_sql('SELECT "name" FROM "category"').fetchall()}
    for name in sorted(names - have):
        Category.insert(name=name).execute()


def _card_uids(db: peewee.Database, migrator: object) -> None:
    """Issue #19: one tag, one card, whichever reader reads it. Reader UIDs become canonical hex (a 10-digit decimal
    — EM4100 as USB readers print it — becomes its 8 hex digits) and every card gets ``uid_tail``, the last 6 of
    them, which the lookup finds a read of any length by. A UID another card already holds in the new form stays
    as it was (the lookup still finds it as typed)."""
    from playhouse.migrate import migrate as run

    from mms_tui.devices.protocols import canonical_uid

    if "uid_tail" not in {c.name for c in db.get_columns("card")}:  # a new database has it from migration 1
        run(migrator.add_column("card", "uid_tail", peewee.CharField(max_length=6, null=True)))  # type: ignore[attr-defined]
        db.execute_sql('CREATE INDEX "card_uid_tail" ON "card" ("uid_tail")')
    rows = db.execute_sql('SELECT "id", "reader_uid" FROM "card" WHERE "reader_uid" IS NOT NULL').fetchall()
    taken = {uid for _id, uid in rows}
    for card_id, uid in rows:
        new = canonical_uid(uid) or uid
        if new != uid and new in taken:
            new = uid
        taken.add(new)
        db.execute_sql('UPDATE "card" SET "reader_uid" = %s, "uid_tail" = %s WHERE "id" = %s'.replace(
            "%s", db.param), (new, new[-6:], card_id))


def _attendance(db: peewee.Database, migrator: object) -> None:
    """Issue #20, attendance (考勤): staff punches (append-only; corrections are rows of their own) and rosters —
    a weekly pattern per staff member and dated exceptions."""
    from mms_tui.models import Punch, RosterDay, RosterException

    db.create_tables([Punch, RosterDay, RosterException])


def _commissions(db: peewee.Database, migrator: object) -> None:
    """Issue #20: commissions (提成), one row per line and staff member."""
    from mms_tui.models import Commission

    db.create_tables([Commission])


def _service_ratings(db: peewee.Database, migrator: object) -> None:
    """Issue #20: a member's 1–5 rating of a service's performer (服务表现)."""
    from mms_tui.models import ServiceRating

    db.create_tables([ServiceRating])


def _bookings(db: peewee.Database, migrator: object) -> None:
    """Issue #21: rooms, appointments (预约) and group classes (课程) with their waitlists."""
    from mms_tui.models import (
        Booking,
        BookingService,
        ClassBooking,
        ClassSession,
        ClassSlot,
        ClassType,
        Room,
        ServiceRoom,
    )

    db.create_tables([Room, ServiceRoom, Booking, BookingService, ClassType, ClassSlot, ClassSession, ClassBooking])


def _stock(db: peewee.Database, migrator: object) -> None:
    """Issue #22: stock (进销存) on a ledger of its own: suppliers, levels per product and store, movements,
    transfers, counts, what services consume; a product's base unit and a store's negative-stock policy."""
    from mms_tui.models import (
        ServiceConsumption,
        StockCount,
        StockCountLine,
        StockLevel,
        StockMove,
        StockTransfer,
        StockTransferLine,
        Supplier,
    )

    # written out: peewee's add_column makes a NOT NULL column on SQLite by rebuilding the table, which the sales'
    # lines and the stores' every row refuse (a shop at schema 19 could not upgrade); a default fills the rows
    if "unit" not in {c.name for c in db.get_columns("product")}:
        db.execute_sql('ALTER TABLE "product" ADD COLUMN "unit" VARCHAR(5) NOT NULL DEFAULT \'pcs\' '
                       "CHECK (unit IN ('pcs','ml','g'))")
    if "negative_stock" not in {c.name for c in db.get_columns("store")}:
        db.execute_sql('ALTER TABLE "store" ADD COLUMN "negative_stock" VARCHAR(6) NOT NULL DEFAULT \'refuse\' '
                       "CHECK (negative_stock IN ('refuse','warn'))")
    db.create_tables([Supplier, StockLevel, StockMove, StockTransfer, StockTransferLine, StockCount, StockCountLine,
                      ServiceConsumption])


def _messages(db: peewee.Database, migrator: object) -> None:
    """Issue #23: messages to members from an outbox, their templates and campaigns; service tickets; a member's
    WeChat openid; consent to service notices (消费提醒) beside marketing consent per channel."""
    from mms_tui.models import Campaign, Consent, Message, MessageTemplate, Ticket, TicketNote

    if "wechat_openid" not in {c.name for c in db.get_columns("member")}:
        # written out: peewee's add_column rebuilds SQLite's table for NOT NULL, which the members' cards forbid
        db.execute_sql('ALTER TABLE "member" ADD COLUMN "wechat_openid" VARCHAR(64) NOT NULL DEFAULT \'\'')
    # the channel's CHECK takes one more value: SQLite rebuilds the table, PostgreSQL replaces the constraint
    if isinstance(db, peewee.SqliteDatabase):
        db.execute_sql('ALTER TABLE "consent" RENAME TO "consent_before_21"')
        for (name,) in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index' "
                                      "AND tbl_name = 'consent_before_21' AND sql IS NOT NULL").fetchall():
            db.execute_sql(f'DROP INDEX "{name}"')
        db.create_tables([Consent])
        db.execute_sql('INSERT INTO "consent" ("id", "member_id", "channel", "given", "at", "staff_id") '
                       'SELECT "id", "member_id", "channel", "given", "at", "staff_id" FROM "consent_before_21"')
        db.execute_sql('DROP TABLE "consent_before_21"')
    else:
        db.execute_sql('ALTER TABLE "consent" DROP CONSTRAINT IF EXISTS "consent_channel_check"')
        db.execute_sql('ALTER TABLE "consent" ADD CONSTRAINT "consent_channel_check" '
                       "CHECK (channel IN ('sms','email','notices'))")
    db.create_tables([MessageTemplate, Campaign, Message, Ticket, TicketNote])


def _store_bound_cards(db: peewee.Database, migrator: object) -> None:
    """Issue #24: a card type may bind its cards to the stores it is sold at."""
    from mms_tui.models import CardType

    _add_columns(db, migrator, "card_type", [("bound", CardType.bound)])


def _store_zones(db: peewee.Database, migrator: object) -> None:
    """Issue #24: a store may keep a time zone of its own (empty: the chain's)."""
    from mms_tui.models import Store

    _add_columns(db, migrator, "store", [("time_zone", Store.time_zone)])


def _prompt_dismissals(db: peewee.Database, migrator: object) -> None:
    """Issue #25: prompts from a member's pattern that the desk put away."""
    from mms_tui.models import PromptDismissal

    db.create_tables([PromptDismissal])


def _payments(db: peewee.Database, migrator: object) -> None:
    """Issue #26: payment codes charged through WeChat Pay and Alipay — each attempt written before the provider is
    asked, each refund of one."""
    from mms_tui.models import PayAttempt, PayRefund

    db.create_tables([PayAttempt, PayRefund])


#: dropped by migration 26 (the models declare them no more): each of the first four begins a composite index of
#: its table; the others index a foreign key to staff, a store or an item — rows the product never deletes, so no
#: foreign key check reads them — and no statement of the test suite's plans reads with them (scripts/index_use.py)
PREFIX_INDEXES_26 = ["ledger_transaction_kind", "sale_member_id", "sale_line_sale_id", "visit_member_id",
                     "ledger_transaction_staff_id", "sale_staff_id", "visit_staff_id", "visit_store_id",
                     "sale_line_product_id", "sale_line_service_id"]
#: rows of ledger_transaction packed at a time by migration 26
_PACK_BATCH = 5_000


def _compact_results(db: peewee.Database, migrator: object) -> None:
    """Issue #27: a transaction's stored result becomes ``result``, raw DEFLATE against a dictionary of the
    results' key names (services/ledger/results.py) instead of JSON text — a fifth of the room; the SHA-256s
    (request fingerprints, the chains' digests) are kept as their 32 bytes instead of 64 hex characters; the
    indexes that composite ones cover are dropped. The chains hash stored results not at all and the SHA-256s as
    hex, as before, so every link still verifies. On SQLite the file hands the room back when ``initialise`` runs
    ``VACUUM`` after this migration."""
    from mms_tui.services.ledger.results import pack

    have = {c.name for c in db.get_columns("ledger_transaction")}
    if "result_json" in have:
        if "result" not in have:
            db.execute_sql('ALTER TABLE "ledger_transaction" ADD COLUMN "result" ' +
                           ("BLOB NOT NULL DEFAULT X''" if isinstance(db, peewee.SqliteDatabase)
                            else "BYTEA NOT NULL DEFAULT ''::bytea"))
        last = 0
        while True:
            rows = db.execute_sql('SELECT "id", "result_json" FROM "ledger_transaction" WHERE "id" > %s '
                                  'ORDER BY "id" LIMIT %s'.replace("%s", db.param), (last, _PACK_BATCH)).fetchall()
            if not rows:
                break
            packed = [(pack(text or "{}"), tx_id) for tx_id, text in rows]
            if isinstance(db, peewee.SqliteDatabase):
                db.cursor().executemany('UPDATE "ledger_transaction" SET "result" = ? WHERE "id" = ?', packed)
            else:
                from psycopg2.extras import execute_values

                execute_values(db.cursor(), 'UPDATE "ledger_transaction" AS t SET "result" = v.r FROM (VALUES %s) '
                               'AS v(r, id) WHERE t."id" = v.id', packed, template="(%s::bytea, %s)",
                               page_size=1_000)
            last = rows[-1][0]
        db.execute_sql('ALTER TABLE "ledger_transaction" DROP COLUMN "result_json"')
    links_key = ("id",) if "id" in {c.name for c in db.get_columns("chain_link")} else ("chain", "seq")
    for table, column, key in (("ledger_transaction", "request_hash", ("id",)),  # (links in the order written, by id,
                               ("chain_link", "digest", links_key), ("chain_head", "digest", ("chain",))):  # as 6 made them)
        _hex_to_bytes(db, table, column, key)
    for name in PREFIX_INDEXES_26:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


#: dropped by migration 27 (the model declares it no more): a store's transactions are read by period — their
#: moments (created_at) or days (kind, local_day, created_at) — and an equality on the store led SQLite's planner,
#: which keeps no statistics, to read every transaction the store ever made instead of the period's: the desk's
#: day summary (shown each time the desk comes back) took 2.3 s at a million members, the shift's figures at
#: login as long. Stores are never deleted, so no foreign key check reads it.
STORE_INDEX_27 = "ledger_transaction_store_id"


def _drop_store_index(db: peewee.Database, migrator: object) -> None:
    db.execute_sql(f'DROP INDEX IF EXISTS "{STORE_INDEX_27}"')


#: remade by migration 28 over the rows that have a value (models/base.py ``index_of_set``): (index, table, columns,
#: unique). At a million members they held a million empty entries each (a card replaced, a family, a price level:
#: 9 MB each; a transaction that reverses one: 14 MB), and the card ledger's covering index held every entry of the
#: revenue, tender and points accounts, which are on no card (132 MB, half of it for them)
SET_INDEXES_28 = [
    ("member_family_id", "member", '"family_id"', False),
    ("member_price_level_id", "member", '"price_level_id"', False),
    ("ledger_transaction_reverses_id", "ledger_transaction", '"reverses_id"', True),
    ("card_reader_uid", "card", '"reader_uid"', True),
    ("card_uid_tail", "card", '"uid_tail"', False),
    ("card_barcode", "card", '"barcode"', True),
    ("card_replaced_by_id", "card", '"replaced_by_id"', False),
    ("ledger_entry_card_id_account_amount", "ledger_entry", '"card_id", "account", "amount"', False),
]


#: dropped by migration 28 (the model declares it no more): 105 MB at a million members. Three statements read with
#: it — the tier review's points earned, and settlement's card principal (twice) — each asking for one account
#: that holds a sixth of the ledger or more; at a million members they take as long without it (1.8–1.9 s, was
#: 1.6–2.3 s), and the desk's day and shift reads it misled (tests/test_plans.py) never read it again
ACCOUNT_INDEX_28 = "ledger_entry_account"


def _indexes_of_set(db: peewee.Database, migrator: object) -> None:
    """Issue #27: the indexes of mostly empty columns keep only the rows that have a value, and the ledger's index
    by account goes. Dropped and made again inside the migration's one transaction: no other connection ever sees
    the table without its unique index."""
    db.execute_sql(f'DROP INDEX IF EXISTS "{ACCOUNT_INDEX_28}"')
    for name, table, columns, unique in SET_INDEXES_28:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        db.execute_sql(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON "{table}" ({columns}) '
                       f'WHERE ({columns.split(",")[0]} IS NOT NULL)')


def _hex_to_bytes(db: peewee.Database, table: str, column: str, key: tuple[str, ...]) -> None:
    """A column of SHA-256s in hex text becomes their 32 bytes (half the room; services/ledger/chain.py reads
    either). On SQLite, whose columns take any type, each value in hex is replaced and any other text (a
    generator's placeholder) stays as it was chained; PostgreSQL's column becomes ``bytea``, other text its UTF-8
    bytes (the only placeholder ever written is the empty one, which reads back the same)."""
    import re

    if not isinstance(db, peewee.SqliteDatabase):
        kind = db.execute_sql("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                              "current_schema() AND table_name = %s AND column_name = %s", (table, column)).fetchone()
        if kind is not None and kind[0] == "bytea":  # made bytea by migration 6 from today's models
            return
        db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BYTEA USING CASE WHEN "{column}" ~ '
                       f"'^[0-9a-f]{{64}}$' THEN decode(\"{column}\", 'hex') ELSE convert_to(\"{column}\", "
                       "'UTF8') END")
        return
    sha = re.compile("[0-9a-f]{64}")
    names = ", ".join(f'"{k}"' for k in key)  # (a table's key: its id, or a link's chain and place in it)
    marks = ", ".join("?" for _k in key)
    last: tuple = (-1,) * len(key)  # (ids, chain numbers and places are 0 or more)
    while True:
        rows = db.execute_sql(f'SELECT {names}, "{column}" FROM "{table}" WHERE typeof("{column}") = \'text\' '
                              f'AND ({names}) > ({marks}) ORDER BY {names} LIMIT ?', (*last, _PACK_BATCH)).fetchall()
        if not rows:
            break
        db.cursor().executemany(f'UPDATE "{table}" SET "{column}" = ? WHERE ({names}) = ({marks})',
                                [(bytes.fromhex(row[-1]), *row[:-1]) for row in rows if sha.fullmatch(row[-1])])
        last = tuple(rows[-1][:-1])


#: dropped by migration 29 with the row id: the links are kept in (chain, seq) order, the table's own key
CHAIN_INDEXES_29 = ["chain_link_chain_seq", "chain_link_kind_ref"]


def _rowidless_chain_links(db: peewee.Database, migrator: object) -> None:
    """Issue #27: the chain's links keyed by (chain, seq) alone — on SQLite a ``WITHOUT ROWID`` table in that
    order, the links copied over in it, on PostgreSQL the same key as the primary one — with no row id and no
    index by (kind, ref) (models/ledger.py ``ChainLink``). The links are copied as they are: every digest, every
    head and every anchor kept elsewhere still verifies."""
    if isinstance(db, peewee.SqliteDatabase):
        for name in CHAIN_INDEXES_29:  # (also from links already of this shape, which migration 6 may have indexed)
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        sql = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'chain_link'").fetchone()
        if sql is None or "WITHOUT ROWID" in sql[0].upper():
            return
        db.execute_sql('DROP TABLE IF EXISTS "chain_link_29"')
        db.execute_sql('CREATE TABLE "chain_link_29" ("chain" INTEGER NOT NULL, "seq" INTEGER NOT NULL, '
                       '"kind" VARCHAR(8) NOT NULL, "ref" INTEGER NOT NULL, "digest" BLOB NOT NULL, '
                       'PRIMARY KEY ("chain", "seq")) WITHOUT ROWID')
        db.execute_sql('INSERT INTO "chain_link_29" ("chain", "seq", "kind", "ref", "digest") SELECT "chain", "seq", '
                       '"kind", "ref", "digest" FROM "chain_link" ORDER BY "chain", "seq"')
        db.execute_sql('DROP TABLE "chain_link"')  # (its indexes with it)
        db.execute_sql('ALTER TABLE "chain_link_29" RENAME TO "chain_link"')
        return
    have = {c for (c,) in db.execute_sql("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                         "current_schema() AND table_name = 'chain_link'").fetchall()}
    indexes = {i for (i,) in db.execute_sql("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                            "AND tablename = 'chain_link'").fetchall()}
    if "id" in have:  # (the table keeps its room for the column until it is rewritten: VACUUM FULL)
        db.execute_sql('ALTER TABLE "chain_link" DROP COLUMN "id"')  # (its primary key with it)
        if "chain_link_chain_seq" in indexes:  # the index of (chain, seq) becomes the key's, as it is
            db.execute_sql('ALTER TABLE "chain_link" ADD CONSTRAINT "chain_link_pkey" PRIMARY KEY USING INDEX '
                           '"chain_link_chain_seq"')
        else:
            db.execute_sql('ALTER TABLE "chain_link" ADD PRIMARY KEY ("chain", "seq")')
    for name in CHAIN_INDEXES_29:  # (also from links already of this shape, which migration 6 may have indexed)
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


#: how many audit events migration 30 reads at once
_FOLD_BATCH = 20_000


def _fold_own_events(db: peewee.Database, migrator: object) -> None:
    """Issue #27: an operation's own audit event — a sale's, a check-in's, a top-up's (``FOLDED_ACTIONS``): 1.46
    million of 1.56 million events at a million members, each a row with six index entries beside its transaction,
    which already holds its moment, staff, store and txid — is kept on its transaction (``action``, ``subject``,
    ``payload``). An event moves only when it is the first of those actions with its txid and its moment (to the
    second, as the chain reads it), staff and store are its transaction's, so what the chain reads of it is the
    same; its link stays where it is, with the digest it has, and says where its row is now (kind ``txa``, the
    transaction's id; services/ledger/chain.py). Every other event stays a row of its own."""
    from mms_tui.models.ledger import FOLDED_ACTIONS
    from mms_tui.services.base.sql import fetch_rows, run_sql
    from mms_tui.services.ledger.chain import _timer

    _add_columns(db, migrator, "ledger_transaction", [
        ("action", peewee.CharField(max_length=40, null=True)), ("subject", peewee.CharField(max_length=64, null=True)),
        ("payload", peewee.TextField(null=True))])
    run_sql('DROP TABLE IF EXISTS "fold_30"')
    run_sql('CREATE TABLE "fold_30" ("event_id" BIGINT NOT NULL PRIMARY KEY, "tx_id" BIGINT NOT NULL UNIQUE)')
    at = _timer()
    actions = ", ".join("?" for _a in FOLDED_ACTIONS)
    last = 0
    while True:
        rows = fetch_rows(
            'SELECT e."id", e."created_at", e."staff_id", e."store_id", t."id", t."created_at", t."staff_id", '
            't."store_id" FROM "audit_event" e JOIN "ledger_transaction" t ON t."txid" = e."txid" '
            f'WHERE (e."action" || \'\') IN ({actions}) AND e."id" > ? AND t."action" IS NULL ORDER BY e."id" LIMIT ?',
            (*FOLDED_ACTIONS, last, _FOLD_BATCH))
        if not rows:  # (the events read in their key's order: by the index of actions, SQLite, which keeps no
            break  # statistics here, would sort every event left for each batch)
        moving = [(event_id, tx_id) for event_id, event_at, staff, store, tx_id, tx_at, tx_staff, tx_store in rows
                  if staff == tx_staff and store == tx_store and at(event_at) == at(tx_at)]
        for start in range(0, len(moving), 5_000):  # (in the events' order: a transaction takes the first of its
            part = moving[start:start + 5_000]  # events that may move)
            run_sql('INSERT INTO "fold_30" ("event_id", "tx_id") VALUES ' + ", ".join("(?, ?)" for _m in part) +
                    ' ON CONFLICT ("tx_id") DO NOTHING', [v for pair in part for v in pair])
        last = rows[-1][0]
    if isinstance(db, peewee.SqliteDatabase):
        run_sql('UPDATE "ledger_transaction" SET "action" = e."action", "subject" = e."subject", "payload" = '
                'e."payload" FROM "fold_30" f JOIN "audit_event" e ON e."id" = f."event_id" WHERE '
                '"ledger_transaction"."id" = f."tx_id"')
        run_sql('UPDATE "chain_link" SET "kind" = \'txa\', "ref" = (SELECT f."tx_id" FROM "fold_30" f WHERE '
                'f."event_id" = "chain_link"."ref") WHERE "kind" = \'audit\' AND "ref" IN (SELECT "event_id" FROM '
                '"fold_30")')
    else:
        run_sql('UPDATE "ledger_transaction" t SET "action" = e."action", "subject" = e."subject", "payload" = '
                'e."payload" FROM "fold_30" f JOIN "audit_event" e ON e."id" = f."event_id" WHERE t."id" = f."tx_id"')
        run_sql('UPDATE "chain_link" l SET "kind" = \'txa\', "ref" = f."tx_id" FROM "fold_30" f WHERE '
                'l."kind" = \'audit\' AND l."ref" = f."event_id"')
    run_sql('DELETE FROM "audit_event" WHERE "id" IN (SELECT "event_id" FROM "fold_30")')
    run_sql('DROP TABLE "fold_30"')


#: (number, name, function); numbers are consecutive from 1
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema", _initial),
    (2, "indexes for the reports", _report_indexes),
    (3, "drop indexes that composite ones cover", _drop_prefix_indexes),
    (4, "loyalty: coupons, families, fees, passes", _loyalty),
    (5, "desk safety: PIN lockout, shifts", _desk_safety),
    (6, "tamper evidence: hash chains", _chains),
    (7, "time: moments in UTC, transactions' local days", _utc_moments),
    (8, "members: address, email, preferences, tags, fields, consent", _member_record),
    (9, "staff administration: PIN resets, performers and their services", _staff_admin),
    (10, "store tree: kind, address, phone, receipt header, closed", _store_tree),
    (11, "card types sold at some stores", _card_type_stores),
    (12, "tiers: discount, multiplier and upgrade spend into the loyalty rules", _tier_terms_to_rules),
    (13, "price lists: price levels, prices per tier, level and store", _price_lists),
    (14, "categories: a managed list", _categories),
    (15, "card reader UIDs: canonical hex, found by their last 24 bits", _card_uids),
    (16, "attendance: punches, rosters and their exceptions", _attendance),
    (17, "commissions: a row per line and staff member", _commissions),
    (18, "service ratings: a member's 1-5 for a service's performer", _service_ratings),
    (19, "bookings: rooms, appointments, group classes and waitlists", _bookings),
    (20, "stock: suppliers, levels, movements, transfers, counts", _stock),
    (21, "messages: outbox, templates, campaigns, service tickets; WeChat openid; consent to notices",
     _messages),
    (22, "card types whose cards are used only where they are sold", _store_bound_cards),
    (23, "stores: a time zone of their own", _store_zones),
    (24, "prompts from the member's pattern put away at the desk", _prompt_dismissals),
    (25, "payment codes: attempts and refunds through WeChat Pay and Alipay", _payments),
    (26, "compact storage: stored results packed, hashes as bytes, indexes composites cover dropped",
     _compact_results),
    (27, "transactions no longer indexed by store alone (their period's index reads them)", _drop_store_index),
    (28, "indexes of mostly empty columns over the rows that have a value; none by ledger account",
     _indexes_of_set),
    (29, "the chains' links kept in their order, without a row id or a second index", _rowidless_chain_links),
    (30, "an operation's own audit event kept on its transaction", _fold_own_events),
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
            _record_zones(clock.zone_name(), "UTC")  # the store's zone as the machine has it; chains in UTC
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

"""Time decided once (issue #16): moments stored in UTC, read and grouped in the store's zone, and the migration
from the naive local times databases kept before.

The other tests run with the store eight hours off UTC (conftest.py); these move it to zones with summer time and
to a zone half an hour off the hour, and make a database as it was before migration 7 to upgrade it."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from mms_tui import clock
from mms_tui.db import database, is_sqlite, write_transaction
from mms_tui.models import Config, SchemaVersion, Transaction, Visit
from mms_tui.models.migrations import LOCAL_DAY_INDEX, MIGRATIONS, REPORT_INDEXES
from mms_tui.services.base.config import get_config, set_config
from mms_tui.services.ledger.chain import verify
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.topup import top_up
from mms_tui.services.ops.setup import initialise
from mms_tui.services.reports.catalogue import run_report
from tests.conftest import setup_desk


def raw(txid: str) -> str:
    """The created_at of a transaction as the database holds it, as text."""
    (value,) = database.execute_sql(
        f'SELECT "created_at" FROM "ledger_transaction" WHERE "txid" = {database.param}', (txid,)).fetchone()
    return str(value)[:19]


def visit_of(txid: str) -> Visit:
    return Visit.select().join(Transaction).where(Transaction.txid == txid).get()


def use_zone(name: str) -> None:
    with write_transaction():
        set_config("time_zone", name)


def member_with_pass(desk, n: int = 1) -> tuple[int, int]:
    m = register_member(f"会员{n}", f"1380000{n:04d}", desk.cashier, f"r{n}").member_id
    card = issue_card(m, "V10", desk.cashier, f"i{n}", card_no=f"0007{n:04d}").card_id
    return m, card


def test_a_moment_is_stored_in_utc_and_read_and_grouped_in_the_stores_zone(desk):
    """Shanghai, 07:30 on 1 December: stored as 23:30 on 30 November UTC, read back as 07:30, on 1 December in
    the day reports (a SQL date() of the stored moment would have said 30 November)."""
    assert get_config("time_zone") == "Asia/Shanghai" and get_config("history_time_zone") == "UTC"
    _m, card = member_with_pass(desk)
    with clock.pinned(dt.datetime(2026, 12, 1, 7, 30)):
        top_up(issue_card(_m, "SV", desk.cashier, "sv").card_id, 10_000, 0, "cash", desk.cashier, "early")
    assert raw("early") == "2026-11-30 23:30:00"
    tx = Transaction.get(Transaction.txid == "early")
    assert tx.created_at == dt.datetime(2026, 12, 1, 7, 30) and tx.local_day == dt.date(2026, 12, 1)
    day = [r for r in run_report("topups", dt.date(2026, 12, 1), dt.date(2026, 12, 1)) if r.get("principal_fen")]
    assert day and day[0]["period"] == "2026-12-01", day
    before = [r for r in run_report("topups", dt.date(2026, 11, 30), dt.date(2026, 11, 30)) if r.get("principal_fen")]
    assert before == []
    # a period of moments (the shift, the tiers' windows) is compared in UTC too
    early = Transaction.select().where(Transaction.txid.in_(["sv", "early"]))
    assert early.where(Transaction.created_at >= dt.datetime(2026, 12, 1, 7, 30)).count() == 2
    assert early.where(Transaction.created_at >= dt.date(2026, 12, 1)).count() == 2
    assert early.where(Transaction.created_at > dt.datetime(2026, 12, 1, 7, 30)).count() == 0
    assert early.where(Transaction.created_at < dt.datetime(2026, 12, 1, 7, 31)).count() == 2
    assert check_in(card, desk.cashier, "v1") is not None


def test_the_hour_that_happens_twice_keeps_both_instants_apart(desk):
    """New York, the night summer time ends (1 November 2026): 01:30 happens twice. Each check-in is stored as
    its own instant (05:30 and 06:30 UTC), read back with its fold, and ordered as it happened."""
    use_zone("America/New_York")
    cards = [member_with_pass(desk, n)[1] for n in (1, 2)]
    first, second = dt.datetime(2026, 11, 1, 1, 30), dt.datetime(2026, 11, 1, 1, 30, fold=1)
    with clock.pinned(first):
        check_in(cards[0], desk.cashier, "first")
    with clock.pinned(second):
        check_in(cards[1], desk.cashier, "second")
    assert (raw("first"), raw("second")) == ("2026-11-01 05:30:00", "2026-11-01 06:30:00")
    read = {t.txid: t.created_at for t in Transaction.select().where(Transaction.txid.in_(["first", "second"]))}
    assert read["first"].fold == 0 and read["second"].fold == 1
    assert clock.to_utc(read["second"]) - clock.to_utc(read["first"]) == dt.timedelta(hours=1)
    ordered = [t.txid for t in Transaction.select().where(Transaction.kind == "checkin")
               .order_by(Transaction.created_at)]
    assert ordered == ["first", "second"]
    assert all(t.local_day == dt.date(2026, 11, 1) for t in Transaction.select().where(Transaction.kind == "checkin"))


def test_the_busy_hours_are_the_stores_hours_in_a_zone_half_an_hour_off(desk):
    """Kolkata is UTC+5:30: 09:45 there is 04:15 UTC. Check-ins at 09:10, 09:45 and 10:05 fall in the store's
    09:00 and 10:00, as the desk saw them."""
    use_zone("Asia/Kolkata")
    for n, moment in enumerate((dt.datetime(2026, 11, 20, 9, 10), dt.datetime(2026, 11, 20, 9, 45),
                                dt.datetime(2026, 11, 20, 10, 5)), 1):
        _m, card = member_with_pass(desk, n)
        with clock.pinned(moment):
            check_in(card, desk.cashier, f"v{n}")
    rows = list(run_report("visits", dt.date(2026, 11, 20), dt.date(2026, 11, 20)))
    assert [(r["weekday"], r["hour"], r["check_ins"]) for r in rows] == [(5, "09:00", 2), (5, "10:00", 1)]


def test_now_is_the_stores_wall_time(desk):
    """Unpinned, the clock is the real instant in the store's zone, whatever the machine's zone."""
    for name in ("America/New_York", "Asia/Shanghai"):
        use_zone(name)
        there = dt.datetime.fromtimestamp(time.time(), ZoneInfo(name)).replace(tzinfo=None)
        assert abs(clock.now() - there) < dt.timedelta(seconds=5)


# --- the migration -----------------------------------------------------------------------------------------------


def as_before_migration_7() -> None:
    """Put the schema back as migration 6 left it: no local day, the day index over date(created_at), no zones
    recorded. The database must have been made in UTC, so its stored moments are the naive wall times a desk of
    before wrote."""
    database.execute_sql(f'DROP INDEX "{LOCAL_DAY_INDEX}"')
    database.execute_sql('ALTER TABLE "ledger_transaction" DROP COLUMN "local_day"')
    name, table, columns = next(i for i in REPORT_INDEXES if i[0] == "ledger_transaction_kind_day")
    database.execute_sql(f'CREATE INDEX "{name}" ON "{table}" ({columns})')
    Config.delete().where(Config.key.in_(["time_zone", "history_time_zone"])).execute()
    SchemaVersion.delete().where(SchemaVersion.version == 7).execute()


def test_migration_7_moves_naive_local_times_to_utc_and_the_chains_still_verify(db_target, monkeypatch):
    """A database of before: times written as Shanghai wall times, chains over them. Upgraded on a machine in
    Shanghai: every moment is stored in UTC, reads back as the same wall time, each transaction gets its day,
    the zone is recorded, the reports show the same days, and the chains verify unchanged."""
    monkeypatch.setenv("TZ", "UTC")  # so the fixture writes stored = wall time, as a desk before #16 did
    desk = setup_desk(db_target)
    moments = [dt.datetime(2026, 11, 30, 23, 30), dt.datetime(2026, 12, 1, 0, 30), dt.datetime(2026, 12, 1, 7, 45)]
    for n, moment in enumerate(moments, 1):
        with clock.pinned(moment):
            m, card = member_with_pass(desk, n)
            sv = issue_card(m, "SV", desk.cashier, f"sv{n}").card_id
            top_up(sv, 10_000 * n, 0, "cash", desk.cashier, f"t{n}")
            check_in(card, desk.cashier, f"v{n}")
    reports = {name: list(run_report(name, dt.date(2026, 11, 29), dt.date(2026, 12, 2)))
               for name in ("turnover", "topups", "visits")}
    assert raw("t2") == "2026-12-01 00:30:00" and not verify()
    with write_transaction():
        as_before_migration_7()

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    clock.forget()
    with write_transaction():  # migration 7 itself, as `mms init` runs it (later ones are left in place)
        migrate_7 = next(fn for number, _name, fn in MIGRATIONS if number == 7)
        migrate_7(database.obj, SqliteMigrator(database.obj) if is_sqlite() else PostgresqlMigrator(database.obj))
        SchemaVersion.create(version=7, name="again")
    clock.forget()
    assert get_config("time_zone") == "Asia/Shanghai" and get_config("history_time_zone") == "Asia/Shanghai"
    assert [raw(f"t{n}") for n in (1, 2, 3)] == ["2026-11-30 15:30:00", "2026-11-30 16:30:00", "2026-11-30 23:45:00"]
    for n, moment in enumerate(moments, 1):
        tx = Transaction.get(Transaction.txid == f"t{n}")
        assert tx.created_at == moment and tx.local_day == moment.date()
        assert visit_of(f"v{n}").created_at == moment
    assert {name: list(run_report(name, dt.date(2026, 11, 29), dt.date(2026, 12, 2))) for name in reports} == reports
    assert not verify(), "the chains made over local times verify after the move to UTC"
    # and the history goes on: a new operation is chained in the recorded zone and verifies with the old ones
    with clock.pinned(dt.datetime(2026, 12, 2, 9)):
        check_in(visit_of("v1").card_id, desk.cashier, "after")
    assert raw("after") == "2026-12-02 01:00:00" and not verify()
    assert initialise().applied == []


def test_a_new_database_records_the_systems_zone_and_chains_in_utc(db_target, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    setup_desk(db_target)
    assert get_config("time_zone") == "Europe/Berlin" and get_config("history_time_zone") == "UTC"
    assert clock.zone_name() == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "", " Asia/Shanghai"])
def test_init_refuses_an_unknown_zone_with_one_message_and_changes_nothing(run, tmp_path, zone):
    target = tmp_path / "zone.sqlite3"
    result = run("--db", target, "init", "--admin-pin", "1234", "--time-zone", zone)
    assert result.exit_code != 0 and "Unknown time zone" in result.output and "Traceback" not in result.output
    assert not target.exists()


def test_init_records_the_zone_and_info_shows_it(run, tmp_path):
    target = tmp_path / "zone.sqlite3"
    assert run("--db", target, "init", "--admin-pin", "1234", "--time-zone", "Asia/Urumqi").exit_code == 0
    assert "Asia/Urumqi" in run("--db", target, "info").output
    assert run("--db", target, "init", "--time-zone", "Asia/Shanghai").exit_code == 0
    assert "Asia/Shanghai" in run("--db", target, "info").output

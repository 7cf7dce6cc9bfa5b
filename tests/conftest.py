"""Shared fixtures: a real database per test — a SQLite file in tmp_path, and the same on PostgreSQL.

PostgreSQL runs when a server answers at 127.0.0.1:5432 (or ``MMS_TEST_PG``, a server URL without a database
name). Locally the PostgreSQL variants skip with the reason; with ``CI=true`` an unreachable server fails them.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mms_tui import clock
from mms_tui.db import close_database
from mms_tui.models import Category, Product, ServiceItem, Staff, Store
from mms_tui.services.ops.setup import connect, initialise
from mms_tui.services.staff.accounts import create_staff

# The tests' machine, and so each test database's store, is eight hours off UTC with no summer time: a moment
# stored or grouped in the wrong zone lands on another day or hour and fails them (test_time.py moves the store to
# zones with summer time itself).
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()
# The machine's own /etc/mms/config.toml (an administrator's) must not reach the tests' commands.
os.environ["MMS_SYSTEM_CONFIG"] = os.path.join(os.sep, "nonexistent", "mms", "config.toml")


@pytest.fixture(autouse=True)
def english_afterwards():
    """A test that spoke Chinese (a command run with --lang zh) leaves the process English for the next one."""
    yield
    from mms_tui.i18n import current_language, set_language

    if current_language() != "en":
        set_language("en")


@pytest.fixture
def today() -> dt.date:
    """The day the product believes it is (its one clock, :mod:`mms_tui.clock`): dated fixtures start from here,
    never from the calendar, so no test depends on the day it runs."""
    return clock.today()


PG_SERVER = os.environ.get("MMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

ADMIN_PIN = "1234"
MANAGER_PIN = "2345"
CASHIER_PIN = "0000"


def _pg_admin():
    import psycopg2

    conn = psycopg2.connect(PG_SERVER + "/postgres", connect_timeout=3)
    conn.autocommit = True
    return conn


def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    try:
        admin = _pg_admin()
    except Exception as exc:  # server absent: skip locally, fail in CI
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_SERVER}: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_SERVER}: {exc}")
    name = "mms_test_" + uuid.uuid4().hex[:12]
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        close_database()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request, tmp_path) -> Iterator[str]:
    """Where the test's database lives: a SQLite file, then (second run) a PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "mms.sqlite3")
        close_database()
    else:
        yield from pg_database()


@pytest.fixture
def postgres_target() -> Iterator[str]:
    """A fresh PostgreSQL database only (for what differs on PostgreSQL)."""
    yield from pg_database()


@pytest.fixture
def sqlite_target(tmp_path) -> Iterator[str]:
    yield str(tmp_path / "mms.sqlite3")
    close_database()


@dataclass
class Desk:
    """A set-up store: default tiers and card types, three staff, a small catalogue."""

    target: str
    store: Store
    admin: Staff
    manager: Staff
    cashier: Staff


CATALOG = [
    ("service", "HAIR", None, "精剪", "美发", 8_800),
    ("service", "SPA", None, "全身SPA", "理疗", 49_800),
    ("product", "WATER", "6920000000012", "矿泉水", "零售", 300),
    ("product", "SHAMPOO", "6901234567892", "洗发水", "零售", 6_800),
]


def setup_desk(target: str) -> Desk:
    clock.serve_store(None)  # (a desk of an earlier test served its store)
    connect(target)
    initialise(admin_code="admin", admin_name="Admin", admin_pin=ADMIN_PIN)
    store = Store.get(Store.code == "HQ")
    create_staff("m01", "经理 李强", "manager", MANAGER_PIN, store=store)
    create_staff("c01", "前台 小陈", "cashier", CASHIER_PIN, store=store, card_no="STAFF001")
    for name in sorted({c[4] for c in CATALOG}):
        Category.create(name=name)
    for kind, code, barcode, name, category, price in CATALOG:
        model = ServiceItem if kind == "service" else Product
        model.create(code=code, barcode=barcode, name=name, category=category, price_fen=price)
    return Desk(
        target,
        store,
        Staff.get(Staff.code == "admin"),
        Staff.get(Staff.code == "m01"),
        Staff.get(Staff.code == "c01"),
    )


@pytest.fixture
def desk(db_target) -> Desk:
    """A set-up store on each backend."""
    return setup_desk(db_target)


@pytest.fixture
def sqlite_desk(sqlite_target) -> Desk:
    """A set-up store on a SQLite file only (multi-process and TUI tests)."""
    return setup_desk(sqlite_target)


@pytest.fixture
def regular(sqlite_desk) -> Desk:
    """The SQLite desk with 张三: a stored-value card 00012345 (¥100) and a 10-visit package 00077777."""
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.money.topup import top_up

    zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    sv = issue_card(zhang, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    top_up(sv.card_id, 10_000, 0, "cash", sqlite_desk.cashier, "t1")
    issue_card(zhang, "V10", sqlite_desk.cashier, "i2", card_no="00077777")
    return sqlite_desk


@pytest.fixture
def run(tmp_path):
    """Invoke ``mms`` with a config path that does not exist, so the user's real settings are never read; English
    messages; anything but a clean exit or a SystemExit fails the test with its traceback."""
    from click.testing import CliRunner

    from mms_tui.cli import cli

    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_DB": "", "MMS_LANG": "en"}

    def invoke(*args: object, input: str | bytes | None = None, extra_env: dict | None = None):
        result = CliRunner().invoke(cli, [str(a) for a in args], env={**env, **(extra_env or {})}, input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        return result

    return invoke


def rechain_history() -> None:
    """A test that rewrote history on purpose (back-dated operations to build a past) chains it again as it now
    reads; on a shop's database such a rewrite is exactly what ``mms check`` reports (services/chain.py)."""
    from mms_tui.db import write_transaction
    from mms_tui.services.ledger.chain import rechain

    with write_transaction():
        rechain()

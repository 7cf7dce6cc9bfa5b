"""A real shop's database as an older mms left it upgrades: ``tests/golden/shop-schema19.sql.gz`` is the demo
database (8 members, their cards, sales and bookings, a consent) made by the last version before stock (schema
19), ``shop-schema7.sql.gz`` the one the version before the member record (schema 7) made, each dumped with
sqlite3. Its products have sales lines and its stores everything, so a migration that rebuilds a
table under their foreign keys fails here, as it would in the shop; and the backup the upgrade makes first is
checked by this version's ``mms check`` against the older schema."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.db import close_database
from mms_tui.models.migrations import LATEST

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("schema", [19, 7])
def test_an_older_shop_with_sales_upgrades_backs_up_and_checks(tmp_path, schema):
    target = tmp_path / "shop.sqlite3"
    with sqlite3.connect(target) as db:
        db.executescript(gzip.decompress((GOLDEN / f"shop-schema{schema}.sql.gz").read_bytes()).decode("utf-8"))
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == schema
        assert db.execute("SELECT COUNT(*) FROM sale_line WHERE product_id IS NOT NULL").fetchone()[0] > 0
    db.close()
    runner = CliRunner()
    upgraded = runner.invoke(cli, ["--db", str(target), "--lang", "en", "upgrade", "--backup",
                                   str(tmp_path / "before.sqlite3")])
    close_database()
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Schema {schema} → {LATEST}" in upgraded.output and "the checks pass" in upgraded.output
    with sqlite3.connect(target) as db:
        assert {u for (u,) in db.execute("SELECT unit FROM product")} == {"pcs"}
        assert {p for (p,) in db.execute("SELECT negative_stock FROM store")} == {"refuse"}
        assert db.execute("SELECT channel, given FROM consent").fetchall() == ([("sms", 1)] if schema == 19 else [])
        assert {v for (v,) in db.execute("SELECT transferable FROM card_type")} == {0}
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
    consent = runner.invoke(cli, ["--db", str(target), "members", "consent",
                                  _first_phone(target), "notices", "yes", "--staff", "admin", "--pin-stdin"],
                            input="1234\n")
    close_database()
    assert consent.exit_code == 0, consent.output
    assert runner.invoke(cli, ["--db", str(target), "check"]).exit_code == 0
    close_database()


def _first_phone(target: Path) -> str:
    with sqlite3.connect(target) as db:
        phone = db.execute("SELECT phone FROM member ORDER BY id LIMIT 1").fetchone()[0]
    db.close()
    return phone

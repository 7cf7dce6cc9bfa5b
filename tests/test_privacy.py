"""Erasure (PIPL Art. 47): a member's personal data is gone from the database, its free pages, its log and every
later export and backup, while the books, mms check and every report stay as they were; and the one map of
personal data covers every table that holds some."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest

import mms_tui.models as models
from mms_tui.db import database
from mms_tui.models import AuditEvent, Member
from mms_tui.services.base.errors import InvalidInput, PermissionDenied, UnknownMember
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.lookup import lookup
from mms_tui.services.members.privacy import PERSONAL_DATA, erase_member
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.catalogue import run_report

NAME, PHONE, NOTES = "欧阳娜娜", "13812345678", "对花粉过敏，住在梧桐路 8 号"


@pytest.fixture
def client(desk):
    m = register_member(NAME, PHONE, desk.cashier, "r1", birthday="1990-05-17", notes=NOTES).member_id
    update_member(m, desk.cashier, "u1", notes=NOTES + "。")
    card = issue_card(m, "SV", desk.cashier, "i1", card_no="SV1").card_id
    top_up(card, 100_000, None, "cash", desk.cashier, "t1")
    checkout(m, ["HAIR"], [("stored_value", 8_800, card)], desk.cashier, "s1")
    desk.member_id = m
    return desk


def reports() -> dict:
    """Every money report over the last 30 days (their default)."""
    return {name: list(run_report(name)) for name in ("turnover", "topups", "liability", "staff", "products")}


def test_erasure_anonymises_the_person_and_keeps_the_books(client):
    before = reports()
    with pytest.raises(PermissionDenied):
        erase_member(PHONE, client.cashier, "request 2026-12-02", "e1")
    with pytest.raises(InvalidInput, match="reason"):
        erase_member(PHONE, client.manager, " ", "e1")
    result = erase_member(PHONE, client.manager, "request 2026-12-02", "e1")
    assert result.events_scrubbed >= 2 and result.results_scrubbed >= 2
    m = Member.get_by_id(client.member_id)
    assert (m.name, m.birthday, m.notes, m.gender, m.status) == ("已删除会员", None, "", "", "erased")
    assert PHONE not in m.phone and lookup(PHONE[-4:], 5) == [] and lookup("oynn", 5) == []
    with pytest.raises(UnknownMember):
        erase_member(PHONE, client.manager, "again", "e2")
    assert check_ledger() == [] and reports() == before
    erased = AuditEvent.get(AuditEvent.action == "member.erase")
    assert "request 2026-12-02" in erased.payload and NAME not in erased.payload
    for event in AuditEvent.select():
        assert NAME not in event.payload and PHONE not in event.payload and "花粉" not in event.payload


def test_nothing_of_the_person_is_left_in_the_file_its_log_or_a_later_backup(client, tmp_path):
    from mms_tui.db import is_sqlite
    from mms_tui.services.ops.backup import backup

    if not is_sqlite():
        pytest.skip("bytes in files: SQLite's own (PostgreSQL's old row versions go with VACUUM; see privacy.py)")
    erase_member(PHONE, client.manager, "request", "e1")
    copy = tmp_path / "later.sqlite3"
    backup(str(copy))
    for path in (Path(client.target), Path(client.target + "-wal"), copy):
        data = path.read_bytes() if path.exists() else b""
        for secret in (NAME, PHONE, "花粉", "1990-05-17"):
            assert secret.encode() not in data, (path.name, secret)


def test_the_one_map_covers_every_field_that_holds_a_persons_data():
    """A table added with a person's data is added to PERSONAL_DATA (export member and erasure) in the same
    change; staff are the shop's own people, not members, and are not erased."""
    looks_personal = ("name", "phone", "birthday", "notes", "gender", "email", "address", "pinyin", "initials")
    found = set()
    for model in models.ALL_MODELS:
        table = model._meta.table_name
        if table in ("staff", "store", "product", "service_item", "card_type", "tier", "sale_line", "schema_version",
                     "price_level", "category", "room", "class_type",
                     "member_field",  # (member_field: the names of the fields a shop defines)
                     "supplier",  # (a business the shop buys from, and the contact it gave for its orders)
                     "campaign", "message_template"):  # (a campaign's name and wording: the shop's, to many)
            continue  # the shop's own names (staff, stores, items), not a member's
        for field in model._meta.sorted_fields:
            if any(word in field.column_name for word in looks_personal) and not isinstance(field, peewee.ForeignKeyField):
                found.add((table, field.column_name))
    mapped = {(table, column) for table, columns in PERSONAL_DATA.items() for column in columns}
    assert found <= mapped, found - mapped


def test_mms_members_erase_needs_a_managers_pin_a_reason_and_a_yes(client, run):
    from tests.conftest import CASHIER_PIN, MANAGER_PIN

    args = ("--db", client.target, "members", "erase", PHONE, "--reason", "request")
    assert "--yes" in run(*args, "--staff", "m01", "--pin-stdin", input=MANAGER_PIN + "\n").stderr
    assert "manager must" in run(*args, "--yes", "--staff", "c01", "--pin-stdin", input=CASHIER_PIN + "\n").stderr
    done = run(*args, "--yes", "--staff", "m01", "--pin-stdin", input=MANAGER_PIN + "\n")
    assert done.exit_code == 0 and "Erased member" in done.output
    assert run("--db", client.target, "check").exit_code == 0
    database.close()

"""Tiers a manager keeps (#17): code, name and rank in the tier table; what a tier gives and takes (discount,
points multiplier, upgrade and keep thresholds) in the loyalty rules only — added and edited together, audited,
refused whole. Migration 12 moves the old tier columns into the rules. Services on SQLite and PostgreSQL, then
every `mms tiers` command."""

from __future__ import annotations

import json

import pytest

from mms_tui.db import database
from mms_tui.models import AuditEvent, Config, SchemaVersion, Tier
from mms_tui.models.migrations import LATEST
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.ledger.chain import audited_state, verify
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.services.loyalty.tier_admin import add_tier, edit_tier, list_tiers
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import quote
from mms_tui.services.ops.setup import initialise
from tests.conftest import CASHIER_PIN, MANAGER_PIN


def books_clean() -> None:
    assert verify() == [] and audited_state() == []


def written() -> tuple[int, int, str | None]:
    """What a refused change must leave as it was: tiers, audit events, the rules document."""
    rules = Config.get_or_none(Config.key == "loyalty_rules")
    return Tier.select().count(), AuditEvent.select().count(), rules.value if rules else None


def test_the_default_tiers_give_their_terms_from_the_rules_and_list_them(desk):
    tiers = {t.code: t for t in list_tiers()}
    assert [t.code for t in list_tiers()] == ["NORMAL", "SILVER", "GOLD", "DIAMOND"]
    gold = tiers["GOLD"]
    assert (gold.price_bp, gold.points_pct, gold.upgrade_at, gold.basis) == (9_000, 150, 500_000, "spend")
    assert (tiers["NORMAL"].price_bp, tiers["NORMAL"].upgrade_at) == (10_000, None)
    assert {c.name for c in database.get_columns("tier")} == {"id", "code", "name", "rank"}  # never both


def test_a_manager_adds_a_tier_and_a_member_of_it_pays_its_price(desk):
    plat = add_tier(desk.manager, " plat ", "铂金会员", 4, price_bp=8_000, points_pct=250, upgrade_at=5_000_000)
    assert (plat.code, plat.rank, plat.members, plat.price_bp, plat.points_pct) == ("PLAT", 4, 0, 8_000, 250)
    level = load_rules().tiers.benefit("PLAT")
    assert (level.price_bp, level.points_pct, level.upgrade_at) == (8_000, 250, 5_000_000)
    member = register_member("王五", "13900139000", desk.cashier, "r1", tier="PLAT").member_id
    assert quote(member, ["HAIR"]).total_fen == 7_040  # ¥88 at 8折
    event = AuditEvent.select().where(AuditEvent.action == "tier.add").get()
    payload = json.loads(event.payload)
    assert payload["before"] is None and payload["after"]["price_bp"] == 8_000 and event.staff_id == desk.manager.id
    assert AuditEvent.select().where(AuditEvent.action == "rules.save").count() == 1
    books_clean()


def test_an_edit_changes_the_price_a_gold_member_pays_and_is_audited_before_and_after(desk):
    member = register_member("张三", "13800138000", desk.cashier, "r1", tier="GOLD").member_id
    assert quote(member, ["HAIR"]).total_fen == 7_920  # 9折
    edited = edit_tier(desk.manager, "gold", price_bp=8_800, name="金卡 VIP", upgrade_at=600_000, keep_at=300_000)
    assert (edited.name, edited.price_bp, edited.upgrade_at, edited.keep_at, edited.members) == (
        "金卡 VIP", 8_800, 600_000, 300_000, 1)
    assert quote(member, ["HAIR"]).total_fen == 7_744  # 88折
    payload = json.loads(AuditEvent.select().where(AuditEvent.action == "tier.edit").get().payload)
    assert (payload["before"]["price_bp"], payload["after"]["price_bp"]) == (9_000, 8_800)
    assert edit_tier(desk.manager, "GOLD", price_bp=8_800).price_bp == 8_800  # the same again: nothing written
    assert AuditEvent.select().where(AuditEvent.action == "tier.edit").count() == 1
    assert edit_tier(desk.manager, "GOLD", upgrade_at=None).upgrade_at is None  # given by hand only from now on
    books_clean()


@pytest.mark.parametrize("call, message", [
    (lambda d: add_tier(d.manager, "GOLD", "又一个金卡", 9), "Code: GOLD is already a tier."),
    (lambda d: add_tier(d.manager, "PLAT", "铂金", 2), "Rank: 2 is already GOLD's"),
    (lambda d: add_tier(d.manager, "PLAT", "", 4), "Name: required."),
    (lambda d: add_tier(d.manager, "PLAT", "铂金", 4, price_bp=12_000), "Pays: a percent of the price"),
    (lambda d: add_tier(d.manager, "PLAT", "铂金", 4, upgrade_at=-1), "Upgrade at: cannot be negative."),
    (lambda d: edit_tier(d.manager, "SILVER", rank=3), "Rank: 3 is already DIAMOND's"),
    (lambda d: edit_tier(d.manager, "SILVER", points_pct=-50), "Points multiplier:"),
    (lambda d: edit_tier(d.manager, "SILVER", members=0), "Cannot change members."),
])
def test_bad_input_names_the_field_and_writes_nothing(desk, call, message):
    before = written()
    with pytest.raises(InvalidInput) as refused:
        call(desk)
    assert message in str(refused.value)
    assert written() == before


def test_a_cashier_may_not_add_or_change_a_tier_and_an_unknown_tier_is_named(desk):
    before = written()
    with pytest.raises(PermissionDenied):
        add_tier(desk.cashier, "PLAT", "铂金", 4)
    with pytest.raises(PermissionDenied):
        edit_tier(desk.cashier, "GOLD", price_bp=1)
    with pytest.raises(NotFound, match="No tier PLAT"):
        edit_tier(desk.manager, "PLAT", price_bp=9_000)
    assert written() == before


def test_with_a_points_basis_a_tier_no_one_can_reach_is_refused_with_the_rules_message(desk):
    save_rules({"tiers": {"basis": "points", "levels": [
        {"tier": "SILVER", "upgrade_at": 1000}, {"tier": "GOLD", "upgrade_at": 5000},
        {"tier": "DIAMOND", "upgrade_at": 20000}]}}, desk.manager)
    before = written()
    with pytest.raises(InvalidInput, match="tier PLAT needs upgrade_at when the basis is points"):
        add_tier(desk.manager, "PLAT", "铂金", 4)
    assert written() == before
    assert add_tier(desk.manager, "PLAT", "铂金", 4, upgrade_at=50_000).upgrade_at == 50_000
    books_clean()


def test_migration_12_moves_the_tier_columns_into_the_rules_and_the_books_stay_clean(sqlite_desk):
    """A database from before: its tiers' discount, multiplier and upgrade spend in columns (a shop's own figures,
    GOLD at 88折 from ¥6000), the rules saved by a manager with a keep level for GOLD. After `mms init` the rules
    hold every figure, the columns are gone, and `mms check`'s audited state holds."""
    save_rules({"tiers": {"levels": [{"tier": "GOLD", "keep_at": "3000"}]}}, sqlite_desk.manager)  # as 11 kept it
    for column, definition in (("discount_bp", "INTEGER NOT NULL DEFAULT 10000"),
                               ("points_pct", "INTEGER NOT NULL DEFAULT 100"),
                               ("upgrade_spend_fen", "BIGINT NOT NULL DEFAULT 0")):
        database.execute_sql(f'ALTER TABLE "tier" ADD COLUMN "{column}" {definition}')
    for code, bp, pct, spend in (("SILVER", 9_500, 120, 100_000), ("GOLD", 8_800, 180, 600_000),
                                 ("DIAMOND", 8_500, 200, 2_000_000)):
        database.execute_sql('UPDATE "tier" SET "discount_bp" = ?, "points_pct" = ?, "upgrade_spend_fen" = ? '
                             'WHERE "code" = ?', (bp, pct, spend, code))
    SchemaVersion.delete().where(SchemaVersion.version > 11).execute()

    upgraded = initialise()
    assert upgraded.applied == list(range(12, LATEST + 1))
    levels = {level.tier: level for level in load_rules().tiers.levels}
    gold = levels["GOLD"]
    assert (gold.price_bp, gold.points_pct, gold.upgrade_at, gold.keep_at) == (8_800, 180, 600_000, 300_000)
    assert (levels["SILVER"].price_bp, levels["DIAMOND"].upgrade_at) == (9_500, 2_000_000)
    assert "discount_bp" not in {c.name for c in database.get_columns("tier")}
    books_clean()
    assert initialise().applied == []


def test_mms_tiers_list_add_edit(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    listed = run(*db, "tiers", "list")
    assert listed.exit_code == 0 and "GOLD" in listed.output and "10% off" in listed.output
    added = run(*db, "tiers", "add", "PLAT", "铂金会员", "--rank", "4", "--pays", "80", "--points", "2.5",
                "--upgrade-at", "50000", "--staff", "m01", "--pin-stdin", "--format", "json", input=MANAGER_PIN + "\n")
    assert added.exit_code == 0, added.output
    row = json.loads(added.output)[0]
    assert (row["code"], row["price_bp"], row["points_pct"], row["upgrade_at"]) == ("PLAT", 8_000, 250, 5_000_000)
    edited = run(*db, "tiers", "edit", "PLAT", "--keep-at", "30000", "--upgrade-at", "none", "--staff", "m01",
                 "--pin-stdin", "--format", "json", input=MANAGER_PIN + "\n")
    assert edited.exit_code == 0, edited.output
    row = json.loads(edited.output)[0]
    assert (row["keep_at"], row["upgrade_at"]) == (3_000_000, None)
    machine = json.loads(run(*db, "tiers", "list", "--format", "json").output)
    assert [t["code"] for t in machine] == ["NORMAL", "SILVER", "GOLD", "DIAMOND", "PLAT"]


@pytest.mark.parametrize("args, pin, message", [
    (("add", "PLAT", "铂金", "--rank", "2"), MANAGER_PIN, "Rank: 2 is already GOLD's"),
    (("add", "PLAT", "铂金", "--rank", "4", "--pays", "abc"), MANAGER_PIN, "Pays: "),
    (("add", "PLAT", "铂金", "--rank", "4", "--points", "两倍"), MANAGER_PIN, "Points multiplier: "),
    (("add", "PLAT", "铂金", "--rank", "4", "--upgrade-at", "-5"), MANAGER_PIN, "Upgrade at: cannot be negative."),
    (("edit", "GOLD", "--pays", "80"), CASHIER_PIN, "manager"),
    (("edit", "GOLD"), MANAGER_PIN, "Give at least one term to change."),
])
def test_mms_tiers_refusals_are_one_line_and_change_nothing(run, sqlite_desk, args, pin, message):
    before = written()
    staff = "c01" if pin == CASHIER_PIN else "m01"
    result = run("--db", sqlite_desk.target, "tiers", *args, "--staff", staff, "--pin-stdin", input=pin + "\n")
    assert result.exit_code != 0
    assert message in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[0].startswith("Usage:")  # one line, or click's usage error
    assert written() == before


def test_a_cashier_may_not_give_a_member_a_tier_by_hand(desk):
    from mms_tui.models import Member
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.profile import update_member

    member = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    before = written()
    with pytest.raises(PermissionDenied):
        update_member(member, desk.cashier, new_txid(), tier="GOLD")
    assert written() == before and Member.get_by_id(member).tier.code == "NORMAL"
    assert update_member(member, desk.cashier, new_txid(), tier="NORMAL", notes="常客").tier_code == "NORMAL"
    assert update_member(member, desk.manager, new_txid(), tier="GOLD").tier_code == "GOLD"

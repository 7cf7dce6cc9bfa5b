"""Tiers on the rules' basis: upgrades at once (spend, points, visits in a rolling window), ``mms tiers review``
with keep levels and a grace period, progress to the next tier."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from click.testing import CliRunner

from mms_tui import clock
from mms_tui.cli import cli
from mms_tui.db import write_transaction
from mms_tui.models import AuditEvent, Member, Sale, ServiceItem, Tier, Transaction
from mms_tui.services.loyalty.rules_store import save_rules as save_document
from mms_tui.services.loyalty.tier_admin import edit_tier, list_tiers
from mms_tui.services.loyalty.tiers import progress, review_tiers, upgrade_if_qualified
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.ops.setup import connect

#: the default tiers' upgrade spend, with no discount: what every document saved here gives them unless it says
UPGRADE_SPEND = {"SILVER": "1000", "GOLD": "5000", "DIAMOND": "20000"}


def save_rules(document: dict, staff) -> None:
    """Save ``document`` with the default tiers' upgrade spend filled in where a spend-basis document leaves it
    out (a tier's thresholds and discount are the rules' own: a document without them would give none)."""
    document = copy.deepcopy(document)
    tiers = document.setdefault("tiers", {})
    if tiers.get("basis", "spend") == "spend":
        levels = tiers.setdefault("levels", [])
        for code, spend in UPGRADE_SPEND.items():
            level = next((lv for lv in levels if lv["tier"] == code), None)
            if level is None:
                levels.append(level := {"tier": code})
            level.setdefault("upgrade_at", spend)
    save_document(document, staff)


def on(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def backdate_sale(txid: str, day: str) -> None:
    moment = dt.datetime.combine(on(day), dt.time(12))
    tx = Transaction.get(Transaction.txid == txid)
    Transaction.update(created_at=moment).where(Transaction.id == tx.id).execute()
    Sale.update(created_at=moment).where(Sale.transaction == tx.id).execute()


def tier_of(member_id: int) -> str:
    return Member.select(Tier.code).join(Tier).where(Member.id == member_id).scalar()


@pytest.fixture
def shop(desk):
    """Services priced to make exact amounts: ¥1000 (K1), ¥999.99 (K1M), ¥5000 (K5), ¥3000 (K3), ¥1 (Y1); tiers
    give no discount here, so a member pays the list price whatever their tier."""
    for tier in list_tiers():
        edit_tier(desk.manager, tier.code, price_bp=10_000)
    for code, price in (("K1", 100_000), ("K1M", 99_999), ("K5", 500_000), ("K3", 300_000), ("Y1", 100)):
        ServiceItem.create(code=code, name=code, category="test", price_fen=price)
    desk.zhang = register_member("张三", "13800138000", desk.cashier, "reg").member_id
    issue_card(desk.zhang, "PT", desk.cashier, "pt", card_no="P001")  # where earned points go
    return desk


def buy(desk, member_id: int, txid: str, code: str, day: str | None = None, qty: int = 1) -> None:
    price = ServiceItem.get(ServiceItem.code == code).price_fen
    checkout(member_id, [(code, qty)], [("cash", price * qty)], desk.cashier, txid)
    if day is not None:
        backdate_sale(txid, day)


# --- upgrades at once ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, tier", [("K1", "SILVER"), ("K1M", "NORMAL")])
def test_spend_1000_00_in_the_window_is_silver_at_checkout_999_99_is_not(shop, code, tier):
    save_rules({"tiers": {"window_months": 12}}, shop.manager)
    buy(shop, shop.zhang, "s1", code)
    assert tier_of(shop.zhang) == tier


def test_spend_older_than_the_12_month_window_does_not_count_toward_an_upgrade(shop):
    save_rules({"tiers": {"window_months": 12}}, shop.manager)
    buy(shop, shop.zhang, "old", "K1M", day=(clock.today() - dt.timedelta(days=400)).isoformat())
    Member.update(tier=Tier.get(Tier.code == "NORMAL").id).execute()  # as it was before that sale moved it
    buy(shop, shop.zhang, "now", "Y1")  # ¥999.99 + ¥1 lifetime, but only ¥1 in the window
    assert tier_of(shop.zhang) == "NORMAL"
    assert Member.get_by_id(shop.zhang).total_spend_fen == 100_099


POINTS_RULES = {"tiers": {"basis": "points", "levels": [
    {"tier": "SILVER", "upgrade_at": 498}, {"tier": "GOLD", "upgrade_at": 5000},
    {"tier": "DIAMOND", "upgrade_at": 20000}]}}


@pytest.mark.parametrize("silver_at, tier", [(498, "SILVER"), (499, "NORMAL")])
def test_points_basis_498_points_earned_reach_silver_at_498_not_at_499(shop, silver_at, tier):
    rules = json.loads(json.dumps(POINTS_RULES))
    rules["tiers"]["levels"][0]["upgrade_at"] = silver_at
    save_rules(rules, shop.manager)
    result = checkout(shop.zhang, [("SPA", 1)], [("cash", 49_800)], shop.cashier, "s1")
    assert result.points_earned == 498
    assert tier_of(shop.zhang) == tier


def test_visits_basis_the_third_check_in_reaches_silver_at_that_check_in(shop):
    save_rules({"tiers": {"basis": "visits", "window_months": 12, "levels": [
        {"tier": "SILVER", "upgrade_at": 3}, {"tier": "GOLD", "upgrade_at": 10},
        {"tier": "DIAMOND", "upgrade_at": 50}]}}, shop.manager)
    card = issue_card(shop.zhang, "V10", shop.cashier, "v10").card_id
    for n in (1, 2, 3):
        check_in(card, shop.cashier, f"c{n}", again=True)  # the check-in itself gives the tier its visit reaches
        assert tier_of(shop.zhang) == ("SILVER" if n == 3 else "NORMAL")
        with write_transaction():
            assert upgrade_if_qualified(shop.zhang, staff=shop.cashier, txid=f"c{n}") == tier_of(shop.zhang)
    event = AuditEvent.get(AuditEvent.action == "member.tier_up")
    payload = json.loads(event.payload)
    assert (payload["from"], payload["to"], payload["basis"], payload["value"]) == ("NORMAL", "SILVER", "visits", 3)
    assert event.txid == "c3"


# --- the review: keep, grace, down -------------------------------------------------------------------------------

GRACE_RULES = {"tiers": {"window_months": 12, "downgrade": True, "grace_months": 3,
                         "levels": [{"tier": "GOLD", "keep_at": "3000"}]}}


@pytest.fixture
def gold(shop):
    """张三 became 金卡 with ¥5000 on 2024-01-10 and spent ¥1000 more on 2024-12-01; gold is kept with ¥3000 in
    12 months, with 3 months' grace."""
    save_rules(GRACE_RULES, shop.manager)
    buy(shop, shop.zhang, "s1", "K5", day="2024-01-10")
    buy(shop, shop.zhang, "s2", "K1", day="2024-12-01")
    assert tier_of(shop.zhang) == "GOLD"
    return shop


def review(desk, day: str, **kwargs):
    return review_tiers(on(day), staff=desk.admin, **kwargs)


def test_gold_with_6000_in_the_window_is_kept_at_review(gold):
    assert review(gold, "2025-01-10").changes == []  # the window 2024-01-10 … 2025-01-10 still holds ¥6000
    assert tier_of(gold.zhang) == "GOLD"


def test_gold_below_keep_from_2025_01_11_keeps_gold_until_2025_04_10_and_is_silver_on_2025_04_11(gold):
    first = review(gold, "2025-01-11")  # ¥1000 in the window now: below ¥3000, the grace starts
    assert [(c.action, c.from_tier, c.value, c.grace_since, c.grace_until) for c in first.changes] == [
        ("grace", "GOLD", 100_000, "2025-01-11", "2025-04-11")]
    assert tier_of(gold.zhang) == "GOLD"
    assert progress(gold.zhang, on("2025-02-01")).grace_until == "2025-04-11"
    assert review(gold, "2025-04-10").changes == []
    assert tier_of(gold.zhang) == "GOLD"
    last = review(gold, "2025-04-11")
    assert [(c.action, c.from_tier, c.to_tier) for c in last.changes] == [("down", "GOLD", "SILVER")]
    assert tier_of(gold.zhang) == "SILVER"  # ¥1000 still in the window keeps silver
    down = AuditEvent.get(AuditEvent.action == "member.tier_down")
    payload = json.loads(down.payload)
    assert (payload["from"], payload["to"], payload["grace_since"]) == ("GOLD", "SILVER", "2025-01-11")


def test_a_second_review_the_same_day_changes_nothing(gold):
    review(gold, "2025-01-11")
    events = AuditEvent.select().count()
    assert review(gold, "2025-01-11").changes == []
    review(gold, "2025-04-11")
    events = AuditEvent.select().count()
    assert review(gold, "2025-04-11").changes == []
    assert AuditEvent.select().count() == events and tier_of(gold.zhang) == "SILVER"


def test_spending_back_above_keep_during_the_grace_ends_it_and_gold_stays(gold):
    review(gold, "2025-01-11")
    buy(gold, gold.zhang, "s3", "K3", day="2025-02-01")
    assert [c.action for c in review(gold, "2025-02-02").changes] == ["grace_end"]
    assert review(gold, "2025-04-11").changes == []
    assert tier_of(gold.zhang) == "GOLD"


def test_with_no_grace_months_a_member_below_keep_moves_down_at_the_first_review(gold):
    rules = json.loads(json.dumps(GRACE_RULES))
    rules["tiers"]["grace_months"] = 0
    save_rules(rules, gold.manager)
    assert [(c.action, c.to_tier) for c in review(gold, "2025-01-11").changes] == [("down", "SILVER")]


def test_downgrade_off_keeps_everyone_whatever_they_spend(gold):
    rules = json.loads(json.dumps(GRACE_RULES))
    rules["tiers"]["downgrade"] = False
    save_rules(rules, gold.manager)
    assert review(gold, "2026-06-01").changes == []
    assert tier_of(gold.zhang) == "GOLD"


def test_a_dry_run_reports_the_grace_and_writes_nothing(gold):
    events = AuditEvent.select().count()
    dry = review(gold, "2025-01-11", dry_run=True)
    assert [c.action for c in dry.changes] == ["grace"]
    assert AuditEvent.select().count() == events


def test_a_tier_given_by_hand_ends_a_running_grace(gold):
    review(gold, "2025-01-11")
    update_member(gold.zhang, gold.manager, "u1", tier="DIAMOND")
    update_member(gold.zhang, gold.manager, "u2", tier="GOLD")
    # the grace was for the gold before; this gold starts its own on the next review
    assert [(c.action, c.grace_since) for c in review(gold, "2025-04-11").changes] == [("grace", "2025-04-11")]


def test_review_catches_up_upgrades_missed_when_thresholds_were_lowered(shop):
    buy(shop, shop.zhang, "s1", "K1M")
    assert tier_of(shop.zhang) == "NORMAL"
    edit_tier(shop.manager, "SILVER", upgrade_at=90_000)
    changes = review(shop, clock.today().isoformat()).changes
    assert [(c.action, c.to_tier) for c in changes] == [("up", "SILVER")]
    assert tier_of(shop.zhang) == "SILVER"


# --- progress for the member screen -------------------------------------------------------------------------------


def test_progress_says_what_is_left_to_the_next_tier_in_the_basis_unit(shop):
    buy(shop, shop.zhang, "s1", "K3")
    p = progress(shop.zhang)
    assert p.tier_code == "SILVER" and p.next_code == "GOLD" and p.next_needed == 200_000
    assert p.explanation == "¥2,000.00 more to 金卡会员"
    save_rules(POINTS_RULES, shop.manager)
    p = progress(shop.zhang)
    assert (p.basis, p.value, p.next_needed, p.next_spend_fen) == ("points", 3000, 2000, None)
    assert p.explanation == "2000 points more to 金卡会员"


def test_progress_shows_the_grace_while_it_runs(gold):
    review(gold, "2025-01-11")
    p = progress(gold.zhang, on("2025-01-12"))
    assert p.keep_needed == 200_000
    assert p.keep_explanation == "Keeps 金卡会员 until 2025-04-11 (¥2,000.00 short)"


# --- the command ----------------------------------------------------------------------------------------------------


def test_mms_tiers_review_downgrades_once_and_a_second_run_changes_nothing(tmp_path, sqlite_desk):
    ServiceItem.create(code="K5", name="K5", category="test", price_fen=500_000)
    zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "reg").member_id
    save_rules({"tiers": {"window_months": 12, "downgrade": True}}, sqlite_desk.manager)
    checkout(zhang, [("K5", 1)], [("cash", 500_000)], sqlite_desk.cashier, "s1")
    backdate_sale("s1", "2024-01-10")
    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_DB": "", "MMS_LANG": "en"}
    args = ["--db", sqlite_desk.target, "tiers", "review", "--as-of", "2025-01-11", "--format", "csv"]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "member_id,name,phone,action,from,to,value,threshold,grace_since,grace_until",
        f"{zhang},张三,138****8000,down,GOLD,NORMAL,0,500000,,"]
    assert "0 up, 1 down, 0 graces started, 0 graces ended" in first.stderr
    again = CliRunner().invoke(cli, args, env=env)
    assert again.exit_code == 0 and again.stdout == ""
    assert "0 up, 0 down, 0 graces started, 0 graces ended" in again.stderr
    connect(sqlite_desk.target)
    assert tier_of(zhang) == "NORMAL"

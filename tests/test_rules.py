"""The loyalty-rules document: defaults, exact parsing, round trips, one clear message per problem, storage, CLI."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mms_tui.models import AuditEvent, Config
from mms_tui.services.base.config import CONFIG_DEFAULTS
from mms_tui.services.base.errors import InvalidInput, PermissionDenied, RulesInvalid
from mms_tui.services.base.files import CannotWrite
from mms_tui.services.loyalty.rules import (
    Gift,
    PointsDay,
    Promotion,
    Rules,
    TierBenefit,
    TopupBonusRule,
    default_rules,
)
from mms_tui.services.loyalty.rules_files import (
    rules_from_text,
    rules_to_dict,
    rules_to_text,
    write_rules_file,
)
from mms_tui.services.loyalty.rules_reader import parse_rules
from mms_tui.services.loyalty.rules_store import CONFIG_KEY, load_rules, save_rules
from mms_tui.services.ops.setup import connect
from tests.conftest import CASHIER_PIN, MANAGER_PIN

#: the example a manager starts from (README): every section, money written the ways people write it
EXAMPLE_TOML = """
version = 1

[points]
per_yuan = 1
rounding = "floor"
expire_months = 24
redeem_per_yuan = 100
redeem_max_share = 50
redeem_min_points = 1000

[points.category_multipliers]
"零售" = 0.5

[[points.days]]
name = "会员日"
weekdays = [3]
multiplier = 2

[[points.days]]
name = "双十一"
dates = [2024-11-11]
multiplier = "3"

[[points.gifts]]
code = "CAKE"
name = "生日蛋糕"
points = 2000

[topup]
spend_order = "principal_first"

[[topup.bonuses]]
threshold = 500
bonus = "50"

[[topup.bonuses]]
threshold = "¥1,000"
bonus = 200

[[topup.bonuses]]
threshold = "5000"
bonus = "1500"
tier = "GOLD"
valid_from = 2024-06-01
valid_until = "2024-06-30"

[tiers]
basis = "spend"
window_months = 12
downgrade = true
grace_months = 3

[[tiers.levels]]
tier = "GOLD"
category_discounts = { "零售" = 0, "美发" = "12.5" }
keep_at = "3000"
birthday_gift = "CAKE"

[[promotions]]
code = "MJ300"
kind = "threshold"
threshold = "300"
amount = "50"
auto = true
stacking = "stackable"

[[promotions]]
code = "HAPPY"
name = "欢乐时光"
kind = "percent"
percent = 20
auto = true
weekdays = [1, 2, 3, 4, 5]
hours = "14:00-17:00"
stores = ["HQ"]
categories = ["美发"]

[[promotions]]
code = "BDAY"
kind = "amount"
amount = 0.5
auto = false
per_member_limit = 1

[birthday]
window = "week"
promotion = "BDAY"
gift = "CAKE"

[fees]
joining = "100"
annual = "200"
annual_due = "fixed"
annual_due_date = "01-01"
grace_days = 30
late_fee = "20"
"""


def test_defaults_are_todays_rules():
    rules = default_rules()
    assert rules.points.earn_per_yuan_x100 == CONFIG_DEFAULTS["points_per_yuan"] * 100
    assert rules.points.redeem_per_yuan == 100  # point_value_fen 1: 100 points = ¥1
    assert [(b.threshold_fen, b.bonus_fen) for b in rules.topup.bonuses] == [
        tuple(x) for x in CONFIG_DEFAULTS["topup_bonus_rules"]]
    assert (rules.points.principal_earns, rules.points.bonus_earns, rules.points.points_earn) == (True, False, False)
    assert rules.points.rounding == "floor" and rules.topup.spend_order == "principal_first"
    assert rules.promotions == () and rules.fees.joining_fen == 0 and rules.tiers.downgrade is False
    assert parse_rules({}) == rules  # an empty document keeps every default


def test_example_document_reads_money_exactly_and_every_section():
    rules = rules_from_text(EXAMPLE_TOML)
    p = rules.points
    assert (p.expire_months, p.redeem_max_share_pct, p.redeem_min_points) == (24, 50, 1000)
    assert p.category_multipliers == (("零售", 50),)  # TOML float 0.5 → ×0.5, read from its decimal form
    assert p.days == (PointsDay("会员日", 200, (3,)), PointsDay("双十一", 300, (), (dt.date(2024, 11, 11),)))
    assert p.gifts == (Gift("CAKE", "生日蛋糕", 2000),)
    assert rules.topup.bonuses == (
        TopupBonusRule(50_000, 5_000),
        TopupBonusRule(100_000, 20_000),  # "¥1,000" and 200 (a whole number is yuan, not fen)
        TopupBonusRule(500_000, 150_000, "GOLD", dt.date(2024, 6, 1), dt.date(2024, 6, 30)),
    )
    assert rules.tiers.levels == (TierBenefit("GOLD", (("零售", 10_000), ("美发", 8_750)), None, 300_000, "CAKE"),)
    happy = rules.promotion("HAPPY")
    assert (happy.percent_bp, happy.weekdays, happy.hours, happy.stores) == (2_000, (1, 2, 3, 4, 5), (840, 1020),
                                                                             ("HQ",))
    assert rules.promotion("BDAY").amount_fen == 50  # amount = 0.5 → 50 fen
    assert rules.fees.annual_due_date == (1, 1) and rules.fees.late_fen == 2_000


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_example_round_trips_exactly_through_toml_and_json(fmt):
    rules = rules_from_text(EXAMPLE_TOML)
    assert parse_rules(rules_to_dict(rules)) == rules
    text = rules_to_text(rules, fmt)
    assert rules_from_text(text, fmt) == rules
    assert rules_from_text(text) == rules  # the format is recognised without being told
    # written money is yuan strings: no float ever stands for money
    data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    assert data["topup"]["bonuses"][1] == {"threshold": "1000", "bonus": "200"}
    assert data["promotions"][2]["amount"] == "0.5"


def test_the_readme_example_is_a_valid_document():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Loyalty rules", 1)[1]
    example = section.split("```toml", 1)[1].split("```", 1)[0]
    rules = rules_from_text(example)
    assert rules.promotion("MJ300").threshold_fen == 30_000 and rules.points.redeem_max_share_pct == 50


def test_default_document_round_trips_and_exports_every_setting():
    rules = default_rules()
    text = rules_to_text(rules, "toml")
    assert text.startswith("# mms loyalty rules")
    data = tomllib.loads(text)
    assert set(data) == {"version", "points", "topup", "tiers", "promotions", "birthday", "fees"}
    assert data["points"]["per_yuan"] == 1 and data["points"]["redeem_per_yuan"] == 100
    assert parse_rules(data) == rules


# --- one clear message per problem ----------------------------------------------------------------------------

PROMO = {"code": "P", "kind": "percent", "percent": 10, "auto": True}


@pytest.mark.parametrize("document, message", [
    ({"promotions": [PROMO, {**PROMO, "code": "Q", "percent": 120}]}, "promotions[2].percent: must be between 1 and 99"),
    ({"promotions": [{**PROMO, "percent": "12.345"}]}, "promotions[1].percent: must be a percent with at most 2 decimals"),
    ({"points": {"per_yaun": 2}}, "points.per_yaun: unknown setting"),
    ({"colour": "red"}, "colour: unknown setting"),
    ({"version": 2}, "version: must be between 1 and 1"),
    ({"topup": {"bonuses": [{"threshold": "1000", "bonus": "0.505"}]}},
     "topup.bonuses[1].bonus: '0.505' is not an amount in yuan (at most 2 decimals)"),
    ({"topup": {"bonuses": [{"threshold": "1000", "bonus": "-5"}]}}, "topup.bonuses[1].bonus: cannot be negative"),
    ({"topup": {"bonuses": [{"threshold": "0", "bonus": "5"}]}}, "topup.bonuses[1].threshold: must be more than zero"),
    ({"topup": {"bonuses": [{"threshold": True, "bonus": "5"}]}},
     "topup.bonuses[1].threshold: must be an amount in yuan"),
    ({"topup": {"bonuses": [{"bonus": "5"}]}}, "topup.bonuses[1].threshold: is required"),
    ({"topup": {"spend_order": "newest"}}, "topup.spend_order: must be one of principal_first, bonus_first"),
    ({"topup": {"bonuses": [{"threshold": "1", "bonus": "1", "valid_from": "2024-06-02",
                             "valid_until": "2024-06-01"}]}}, "topup.bonuses[1].valid_until: is before valid_from"),
    ({"promotions": [{**PROMO, "weekdays": [3, 8]}]}, "promotions[1].weekdays[2]: must be between 1 and 7"),
    ({"promotions": [{**PROMO, "weekdays": [3, 3]}]}, "promotions[1].weekdays[2]: day 3 is listed twice"),
    ({"promotions": [{**PROMO, "hours": "14:00-25:00"}]}, "promotions[1].hours: '14:00-25:00' is not a time of day"),
    ({"promotions": [{**PROMO, "hours": "2pm"}]}, "promotions[1].hours: must be a time range such as"),
    ({"promotions": [{**PROMO, "hours": "14:00-14:00"}]}, "promotions[1].hours: starts and ends at the same time"),
    ({"promotions": [{**PROMO, "valid_from": "2024-13-01"}]}, "promotions[1].valid_from: '2024-13-01' is not a date"),
    ({"promotions": [{**PROMO, "amount": "5"}]}, "promotions[1].amount: does not apply to a promotion of kind percent"),
    ({"promotions": [{"code": "T", "kind": "threshold", "threshold": "300", "auto": True}]},
     "promotions[1].amount: is required for a promotion of kind threshold"),
    ({"promotions": [{"code": "T", "kind": "threshold", "threshold": "300", "amount": "301", "auto": True}]},
     "promotions[1].amount: is more than the threshold (300)"),
    ({"promotions": [{**PROMO, "kind": "bogof"}]}, "promotions[1].kind: must be one of amount, percent"),
    ({"promotions": [{**PROMO, "auto": "yes"}]}, "promotions[1].auto: must be true or false"),
    ({"promotions": [{k: v for k, v in PROMO.items() if k != "auto"}]}, "promotions[1].auto: is required"),
    ({"promotions": [PROMO, PROMO]}, "promotions[2].code: promotion P is listed twice"),
    ({"promotions": [{**PROMO, "code": "A B"}]}, "promotions[1].code: a code has no spaces"),
    ({"promotions": [{**PROMO, "stacking": "sometimes"}]}, "promotions[1].stacking: must be one of exclusive"),
    ({"promotions": {"code": "P"}}, "promotions: must be a list"),
    ({"points": {"days": [{"name": "会员日", "multiplier": 2}]}},
     "points.days[1]: say which days: weekdays (1 = Monday … 7 = Sunday) or dates"),
    ({"points": {"category_multipliers": {"零售": -1}}},
     "points.category_multipliers.零售: must be a multiplier with at most 2 decimals"),
    ({"points": {"rounding": "up"}}, "points.rounding: must be one of floor, round, ceil, not 'up'"),
    ({"points": {"redeem_per_yuan": 0}}, "points.redeem_per_yuan: must be between 1 and 100000"),
    ({"points": {"redeem_max_share": 101}}, "points.redeem_max_share: must be between 0 and 100"),
    ({"birthday": {"gift": "CAKE"}}, "birthday.gift: no gift CAKE in points.gifts"),
    ({"birthday": {"promotion": "P"}, "promotions": [PROMO]},
     "birthday.promotion: promotion P applies to everyone (auto = true)"),
    ({"birthday": {"window": "fortnight"}}, "birthday.window: must be one of day, week, month"),
    ({"tiers": {"levels": [{"tier": "GOLD", "upgrade_at": -5000}]}}, "tiers.levels[1].upgrade_at: cannot be negative"),
    ({"tiers": {"levels": [{"tier": "GOLD", "discount": 120}]}}, "tiers.levels[1].discount: must be between 0 and 100"),
    ({"tiers": {"levels": [{"tier": "GOLD", "points_multiplier": "x"}]}},
     "tiers.levels[1].points_multiplier: must be a multiplier with at most 2 decimals, such as 2 or \"1.5\""),
    ({"tiers": {"levels": [{"tier": "GOLD"}, {"tier": "GOLD"}]}}, "tiers.levels[2].tier: tier GOLD is listed twice"),
    ({"tiers": {"levels": [{"tier": "GOLD", "category_discounts": {"零售": 101}}]}},
     "tiers.levels[1].category_discounts.零售: must be between 0 and 100"),
    ({"fees": {"annual_due": "fixed"}}, "fees.annual_due_date: is required when annual_due is fixed"),
    ({"fees": {"annual_due": "fixed", "annual_due_date": "02-29"}},
     "fees.annual_due_date: '02-29' is not a day that comes every year"),
    ({"fees": {"annual_due_date": "01-01"}}, "fees.annual_due_date: applies only when annual_due is fixed"),
    ({"fees": {"grace_days": "thirty"}}, "fees.grace_days: must be a whole number from 0 to 366"),
])
def test_a_bad_document_gives_one_clear_message_naming_the_path(document, message):
    with pytest.raises(RulesInvalid) as caught:
        parse_rules(document)
    assert len(caught.value.errors) == 1, caught.value.errors
    assert caught.value.errors[0].startswith(message), caught.value.errors[0]
    assert str(caught.value) == caught.value.errors[0]
    assert isinstance(caught.value, InvalidInput)


def test_every_problem_is_reported_at_once():
    with pytest.raises(RulesInvalid) as caught:
        parse_rules({"points": {"rounding": "up", "per_yuan": "x"},
                     "promotions": [{**PROMO, "percent": 0}, {**PROMO, "code": "Q", "weekdays": [0]}]})
    paths = [e.split(":")[0] for e in caught.value.errors]
    assert paths == ["points.per_yuan", "points.rounding", "promotions[1].percent", "promotions[2].weekdays[1]"]
    assert str(caught.value).startswith("4 problems in the rules; the first: points.per_yuan")


def test_a_tier_benefit_with_points_basis_reads_thresholds_as_counts():
    rules = parse_rules({"tiers": {"basis": "points", "levels": [{"tier": "GOLD", "upgrade_at": 5000,
                                                                  "keep_at": 3000}]}})
    assert rules.tiers.levels[0].upgrade_at == 5000 and rules.tiers.levels[0].keep_at == 3000
    assert parse_rules(rules_to_dict(rules)) == rules


def test_syntax_errors_are_one_line_naming_the_format():
    with pytest.raises(InvalidInput, match=r"rules.toml: not valid TOML: .*line 1"):
        rules_from_text("[points\n", "toml", source="rules.toml")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        rules_from_text("{", "json")
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        rules_from_text("[1, 2]", "json")


# --- round trip of any valid document --------------------------------------------------------------------------

money = st.integers(1, 10_000_000).map(lambda fen: f"{fen // 100}.{fen % 100:02d}")
codes = st.text("ABCDEFGHXYZ0123456789", min_size=1, max_size=8)
days = st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))


@st.composite
def promotion_documents(draw, code: str) -> dict:
    kind = draw(st.sampled_from(["amount", "percent", "threshold", "free_item", "buy_n_get_1"]))
    doc: dict = {"code": code, "kind": kind, "auto": draw(st.booleans()),
                 "stacking": draw(st.sampled_from(["exclusive", "stackable"]))}
    if kind == "amount":
        doc["amount"] = draw(money)
    elif kind == "percent":
        doc["percent"] = draw(st.integers(1, 99) | st.sampled_from(["12.5", "1.25"]))
    elif kind == "threshold":
        threshold = draw(st.integers(2, 100_000))
        doc.update(threshold=str(threshold), amount=str(draw(st.integers(1, threshold))),
                   repeat=draw(st.booleans()))
    elif kind == "free_item":
        doc["item"] = draw(codes)
    else:
        doc["buy"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        start = draw(days)
        doc.update(valid_from=start.isoformat(), valid_until=(start + dt.timedelta(days=draw(st.integers(0, 90))))
                   .isoformat())
    if draw(st.booleans()):
        doc["weekdays"] = sorted(draw(st.sets(st.integers(1, 7), min_size=1)))
    if draw(st.booleans()):
        start, length = draw(st.integers(0, 1439)), draw(st.integers(1, 1439))
        end = (start + length) % 1440
        doc["hours"] = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    if draw(st.booleans()):
        doc["categories"] = sorted(draw(st.sets(st.sampled_from(["美发", "理疗", "零售"]), min_size=1)))
    if draw(st.booleans()):
        doc["per_member_limit"] = draw(st.integers(1, 5))
    return doc


@st.composite
def documents(draw) -> dict:
    n = draw(st.integers(0, 4))
    promos = [draw(promotion_documents(f"P{i}")) for i in range(n)]
    return {
        "points": {"per_yuan": draw(st.sampled_from([0, 1, 2, "0.5", "1.25"])),
                   "rounding": draw(st.sampled_from(["floor", "round", "ceil"])),
                   "category_multipliers": {"零售": draw(st.sampled_from([0, "0.5", 2]))},
                   "days": [{"name": "会员日", "weekdays": [draw(st.integers(1, 7))], "multiplier": 2}],
                   "gifts": [{"code": "CAKE", "name": "蛋糕", "points": draw(st.integers(1, 10_000))}]},
        "topup": {"spend_order": draw(st.sampled_from(["principal_first", "bonus_first"])),
                  "bonuses": [{"threshold": draw(money), "bonus": draw(money)} for _ in range(draw(st.integers(0, 3)))]},
        "promotions": promos,
        "birthday": {"window": draw(st.sampled_from(["day", "week", "month"])), "gift": "CAKE"},
        "fees": {"joining": draw(money), "grace_days": draw(st.integers(0, 60))},
    }


@settings(max_examples=60, deadline=None)
@given(documents())
def test_any_valid_document_round_trips_exactly(document):
    rules = parse_rules(document)
    assert parse_rules(rules_to_dict(rules)) == rules
    assert rules_to_dict(parse_rules(rules_to_dict(rules))) == rules_to_dict(rules)
    for fmt in ("toml", "json"):
        assert rules_from_text(rules_to_text(rules, fmt), fmt) == rules


# --- storage ---------------------------------------------------------------------------------------------------


def test_load_gives_defaults_until_a_manager_saves(desk):
    assert load_rules() == default_rules()
    saved = save_rules(rules_from_text(EXAMPLE_TOML), desk.manager)
    assert load_rules() == saved
    event = AuditEvent.get(AuditEvent.action == "rules.save")
    assert event.staff_id == desk.manager.id
    assert json.loads(event.payload)["rules"]["promotions"][0]["code"] == "MJ300"
    # saving again replaces the document; both changes are in the audit trail
    save_rules({"promotions": []}, desk.admin)
    assert load_rules().promotions == () and load_rules().points == default_rules().points
    assert AuditEvent.select().where(AuditEvent.action == "rules.save").count() == 2


def test_a_cashier_may_not_change_the_rules(desk):
    with pytest.raises(PermissionDenied):
        save_rules(rules_from_text(EXAMPLE_TOML), desk.cashier)
    assert Config.get_or_none(Config.key == CONFIG_KEY) is None
    assert load_rules() == default_rules()


def test_names_the_database_lacks_are_problems_and_nothing_is_saved(desk):
    document = {
        "topup": {"bonuses": [{"threshold": "500", "bonus": "50", "tier": "PLATINUM"}]},
        "promotions": [{"code": "W", "kind": "free_item", "item": "WATRE", "auto": True, "stores": ["HQ", "SH01"]},
                       {**PROMO, "items": ["HAIR", "NAIL"]}],
        "tiers": {"levels": [{"tier": "GOLDEN"}]},
    }
    with pytest.raises(RulesInvalid) as caught:
        save_rules(document, desk.manager)
    assert caught.value.errors == [
        "topup.bonuses[1].tier: no tier PLATINUM (tiers: DIAMOND, GOLD, NORMAL, SILVER)",
        "tiers.levels[1].tier: no tier GOLDEN (tiers: DIAMOND, GOLD, NORMAL, SILVER)",
        "promotions[1].stores[2]: no store SH01",
        "promotions[1].item: no product or service WATRE",
        "promotions[2].items[2]: no product or service NAIL",
    ]
    assert Config.get_or_none(Config.key == CONFIG_KEY) is None
    assert not AuditEvent.select().where(AuditEvent.action == "rules.save").exists()


def test_a_points_basis_needs_every_upper_tier_threshold(desk):
    with pytest.raises(RulesInvalid) as caught:
        save_rules({"tiers": {"basis": "visits", "levels": [{"tier": "SILVER", "upgrade_at": 10}]}}, desk.manager)
    assert caught.value.errors == ["tiers.levels: tier GOLD needs upgrade_at when the basis is visits",
                                   "tiers.levels: tier DIAMOND needs upgrade_at when the basis is visits"]


def test_dry_run_checks_but_saves_nothing(desk):
    rules = save_rules(rules_from_text(EXAMPLE_TOML), desk.manager, dry_run=True)
    assert rules.promotion("MJ300") is not None
    assert Config.get_or_none(Config.key == CONFIG_KEY) is None


def test_rules_built_in_code_round_trip_through_the_document():
    a = Rules(promotions=(Promotion("A", "amount", True, amount_fen=100),))
    assert a == parse_rules(rules_to_dict(a))
    assert a != Rules()


# --- mms rules export / import ---------------------------------------------------------------------------------


def test_cli_export_writes_the_defaults_as_toml_to_stdout(run, sqlite_desk):
    result = run("--db", sqlite_desk.target, "rules", "export")
    assert result.exit_code == 0, result.output
    assert rules_from_text(result.stdout, "toml") == default_rules()


def test_cli_import_then_export_gives_the_same_rules(run, sqlite_desk, tmp_path):
    source = tmp_path / "rules.toml"
    source.write_text(EXAMPLE_TOML, encoding="utf-8")
    result = run("--db", sqlite_desk.target, "rules", "import", str(source))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("Saved: 3 promotions, 3 top-up bonuses, 2 points days, 1 gifts, "
                                     "1 tier benefits.")
    out = tmp_path / "out.json"
    exported = run("--db", sqlite_desk.target, "rules", "export", str(out))
    assert exported.exit_code == 0 and "(json)" in exported.stderr
    assert rules_from_text(out.read_text(encoding="utf-8"), "json") == rules_from_text(EXAMPLE_TOML)
    connect(sqlite_desk.target)
    assert AuditEvent.get(AuditEvent.action == "rules.save").staff_id == sqlite_desk.admin.id


def test_cli_import_of_a_bad_file_lists_every_problem_and_changes_nothing(run, sqlite_desk, tmp_path):
    source = tmp_path / "rules.json"
    source.write_text(json.dumps({"points": {"rounding": "up"},
                                  "promotions": [PROMO, {**PROMO, "code": "Q", "percent": 120, "stores": ["SH"]}]}),
                      encoding="utf-8")
    result = run("--db", sqlite_desk.target, "rules", "import", str(source))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "points.rounding: must be one of floor, round, ceil, not 'up'",
        "promotions[2].percent: must be between 1 and 99",
        "promotions[2].stores[1]: no store SH",
        f"Error: 3 problems in {source}; nothing was changed.",
    ]
    assert result.stdout == ""
    connect(sqlite_desk.target)
    assert Config.get_or_none(Config.key == CONFIG_KEY) is None


def test_cli_import_needs_a_manager(run, sqlite_desk, tmp_path):
    source = tmp_path / "rules.toml"
    source.write_text(EXAMPLE_TOML, encoding="utf-8")
    refused = run("--db", sqlite_desk.target, "rules", "import", str(source), "--staff", "c01", "--pin-stdin",
                  input=CASHIER_PIN + "\n")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "Error: 前台 小陈 (cashier) may not do this; a manager must."
    assert run("--db", sqlite_desk.target, "rules", "import", str(source), "--staff", "m01", "--pin-stdin",
               input=MANAGER_PIN + "\n").exit_code == 0
    connect(sqlite_desk.target)
    assert AuditEvent.get(AuditEvent.action == "rules.save").staff_id == sqlite_desk.manager.id


def test_cli_import_reads_standard_input_and_dry_run_saves_nothing(run, sqlite_desk):
    document = json.dumps({"promotions": [PROMO]})
    checked = run("--db", sqlite_desk.target, "rules", "import", "-", "--dry-run", input=document)
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("Checked (dry run, nothing saved): 1 promotions")
    connect(sqlite_desk.target)
    assert Config.get_or_none(Config.key == CONFIG_KEY) is None
    assert run("--db", sqlite_desk.target, "rules", "import", "-", input=document).exit_code == 0
    connect(sqlite_desk.target)
    assert load_rules().promotion("P").percent_bp == 1_000


@pytest.mark.parametrize("content, message", [
    (None, "Error: Cannot read"),
    (b"\xff\xfe[points]", "is not UTF-8 text (byte 0)"),
    (b"[points\n", "not valid TOML"),
])
def test_cli_import_of_an_unreadable_file_is_one_line(run, sqlite_desk, tmp_path, content, message):
    source = tmp_path / "rules.toml"
    if content is not None:
        source.write_bytes(content)
    result = run("--db", sqlite_desk.target, "rules", "import", str(source))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk full", "Ctrl+C"])
def test_a_rules_file_write_that_fails_midway_keeps_the_old_file_and_leaves_nothing(monkeypatch, tmp_path, failure):
    """The document is written, then the write fails before the file is in place: the file there stays as it
    was and nothing else is left in the folder."""
    target = tmp_path / "rules.toml"
    target.write_text("# yesterday's rules\n", encoding="utf-8")
    written: list[int] = []

    def fail(fd: int) -> None:
        written.append(os.fstat(fd).st_size)
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(CannotWrite if isinstance(failure, OSError) else KeyboardInterrupt):
        write_rules_file(default_rules(), target)
    assert written and written[0] > 0  # it failed midway: the new document was in the temporary file
    assert target.read_text(encoding="utf-8") == "# yesterday's rules\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.toml"]

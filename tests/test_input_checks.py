"""Wrong input is refused, never silently taken for something else (issue #15): money with stray separators, an
empty rules file, a file with no rows, PINs in full-width digits or not digits at all, rules nested without end,
and rules that take quadratic time to check."""

from __future__ import annotations

import time

import pytest

from mms_tui.db import close_database
from mms_tui.models import AuditEvent, Staff, Transaction
from mms_tui.models.migrations import current_version
from mms_tui.services.base.errors import InvalidInput, WrongPin
from mms_tui.services.base.text import format_money, parse_yuan
from mms_tui.services.exchange.importing import import_file
from mms_tui.services.loyalty.rules_reader import parse_rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.ops.setup import connect, initialise
from mms_tui.services.staff.accounts import authenticate, create_staff, hash_pin

# --- money: thousands separators in groups of three ---------------------------------------------------------------


@pytest.mark.parametrize("text, fen", [("1,234.50", 123_450), ("¥12,345,678", 1_234_567_800), ("-¥1,000", -100_000),
                                       ("1 234.5", 123_450), ("１，２３４", 123_400), ("999", 99_900)])
def test_thousands_separators_in_groups_of_three_are_money(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["1,2,3", "1,23", "12,3456", ",123", "123,", "1,234,5", "1 2 3", "1,234 567",
                                  "1.2,3", "1,,234"])
def test_separators_that_are_not_thousands_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_yuan(text)


def test_every_formatted_amount_still_parses_back():
    for fen in (0, 5, 99_999, 100_000, 123_456_789, 10**15, -1_234_567):
        assert parse_yuan(format_money(fen)) == fen


def test_an_import_lists_a_balance_of_1_2_3_as_a_bad_row(sqlite_desk, tmp_path):
    from mms_tui.services.exchange.import_report import ImportRejected

    path = tmp_path / "members.csv"
    path.write_text('姓名,手机,余额\n张三,13800138000,"1,2,3"\n', encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_file("members", path)
    assert [(e.line, e.column, e.value) for e in caught.value.errors] == [(2, "余额", "1,2,3")]
    assert not Transaction.select().where(Transaction.kind == "import").exists()


# --- rules: an empty file is not "reset everything" ---------------------------------------------------------------

SOME_RULES = 'version = 1\n[points]\nper_yuan = 2\n[topup]\nbonuses = [{threshold = "100", bonus = "10"}]\n'


@pytest.mark.parametrize("name, content", [("empty.toml", ""), ("blank.toml", "  \n\t\n"),
                                           ("comments.toml", "# nothing here yet\n"), ("empty.json", "{}"),
                                           ("bom.toml", "\ufeff\n")])
def test_an_empty_rules_file_is_refused_and_the_rules_stay(run, sqlite_desk, tmp_path, name, content):
    source = tmp_path / "mine.toml"
    source.write_text(SOME_RULES, encoding="utf-8")
    assert run("--db", sqlite_desk.target, "rules", "import", str(source)).exit_code == 0
    empty = tmp_path / name
    empty.write_text(content, encoding="utf-8")
    result = run("--db", sqlite_desk.target, "rules", "import", str(empty))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no rules" in result.stderr
    piped = run("--db", sqlite_desk.target, "rules", "import", "-", input=content)
    assert piped.exit_code == 1 and piped.stderr.count("\n") == 1
    connect(sqlite_desk.target)
    rules = load_rules()
    assert rules.points.earn_per_yuan_x100 == 200 and [(b.threshold_fen, b.bonus_fen) for b in rules.topup.bonuses] == [
        (10_000, 1_000)]


def test_a_document_that_says_only_its_version_still_restores_the_defaults(run, sqlite_desk, tmp_path):
    source = tmp_path / "mine.toml"
    source.write_text(SOME_RULES, encoding="utf-8")
    assert run("--db", sqlite_desk.target, "rules", "import", str(source)).exit_code == 0
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("version = 1\n", encoding="utf-8")
    assert run("--db", sqlite_desk.target, "rules", "import", str(defaults)).exit_code == 0
    connect(sqlite_desk.target)
    assert load_rules() == parse_rules({})


# --- rules: nested without end, and many promotions ---------------------------------------------------------------


@pytest.mark.parametrize("name, content", [
    pytest.param("deep.json", "[" * 100_000 + "]" * 100_000, id="json-lists"),
    pytest.param("deep-object.json", '{"a":' * 100_000 + "1" + "}" * 100_000, id="json-objects"),
    pytest.param("deep.toml", "points = " + "[" * 100_000 + "]" * 100_000 + "\n", id="toml-arrays"),
    pytest.param("deep-inline.toml", "points = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n", id="toml-tables"),
])
def test_rules_nested_without_end_are_one_clear_line(run, sqlite_desk, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    for args, given in (((str(path),), None), (("-", "--format", name.rsplit(".", 1)[1]), content)):
        result = run("--db", sqlite_desk.target, "rules", "import", *args, input=given)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and len(result.stderr) < 300, result.stderr[:300]
        assert "Traceback" not in result.output and "Recursion" not in result.stderr


def test_a_long_value_in_a_rules_file_is_not_echoed_whole():
    with pytest.raises(InvalidInput) as caught:
        parse_rules({"points": {"rounding": "x" * 1_000_000, "category_multipliers": {"零售" * 500_000: "x"}},
                     "topup": {"spend_order": [0] * 100_000}, "y" * 1_000_000: 1})
    assert len(str(caught.value)) < 400
    assert len(caught.value.errors) == 4 and all(len(problem) < 300 for problem in caught.value.errors)


def _promotions(n: int, items: int = 0) -> dict:
    promotions = [{"code": f"P{i}", "kind": "amount", "auto": False, "amount": "5"} for i in range(n)]
    if items:
        promotions[0]["items"] = [f"ITEM{i}" for i in range(items)]
    return {"promotions": promotions,
            "points": {"gifts": [{"code": f"G{i}", "name": "礼品", "points": 10} for i in range(n)]},
            "tiers": {"levels": [{"tier": f"T{i}"} for i in range(n)]}}


def test_checking_32000_promotions_gifts_and_tier_benefits_takes_linear_time():
    parse_rules(_promotions(2_000, items=2_000))  # warm
    started = time.perf_counter()
    small = parse_rules(_promotions(4_000, items=4_000))
    small_seconds = time.perf_counter() - started
    started = time.perf_counter()
    big = parse_rules(_promotions(32_000, items=32_000))
    big_seconds = time.perf_counter() - started
    assert len(big.promotions) == 32_000 and len(big.promotions[0].items) == 32_000 and len(small.promotions) == 4_000
    # eight times the document: linear is about eight times the time, quadratic sixty-four
    assert big_seconds < max(20 * small_seconds, 1.0), (small_seconds, big_seconds)
    assert big_seconds < 15


def test_a_promotion_listed_twice_among_thousands_is_still_named():
    document = _promotions(5_000)
    document["promotions"].append({"code": "P17", "kind": "amount", "auto": False, "amount": "5"})
    document["points"]["gifts"].append({"code": "G3", "name": "礼品", "points": 10})
    document["tiers"]["levels"].append({"tier": "T9"})
    document["promotions"][1]["items"] = ["A", "B", "A"]
    with pytest.raises(InvalidInput) as caught:
        parse_rules(document)
    assert sorted(caught.value.errors) == sorted([
        "promotions[5001].code: promotion P17 is listed twice",
        "points.gifts[5001].code: gift G3 is listed twice",
        "tiers.levels[5001].tier: tier T9 is listed twice",
        "promotions[2].items[3]: 'A' is listed twice",
    ])


# --- imports: a file with a header and no rows -------------------------------------------------------------------


@pytest.mark.parametrize("content", ["姓名,手机\n", "姓名,手机\n\n\n,\n", "\ufeff姓名,手机"])
def test_a_header_only_file_writes_nothing_and_says_there_were_no_rows(desk, tmp_path, content):
    path = tmp_path / "members.csv"
    path.write_text(content, encoding="utf-8")
    before = (Transaction.select().count(), AuditEvent.select().count())
    with pytest.raises(InvalidInput, match="no rows"):
        import_file("members", path)
    with pytest.raises(InvalidInput, match="no rows"):
        import_file("members", path, dry_run=True)
    assert (Transaction.select().count(), AuditEvent.select().count()) == before


def test_a_header_only_file_is_one_line_at_the_command_line(run, sqlite_desk, tmp_path):
    import openpyxl

    csv_path = tmp_path / "products.csv"
    csv_path.write_text("编码,名称,售价\n", encoding="utf-8")
    book = openpyxl.Workbook()
    book.active.append(["姓名", "手机"])
    book.active.append([None, None])
    xlsx_path = tmp_path / "members.xlsx"
    book.save(xlsx_path)
    for what, path in (("products", csv_path), ("members", xlsx_path)):
        result = run("--db", sqlite_desk.target, "import", what, str(path))
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "no rows" in result.stderr, result.stderr
    connect(sqlite_desk.target)
    assert not Transaction.select().where(Transaction.kind == "import").exists()


# --- PINs ----------------------------------------------------------------------------------------------------------


def test_a_full_width_pin_at_init_is_the_pin_the_admin_types(run, tmp_path):
    target = str(tmp_path / "fresh.sqlite3")
    result = run("--db", target, "init", "--admin-pin", "１２３４")
    assert result.exit_code == 0, result.output
    connect(target)
    assert authenticate("admin", "1234").code == "admin"
    assert authenticate("admin", "１２３４").code == "admin"


def test_full_width_pins_are_normalised_wherever_a_pin_is_set_or_checked(desk):
    create_staff("c02", "前台 小王", "cashier", "５６７８", store=desk.store)
    assert authenticate("c02", "5678").code == "c02"
    assert authenticate("c02", "５６７８").code == "c02"
    with pytest.raises(WrongPin):
        authenticate("c02", "5679")


def test_a_pin_hashed_from_full_width_digits_before_this_fix_still_logs_in(desk):
    from mms_tui.services.staff.accounts import _hasher

    Staff.update(pin_hash=_hasher.hash("４３２１")).where(Staff.code == "c01").execute()
    assert authenticate("c01", "４３２１").code == "c01"


@pytest.mark.parametrize("pin", ["abc", "12", "123456789", "١٢٣٤", "1234\n", " 1234", "12 34", "", "１２３"])
def test_what_is_not_four_to_eight_digits_is_not_a_pin(pin):
    with pytest.raises(InvalidInput):
        hash_pin(pin)


@pytest.mark.parametrize("pin", ["abc", "12", "١٢٣٤"])
def test_init_with_a_bad_pin_writes_nothing(run, tmp_path, pin):
    target = tmp_path / "fresh.sqlite3"
    result = run("--db", str(target), "init", "--admin-pin", pin)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "PIN" in result.stderr
    assert not target.exists()
    done = run("--db", str(target), "init", "--admin-pin", "1234")
    assert done.exit_code == 0 and "Created admin admin" in done.stdout


def test_initialise_checks_the_admin_before_it_makes_anything(db_target):
    connect(db_target)
    with pytest.raises(InvalidInput):
        initialise(admin_code="admin", admin_pin="abc")
    assert current_version() == 0
    with pytest.raises(InvalidInput):
        initialise(admin_code="  ", admin_pin="1234")
    assert current_version() == 0
    result = initialise(admin_code="admin", admin_pin="1234")
    assert result.admin_created and authenticate("admin", "1234").role == "admin"
    close_database()

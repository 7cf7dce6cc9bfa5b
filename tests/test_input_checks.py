"""Wrong input is refused, never silently taken for something else (issue #15): money with stray separators, an
empty rules file, a file with no rows, PINs in full-width digits or not digits at all, rules nested without end,
and rules that take quadratic time to check."""

from __future__ import annotations

import pytest

from mms_tui.models import Transaction
from mms_tui.services.errors import InvalidInput
from mms_tui.services.importing import import_file
from mms_tui.services.text import format_money, parse_money

# --- money: thousands separators in groups of three ---------------------------------------------------------------


@pytest.mark.parametrize("text, fen", [("1,234.50", 123_450), ("¥12,345,678", 1_234_567_800), ("-¥1,000", -100_000),
                                       ("1 234.5", 123_450), ("１，２３４", 123_400), ("999", 99_900)])
def test_thousands_separators_in_groups_of_three_are_money(text, fen):
    assert parse_money(text) == fen


@pytest.mark.parametrize("text", ["1,2,3", "1,23", "12,3456", ",123", "123,", "1,234,5", "1 2 3", "1,234 567",
                                  "1.2,3", "1,,234"])
def test_separators_that_are_not_thousands_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_money(text)


def test_every_formatted_amount_still_parses_back():
    for fen in (0, 5, 99_999, 100_000, 123_456_789, 10**15, -1_234_567):
        assert parse_money(format_money(fen)) == fen


def test_an_import_lists_a_balance_of_1_2_3_as_a_bad_row(sqlite_desk, tmp_path):
    from mms_tui.services.importing import ImportRejected

    path = tmp_path / "members.csv"
    path.write_text('姓名,手机,余额\n张三,13800138000,"1,2,3"\n', encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_file("members", path)
    assert [(e.line, e.column, e.value) for e in caught.value.errors] == [(2, "余额", "1,2,3")]
    assert not Transaction.select().where(Transaction.kind == "import").exists()

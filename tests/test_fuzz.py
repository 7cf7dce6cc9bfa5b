"""Fuzzing every parser of what people type, scan or send (issue #7): whatever the input, the answer is a value
or the domain's own error (one clear message) — never another exception. Device frames are fuzzed in
test_devices.py; the loyalty rules documents in test_rules.py."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mms_tui.models import Card, Entry, Member
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.text import (
    normalise_card_no,
    normalise_phone,
    normalise_query,
    parse_count,
    parse_date,
    parse_yuan,
    pinyin_keys,
    plain_amount,
)
from mms_tui.services.exchange.import_report import ImportRejected
from mms_tui.services.exchange.importing import import_file
from mms_tui.services.exchange.sheets import open_sheet
from mms_tui.services.members.lookup import lookup

#: what arrives from keyboards, scanners and spreadsheets: digits and separators, CJK, full-width forms, controls
TYPED = st.text(alphabet=st.sampled_from([*"0123456789.,-+ ¥￥元eE/年月日:T\t'", "１", "２", "．", "\u3000", "张", "三",
                                          "a", "Z", "\x00"]), max_size=24) | st.text(max_size=24)

DB_SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(TYPED)
def test_money_is_exact_fen_or_invalid_input(text):
    try:
        fen = parse_yuan(text)
    except InvalidInput:
        return
    assert isinstance(fen, int)
    assert parse_yuan(plain_amount(fen)) == fen  # exact both ways: no float on the way


@given(TYPED)
def test_dates_are_calendar_days_or_invalid_input(text):
    try:
        day = parse_date(text)
    except InvalidInput:
        return
    assert isinstance(day, dt.date)


@given(TYPED)
def test_phones_are_eleven_digit_mobiles_or_invalid_input(text):
    try:
        phone = normalise_phone(text)
    except InvalidInput:
        return
    assert len(phone) == 11 and phone.isdigit() and phone[0] == "1"


@given(TYPED)
def test_counts_are_whole_and_not_negative_or_invalid_input(text):
    try:
        count = parse_count(text)
    except InvalidInput:
        return
    assert isinstance(count, int) and count >= 0


@given(st.text(max_size=40))
def test_card_numbers_queries_and_names_always_normalise(text):
    assert " " not in normalise_card_no(text)
    query = normalise_query(text)
    assert query == query.strip() and "  " not in query
    full, initials = pinyin_keys(text)
    assert isinstance(full, str) and isinstance(initials, str) and len(initials) <= len(full)


@DB_SLOW
@given(TYPED)
def test_any_search_finds_members_or_nothing(sqlite_desk, text):
    hits = lookup(text, 20)
    assert isinstance(hits, list) and len(hits) <= 20


@DB_SLOW
@given(st.binary(max_size=300))
def test_any_bytes_as_a_csv_file_read_or_refuse_cleanly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "members.csv"
    path.write_bytes(data)
    try:
        sheet = open_sheet(path)
        for _line, cells in sheet.rows:
            assert isinstance(cells, list)
    except InvalidInput:
        pass


CELL = st.one_of(TYPED, st.sampled_from(["张三", "13800138000", "1.38E+10", "¥1,234.50", "2024/1/2", "45293",
                                         "男", "金卡", "储值卡", "10次卡", "'=1+1", ""]))


@DB_SLOW
@given(st.lists(st.lists(CELL, min_size=0, max_size=9), min_size=1, max_size=6))
def test_any_member_rows_import_whole_or_not_at_all(sqlite_desk, tmp_path_factory, rows):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "手机", "卡号", "余额", "积分", "生日", "性别", "等级", "卡类型"])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("fuzz") / "members.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    before = [Member.select().count(), Card.select().count(), Entry.select().count()]
    try:
        result = import_file("members", path, on_duplicate="skip")
    except (ImportRejected, InvalidInput) as exc:
        assert isinstance(exc, DomainError) and str(exc)
        assert [Member.select().count(), Card.select().count(), Entry.select().count()] == before
        return
    assert Member.select().count() == before[0] + result.created


@pytest.mark.parametrize(("data", "says"), [(b"\r\x00", "not valid CSV"), (b"name\rphone,card\n", "not valid CSV"),
                                           (b"PK\x03\x04", "not a readable .xlsx workbook")])
def test_what_the_fuzzer_found_is_one_clear_error(tmp_path, data, says):
    path = tmp_path / "members.csv"
    path.write_bytes(data)
    with pytest.raises(InvalidInput, match=says):
        open_sheet(path)

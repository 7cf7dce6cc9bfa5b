"""The desk search finds members by every key, best match first."""

from __future__ import annotations

import pytest

from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.lookup import lookup
from mms_tui.services.members.profile import register_member


@pytest.fixture
def people(desk):
    zhang = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    zhou = register_member("周山", "13912345678", desk.cashier, "r2").member_id
    alice = register_member("Alice Wang", "13700008000", desk.cashier, "r3").member_id
    issue_card(zhang, "SV", desk.cashier, "i1", card_no="00012345", reader_uid="0A1B2C3D4E", barcode="M-0001")
    return {"zhang": zhang, "zhou": zhou, "alice": alice}


def ids(hits):
    return [h.member_id for h in hits]


@pytest.mark.parametrize("query", ["00012345", "0A1B2C3D4E", "M-0001", "０００１２３４５", " 00012345 "])
def test_exact_card_keys_find_the_holder_first(people, query):
    hits = lookup(query)
    assert ids(hits)[:1] == [people["zhang"]]
    assert hits[0].match == "card"
    assert hits[0].matched_card == "00012345"


def test_full_phone_in_any_spelling(people):
    assert ids(lookup("+86 139-1234-5678")) == [people["zhou"]]
    assert lookup("13912345678")[0].match == "phone"


def test_last_four_digits_find_every_member_ending_so(people):
    hits = lookup("8000")
    assert sorted(ids(hits)) == sorted([people["zhang"], people["alice"]])
    assert {h.match for h in hits} == {"last4"}


def test_name_prefix(people):
    assert ids(lookup("张")) == [people["zhang"]]
    assert lookup("张三")[0].match == "name"


def test_pinyin_initials_of_a_chinese_name(people):
    hits = lookup("zs")
    assert ids(hits) == [people["zhang"], people["zhou"]]  # 张三 zs and 周山 zs
    assert hits[0].match == "initials"


def test_full_pinyin_prefix(people):
    hits = lookup("zhangs")
    assert ids(hits) == [people["zhang"]]
    assert hits[0].match == "pinyin"


def test_latin_names_by_letters(people):
    assert ids(lookup("aw")) == [people["alice"]]
    assert ids(lookup("Alice")) == [people["alice"]]


def test_hits_mask_the_phone_and_carry_cards(people):
    hit = lookup("00012345")[0]
    assert hit.phone_masked == "138****8000"
    assert [c.card_no for c in hit.cards] == ["00012345"]


def test_nothing_found_and_empty_query(people):
    assert lookup("xyzxyz") == []
    assert lookup("   ") == []
    assert lookup("9999") == []


def test_limit(people):
    assert len(lookup("zs", limit=1)) == 1


def test_lookup_paths_use_indexes(sqlite_desk):
    """No full scan of the member or card table on any lookup path (SQLite query plans of the very statements)."""
    from mms_tui.db import database
    from mms_tui.services.base.resolve import CARD_KEY_SQL
    from mms_tui.services.members.lookup import CARDS_SQL, EXACT_SQL, MEMBERS_SQL, PREFIX_SQL

    statements = [(CARD_KEY_SQL, ("0001", "000001", "0001", "0001")), (MEMBERS_SQL.format(ids="?, ?"), (1, 2)),
                  (CARDS_SQL.format(ids="?, ?"), (1, 2))]
    statements += [(EXACT_SQL.format(column=c), ("8000", 20)) for c in ("phone", "phone_last4")]
    statements += [(PREFIX_SQL["sqlite"].format(column=c), ("zs", "zs\uffff", 20))
                   for c in ("phone", "name", "name_initials", "name_pinyin")]
    for sql, params in statements:
        plan = " ".join(str(row) for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
        assert "SCAN m" not in plan and "SCAN c" not in plan and "SCAN card" not in plan, plan
        assert "SCAN member" not in plan, plan
        assert "INDEX" in plan or "PRIMARY KEY" in plan, plan

"""What people type or scan, normalised exactly: money without floats, phones, card numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import (
    format_money,
    mask_phone,
    normalise_card_no,
    normalise_phone,
    parse_yuan,
    pinyin_keys,
    plain_amount,
)


@pytest.mark.parametrize("fen, text", [(20_000, "200"), (123_450, "1234.5"), (5, "0.05"), (-150, "-1.5"), (0, "0")])
def test_plain_amounts_round_trip_exactly(fen, text):
    assert plain_amount(fen) == text
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text, fen", [("¥1,234.50", 123_450), ("1234.5", 123_450), ("１２３", 12_300),
                                       ("￥0.01", 1), ("88元", 8_800)])
def test_parse_money(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["1.234", "abc", "1.2.3", "", "1e5"])
def test_parse_money_refuses_what_is_not_money(text):
    with pytest.raises(InvalidInput):
        parse_yuan(text)


@given(st.integers(-10**12, 10**12))
def test_every_amount_formats_and_parses_back(fen):
    assert parse_yuan(format_money(fen)) == fen
    assert parse_yuan(plain_amount(fen)) == fen


@pytest.mark.parametrize("text", ["+86 138-0013-8000", "0086 13800138000", "(138)00138000", "１３８００１３８０００"])
def test_phone_spellings(text):
    assert normalise_phone(text) == "13800138000"


def test_phone_mask_card_numbers_and_pinyin():
    assert mask_phone("13812345678") == "138****5678"
    assert normalise_card_no(" ０００１２ ") == "00012"
    assert pinyin_keys("张三") == ("zhangsan", "zs")


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=5))
def test_pinyin_fast_path_gives_what_pypinyin_gives(name):
    from pypinyin import Style, lazy_pinyin

    from mms_tui.services.base.text import _pinyin_by_char

    fast = _pinyin_by_char(name)
    if fast is not None:
        assert fast == lazy_pinyin(name, style=Style.NORMAL)


@pytest.mark.parametrize("name, keys", [("张三", ("zhangsan", "zs")), ("重庆", ("chongqing", "cq")),
                                        ("李明", ("liming", "lm")), ("Alice Wang", ("alicewang", "aw"))])
def test_pinyin_keys_of_names_and_phrases(name, keys):
    assert pinyin_keys(name) == keys


def test_fit_cuts_with_an_ellipsis_at_a_word_and_counts_wide_characters():
    from mms_tui.services.base.text import display_width, fit

    assert fit("洗发水 500ml", 20) == "洗发水 500ml"
    assert fit("Shampoo bottle large", 12) == "Shampoo…"
    assert fit("欧阳娜娜娜娜娜", 9) == "欧阳娜娜…" and display_width(fit("欧阳娜娜娜娜娜", 9)) == 9
    assert fit("ab", 5, pad=True) == "ab   " and fit("abc", 0) == ""

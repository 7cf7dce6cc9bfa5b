"""``mms cards print``: member-card and product barcodes as SVG/PNG files and A4 sheets.

The bars are read back from the files (SVG rects, PNG pixel rows) and compared with patterns built by hand from
the Code 128 / EAN tables, so a test fails if a printed card would scan as anything but its card number.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from barcode.charsets import code128 as code128_tables
from barcode.ean import EAN8, EAN13
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mms_tui.models import Card, Product
from mms_tui.services.base.ean import ean_check_digit, validate_ean
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.exchange import barcode_render
from mms_tui.services.exchange.barcode_labels import select_cards
from mms_tui.services.exchange.barcode_render import safe_file_stem
from mms_tui.services.exchange.barcode_symbols import Label, decode_code128, encode, product_symbol
from mms_tui.services.members.cards import issue_card, report_lost
from mms_tui.services.members.profile import register_member

SVG = "{http://www.w3.org/2000/svg}"
OLD, NEW = dt.datetime(2024, 1, 10, 9, 30), dt.datetime(2024, 6, 2, 18, 5)


# --- reading bars back ---------------------------------------------------------------------------------------------


def code128_c(digits: str) -> str:
    """The Code 128 pattern of an even run of digits, all in charset C, straight from the symbol table."""
    values = [105] + [int(digits[i:i + 2]) for i in range(0, len(digits), 2)]
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], 1))) % 103
    return "".join(code128_tables.CODES[v] for v in [*values, check]) + code128_tables.STOP + "11"


def modules_from_runs(runs: list[tuple[int, int]], module: int) -> str:
    """Bars as (x, width) in dots → '1'/'0' modules from the first bar to the end of the last."""
    x0 = runs[0][0]
    end = max(x + w for x, w in runs)
    cells = ["0"] * ((end - x0) // module)
    for x, w in runs:
        assert (x - x0) % module == 0 and w % module == 0, "bars off the module grid"
        for i in range((x - x0) // module, (x - x0 + w) // module):
            cells[i] = "1"
    return "".join(cells)


def svg_labels(path: Path) -> list[dict]:
    """Each label group of an SVG: its code, module pattern read from the rects, and its texts."""
    root = ET.parse(path).getroot()  # raises on invalid XML
    assert root.tag == f"{SVG}svg"
    labels = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "label":
            continue
        module = int(group.get("data-module"))
        rects = [(int(r.get("x")), int(r.get("width"))) for r in group.iter(f"{SVG}rect")]
        texts = list(group.iter(f"{SVG}text"))
        titles = [t.text for t in texts if t.get("class") == "title"]
        labels.append({"code": group.get("data-code"), "symbology": group.get("data-symbology"),
                       "modules": modules_from_runs(rects, module), "rects": len(rects),
                       "title": titles[0] if titles else None,
                       "captions": [t.text for t in texts if t.get("class") == "caption"]})
    return labels


def png_row_modules(image: Image.Image, y: int, x_from: int, x_to: int, module: int) -> str:
    """Scan one pixel row as a scanner would: dark runs are bars, widths in modules."""
    pixels = [image.getpixel((x, y)) < 128 for x in range(x_from, x_to)]
    first, last = pixels.index(True), len(pixels) - pixels[::-1].index(True)
    out, x = [], first
    while x < last:
        dark, start = pixels[x], x
        while x < last and pixels[x] == dark:
            x += 1
        assert (x - start) % module == 0, "a bar or space is not a whole number of modules"
        out.append(("1" if dark else "0") * ((x - start) // module))
    return "".join(out)


def bar_count(pattern: str) -> int:
    return len(re.findall(r"1+", pattern))


# --- fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture
def shop(sqlite_desk):
    """张三 with two cards and a lost one, 李四 with a card whose number needs sanitising, 王五 with a new pass."""
    staff = sqlite_desk.cashier
    zhang = register_member("张三", "13800138000", staff, "r1").member_id
    li = register_member("李四", "13912345678", staff, "r2").member_id
    wang = register_member("王五", "13700000000", staff, "r3").member_id
    issue_card(zhang, "SV", staff, "i1", card_no="000123")
    issue_card(zhang, "V10", staff, "i2", card_no="99001234")
    issue_card(zhang, "SV", staff, "i3", card_no="LOST01")
    report_lost("LOST01", staff, "l1")
    issue_card(li, "PT", staff, "i4", card_no="A-77/B")
    issue_card(wang, "M1", staff, "i5", card_no="55500")
    Card.update(issued_at=OLD).execute()
    Card.update(issued_at=NEW).where(Card.card_no == "55500").execute()
    return sqlite_desk


def many_cards(desk, n: int) -> list[str]:
    numbers = []
    for i in range(n):
        member = register_member(f"会员{i:02d}", f"136{i:08d}", desk.cashier, f"m{i}").member_id
        numbers.append(issue_card(member, "SV", desk.cashier, f"c{i}", card_no=f"{i:06d}").card_no)
    return numbers


# --- member card files -------------------------------------------------------------------------------------------


def test_card_svg_is_valid_xml_and_its_bars_are_the_card_number_with_leading_zeros(run, shop, tmp_path):
    out = tmp_path / "cards"
    result = run("--db", shop.target, "cards", "print", out, "--card", "000123")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(out / "000123.svg")]
    assert result.stderr == f"Wrote 1 barcode file to {out}.\n"
    [label] = svg_labels(out / "000123.svg")
    expected = code128_c("000123")
    assert label["modules"] == expected
    assert label["rects"] == bar_count(expected)
    assert label["captions"] == ["000123"]
    assert decode_code128(label["modules"]) == "000123"


def test_a_card_number_starting_with_99_keeps_it(run, shop, tmp_path):
    # python-barcode 0.16 drops a leading "99" (upstream #251): this card would scan as 001234
    result = run("--db", shop.target, "cards", "print", tmp_path, "--card", "99001234")
    assert result.exit_code == 0, result.output
    [label] = svg_labels(tmp_path / "99001234.svg")
    assert label["modules"] == code128_c("99001234")
    assert decode_code128(label["modules"]) == "99001234"


def test_png_card_file_is_300_dpi_and_a_pixel_row_scans_as_the_card_number(run, shop, tmp_path):
    result = run("--db", shop.target, "cards", "print", tmp_path, "--card", "000123", "--format", "png")
    assert result.exit_code == 0, result.output
    image = Image.open(tmp_path / "000123.png")
    expected = code128_c("000123")
    assert image.width == (10 + len(expected) + 10) * 4  # quiet zones of 10 modules, 4 dots a module
    assert round(image.info["dpi"][0]) == 300
    assert png_row_modules(image.convert("L"), 100, 0, image.width, 4) == expected


def test_card_numbers_become_safe_unique_file_names():
    assert safe_file_stem("A-77/B") == "A-77_B"
    assert safe_file_stem("../etc") == "_etc"
    assert safe_file_stem("会员") == "_"
    labels = [Label.make("code128", code, "", code) for code in ("a/1", "A_1", "000123")]
    assert barcode_render._unique_stems(labels) == ["a_1", "A_1-2", "000123"]


def test_a_sanitised_file_name_still_encodes_the_real_card_number(run, shop, tmp_path):
    result = run("--db", shop.target, "cards", "print", tmp_path, "--card", "A-77/B")
    assert result.exit_code == 0, result.output
    [label] = svg_labels(tmp_path / "A-77_B.svg")
    assert decode_code128(label["modules"]) == "A-77/B"


# --- choosing cards --------------------------------------------------------------------------------------------


def _printed(result) -> set[str]:
    return {Path(line).stem for line in result.stdout.splitlines()}


@pytest.mark.parametrize(("options", "expected"), [
    (["--member", "+86 138-0013-8000"], {"000123", "99001234"}),  # not the lost LOST01
    (["--card", "55500", "--card", "000123"], {"55500", "000123"}),
    (["--issued-since", "2024-06-01"], {"55500"}),
    (["--issued-until", "2024-01-10"], {"000123", "99001234", "A-77_B"}),
    (["--type", "V10"], {"99001234"}),
    (["--member", "13800138000", "--type", "SV"], {"000123"}),
    (["--all-cards"], {"000123", "99001234", "A-77_B", "55500"}),
    (["--all-cards", "--include-inactive"], {"000123", "99001234", "LOST01", "A-77_B", "55500"}),
])
def test_selection_picks_exactly_the_right_cards(run, shop, tmp_path, options, expected):
    result = run("--db", shop.target, "cards", "print", tmp_path / "out", *options)
    assert result.exit_code == 0, result.output
    assert _printed(result) == expected
    assert {p.stem for p in (tmp_path / "out").iterdir()} == expected


def test_no_selection_is_refused_and_writes_nothing(run, shop, tmp_path):
    result = run("--db", shop.target, "cards", "print", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Say which cards to print")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_lost_card_named_by_number_is_an_error_unless_inactive_cards_are_included(run, shop, tmp_path):
    refused = run("--db", shop.target, "cards", "print", tmp_path, "--card", "LOST01")
    assert refused.exit_code == 1
    assert refused.stderr == "Error: Card LOST01 is lost; give --include-inactive to print it anyway.\n"
    allowed = run("--db", shop.target, "cards", "print", tmp_path, "--card", "LOST01", "--include-inactive")
    assert allowed.exit_code == 0 and _printed(allowed) == {"LOST01"}


def test_unknown_member_card_and_type_are_one_line_errors(run, shop, tmp_path):
    for options, message in [
        (["--member", "13600000000"], "Unknown member 13600000000."),
        (["--member", "12345"], "Phone must be an 11-digit mobile number"),
        (["--card", "NOPE"], "Unknown card NOPE."),
        (["--type", "XX"], "Unknown card type 'XX'."),
    ]:
        result = run("--db", shop.target, "cards", "print", tmp_path, *options)
        assert result.exit_code == 1, options
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr
        assert result.stdout == ""


def test_a_member_without_a_printable_card_is_named_on_stderr(run, shop, tmp_path):
    lonely = register_member("赵六", "13500000000", shop.cashier, "r9").member_id
    issue_card(lonely, "SV", shop.cashier, "i9", card_no="Z1")
    report_lost("Z1", shop.cashier, "l9")
    result = run("--db", shop.target, "cards", "print", tmp_path, "--member", "13500000000", "--member", "13800138000")
    assert result.exit_code == 0
    assert "赵六 (135****0000) has no card to print." in result.stderr
    assert _printed(result) == {"000123", "99001234"}


def test_a_card_number_code_128_cannot_hold_is_a_clear_error(run, shop, tmp_path):
    issue_card(register_member("钱七", "13300000000", shop.cashier, "r8").member_id, "SV", shop.cashier, "i8",
               card_no="会员卡01")
    result = run("--db", shop.target, "cards", "print", tmp_path / "x", "--card", "会员卡01")
    assert result.exit_code == 1
    assert result.stderr == ("Error: Card number 会员卡01 of 钱七 cannot be printed as a Code 128 barcode (only ASCII "
                             "letters, digits and signs).\n")
    assert not (tmp_path / "x").exists()


def test_new_cards_by_date_at_the_service(shop):
    selection = select_cards(issued_since=dt.date(2024, 6, 2))
    assert [(label.data, label.title) for label in selection.labels] == [("55500", "王五")]


# --- A4 sheets -----------------------------------------------------------------------------------------------------


def test_a_sheet_of_25_cards_is_two_pages_with_names_and_bars_that_scan(run, sqlite_desk, tmp_path):
    numbers = many_cards(sqlite_desk, 25)
    result = run("--db", sqlite_desk.target, "cards", "print", tmp_path, "--all-cards", "--sheet")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(tmp_path / "sheet-001.svg"), str(tmp_path / "sheet-002.svg")]
    assert result.stderr == f"Wrote 2 A4 pages (25 labels) to {tmp_path}.\n"
    first, second = svg_labels(tmp_path / "sheet-001.svg"), svg_labels(tmp_path / "sheet-002.svg")
    assert len(first) == 24 and len(second) == 1
    assert [label["code"] for label in first + second] == numbers
    for i, label in enumerate(first + second):
        assert decode_code128(label["modules"]) == numbers[i]
        assert label["title"] == f"会员{i:02d}"
        assert label["captions"] == [numbers[i]]
    root = ET.parse(tmp_path / "sheet-001.svg").getroot()
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("209.973mm", "297.011mm", "0 0 2480 3508")


def test_png_sheets_are_a4_at_300_dpi_and_the_first_label_scans(run, sqlite_desk, tmp_path, monkeypatch):
    monkeypatch.setattr(barcode_render, "find_cjk_font", lambda: None)
    numbers = many_cards(sqlite_desk, 25)
    result = run("--db", sqlite_desk.target, "cards", "print", tmp_path, "--all-cards", "--sheet", "--format", "png")
    assert result.exit_code == 0, result.output
    pages = [Image.open(tmp_path / f"sheet-00{n}.png") for n in (1, 2)]
    assert [page.size for page in pages] == [(2480, 3508)] * 2
    assert round(pages[0].info["dpi"][0]) == 300
    first_cell = png_row_modules(pages[0].convert("L"), 3508 // 8 // 2, 0, 2480 // 3, 4)
    assert decode_code128(first_cell) == numbers[0] and first_cell == code128_c(numbers[0])
    # no Chinese font: the names are left out (never drawn as boxes), the numbers are still there, and it says so
    assert "No font that can draw Chinese was found" in result.stderr
    assert pages[0].convert("L").crop((48, 48, 778, 110)).getextrema() == (255, 255)


def test_png_sheet_draws_chinese_names_with_a_chinese_font(run, shop, tmp_path):
    font = barcode_render.find_cjk_font()
    if font is None:
        pytest.skip("no Chinese font installed (fonts-noto-cjk, fonts-wqy-microhei, …)")
    result = run("--db", shop.target, "cards", "print", tmp_path, "--card", "000123", "--sheet", "--format", "png",
                 "--font", font)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Wrote 1 A4 page (1 label) to {tmp_path}.\n"
    page = Image.open(tmp_path / "sheet-001.png").convert("L")
    assert page.crop((48, 48, 778, 110)).getextrema()[0] < 128  # ink where the name goes


def test_grid_is_checked_and_a_number_too_long_for_its_cell_stops_before_writing(run, shop, tmp_path):
    bad = run("--db", shop.target, "cards", "print", tmp_path / "x", "--all-cards", "--sheet", "--grid", "three")
    assert bad.exit_code == 1 and "COLUMNSxROWS" in bad.stderr
    issue_card(register_member("长号", "13300000001", shop.cashier, "r7").member_id, "SV", shop.cashier, "i7",
               card_no="ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghij")
    crowded = run("--db", shop.target, "cards", "print", tmp_path / "x", "--all-cards", "--sheet", "--grid", "10x8")
    assert crowded.exit_code == 1
    assert "too long for a label of this size" in crowded.stderr and len(crowded.stderr.splitlines()) == 1
    assert not (tmp_path / "x").exists()
    grid_without_sheet = run("--db", shop.target, "cards", "print", tmp_path / "x", "--all-cards", "--grid", "2x5")
    assert grid_without_sheet.exit_code == 1 and "--sheet" in grid_without_sheet.stderr


# --- products --------------------------------------------------------------------------------------------------


def test_a_product_with_a_wrong_ean_13_check_digit_is_reported_by_name(run, sqlite_desk, tmp_path):
    Product.create(code="JUICE", barcode="6920000000017", name="果汁", price_fen=500)  # its digits give 2
    result = run("--db", sqlite_desk.target, "cards", "print", tmp_path / "x", "--products")
    assert result.exit_code == 1
    assert result.stderr == ("Error: Product JUICE (果汁): EAN 6920000000017 has check digit 7, but its digits "
                             "give 2.\n")
    assert not (tmp_path / "x").exists()


def test_skip_invalid_prints_the_others_as_ean_13_and_code_128(run, sqlite_desk, tmp_path):
    Product.create(code="TOWEL", barcode=None, name="毛巾", price_fen=1500)
    Product.create(code="JUICE", barcode="6920000000017", name="果汁", price_fen=500)
    result = run("--db", sqlite_desk.target, "cards", "print", tmp_path, "--products", "--skip-invalid", "--sheet")
    assert result.exit_code == 0, result.output
    assert "Product JUICE (果汁): EAN 6920000000017 has check digit 7, but its digits give 2. Skipped." in result.stderr
    shampoo, towel, water = svg_labels(tmp_path / "sheet-001.svg")
    assert (water["symbology"], water["code"]) == ("ean13", "6920000000012")
    assert (shampoo["symbology"], shampoo["code"], shampoo["title"]) == ("ean13", "6901234567892", "洗发水 ¥68.00")
    assert shampoo["modules"] == EAN13("6901234567892").build()[0]
    assert shampoo["captions"] == ["6", "901234", "567892"]
    assert (towel["symbology"], towel["code"]) == ("code128", "TOWEL")
    assert decode_code128(towel["modules"]) == "TOWEL"


@pytest.mark.parametrize(("barcode", "complete", "expected"), [
    (None, False, ("code128", "P1", None)),
    ("6901234567892", False, ("ean13", "6901234567892", None)),
    ("６９０１２３４５６７８９２", False, ("ean13", "6901234567892", None)),  # full-width, as some sheets hold it
    ("036000291452", False, ("ean13", "0036000291452", None)),  # UPC-A: the same bars as EAN-13 with a leading 0
    ("96385074", False, ("ean8", "96385074", None)),
    ("ABC-123", False, ("code128", "ABC-123", None)),
])
def test_product_symbol_prints_what_is_stored(barcode, complete, expected):
    assert product_symbol("P1", barcode, complete=complete) == expected


def test_product_symbol_warns_when_it_prints_something_else_than_what_is_stored():
    symbology, data, warning = product_symbol("P1", "690123456789", complete=True)
    assert (symbology, data) == ("ean13", "6901234567892")
    assert "6901234567892" in warning and "690123456789" in warning
    symbology, data, warning = product_symbol("P2", "12345678")  # not an EAN-8: an in-house code
    assert (symbology, data) == ("code128", "12345678") and "not a valid EAN-8" in warning
    symbology, data, warning = product_symbol("P2", "123456789013")  # not a UPC-A, and nobody said "complete"
    assert (symbology, data) == ("code128", "123456789013") and "--complete-ean" in warning
    with pytest.raises(InvalidInput, match="check digit 7, but its digits give 2"):
        product_symbol("P3", "6920000000017")


def test_ean_8_bars_match_the_standard_tables():
    assert encode("ean8", "96385074").replace("G", "1") == EAN8("96385074").build()[0]


# --- EAN check digits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("digits", "check"), [
    ("400638133393", 1),  # 4006381333931
    ("690123456789", 2),  # 6901234567892
    ("692000000001", 2),  # 6920000000012, not …17
    ("000000000000", 0),
    ("9638507", 4),  # EAN-8 96385074
    ("03600029145", 2),  # UPC-A 036000291452
])
def test_ean_check_digit_table(digits, check):
    assert ean_check_digit(digits) == check


@pytest.mark.parametrize(("code", "message"), [
    ("6920000000017", "check digit 7, but its digits give 2"),
    ("690123456789", "has 12"),
    ("69012345678X2", "digits only"),
    ("", "digits only"),
    ("٦٩٠١٢٣٤٥٦٧٨٩٢", "digits only"),  # Arabic-Indic digits are digits to Python, not to a scanner
])
def test_validate_ean_says_what_is_wrong(code, message):
    with pytest.raises(InvalidInput, match=message):
        validate_ean(code)


def test_validate_ean_accepts_valid_codes_as_scanned():
    assert validate_ean("4006381333931") == "4006381333931"
    assert validate_ean(" 96385074 ") == "96385074"


DIGITS12 = st.text(alphabet="0123456789", min_size=12, max_size=12)


@settings(max_examples=300, deadline=None)
@given(DIGITS12)
def test_valid_eans_round_trip_and_agree_with_python_barcode(digits):
    code = digits + str(ean_check_digit(digits))
    assert validate_ean(code) == code
    assert EAN13(digits).ean == code


@settings(max_examples=300, deadline=None)
@given(DIGITS12, st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_change_is_detected(digits, position, delta):
    code = digits + str(ean_check_digit(digits))
    changed = code[:position] + str((int(code[position]) + delta) % 10) + code[position + 1:]
    with pytest.raises(InvalidInput):
        validate_ean(changed)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=24))
def test_every_ascii_card_number_encodes_to_bars_that_decode_to_it(card_no):
    assert decode_code128(encode("code128", card_no)) == card_no


def test_decoder_refuses_a_damaged_pattern():
    pattern = code128_c("000123")
    damaged = pattern[:20] + ("0" if pattern[20] == "1" else "1") + pattern[21:]
    with pytest.raises(ValueError):
        decode_code128(damaged)


# --- the command itself ----------------------------------------------------------------------------------------


def test_help_explains_selection_and_output(run):
    result = run("cards", "print", "--help")
    assert result.exit_code == 0
    for words in ("cards print [OPTIONS] OUTDIR", "--sheet", "--products", "one path per line", "--all-cards"):
        assert words in result.stdout


def test_an_outdir_that_cannot_be_made_is_one_line(run, shop, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory", encoding="utf-8")
    for outdir, reason in ((blocker / "out", "Not a directory"), (blocker, "it is a file")):
        result = run("--db", shop.target, "cards", "print", outdir, "--all-cards")
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: Cannot write to {outdir}: ") and reason in result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_product_options_do_not_mix_with_card_options(run, shop, tmp_path):
    mixed = run("--db", shop.target, "cards", "print", tmp_path, "--products", "--member", "13800138000")
    assert mixed.exit_code == 1 and "--products" in mixed.stderr
    stray = run("--db", shop.target, "cards", "print", tmp_path, "--all-cards", "--skip-invalid")
    assert stray.exit_code == 1 and "--products" in stray.stderr

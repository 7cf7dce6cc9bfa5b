"""Spreadsheets as bad luck and attackers send them (issue #15): every row that is in a workbook is read, whatever
its declared size says; a broken file is one clear line; a small file made to take the machine — a gigabyte cell,
gigabytes of whitespace, an entity bomb, a 50 MB header line — is refused with one short line in bounded memory,
proved by running the import under an address-space limit of 300 MB."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import openpyxl
import pytest

from mms_tui.models import Member, Transaction
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.exchange.import_report import ImportRejected
from mms_tui.services.exchange.importing import import_file
from mms_tui.services.ops.setup import connect

MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHARED_STRINGS_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
MB = 1 << 20
GB = 1 << 30


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def rewrite(source: Path, target: Path, parts: dict[str, bytes | Callable[[], Iterable[bytes]]]) -> Path:
    """A copy of the workbook ``source`` with ``parts`` replaced or added (bytes, or a function giving the part's
    bytes in chunks, so a gigabyte part is written without being held), deflated as Excel does."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as new:
        for info in old.infolist():
            if info.filename not in parts:
                new.writestr(info.filename, old.read(info.filename))
        for name, content in parts.items():
            with new.open(name, "w", force_zip64=True) as out:
                for chunk in [content] if isinstance(content, bytes) else content():
                    out.write(chunk)
    return target


def sheet(*rows: bytes | Iterable[bytes], dimension: str = "A1:B2",
          before_rows: Iterable[bytes] = ()) -> Callable[[], Iterator[bytes]]:
    """A worksheet's XML in chunks; a row is its bytes, or an iterable of chunks (a row too big to hold)."""
    def chunks() -> Iterator[bytes]:
        yield b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet ' + MAIN + b">"
        yield b'<dimension ref="' + dimension.encode() + b'"/><sheetData>'
        yield from before_rows
        for one in rows:
            if isinstance(one, bytes):
                yield one
            else:
                yield from one
        yield b"</sheetData></worksheet>"
    return chunks


def row(number: int, *cells: bytes) -> bytes:
    return f'<row r="{number}">'.encode() + b"".join(cells) + b"</row>"


def text_cell(ref: str, text: str | bytes) -> bytes:
    text = text.encode() if isinstance(text, str) else text
    return f'<c r="{ref}" t="inlineStr"><is><t>'.encode() + text + b"</t></is></c>"


HEADER = row(1, text_cell("A1", "姓名"), text_cell("B1", "手机"))
ZHANG = row(2, text_cell("A2", "张三"), text_cell("B2", "13800138000"))


def repeated(piece: bytes, total: int) -> Iterator[bytes]:
    block = piece * (MB // len(piece))
    for _ in range(total // len(block)):
        yield block


# --- every row that is there ---------------------------------------------------------------------------------------


def test_rows_beyond_the_declared_dimension_are_imported(sqlite_desk, tmp_path):
    people = [["姓名", "手机", "余额"], ["张三", "13800138000", 100], ["李四", "13912345678", 200],
              ["王五", "13700137000", 300], ["赵六", "13600136000", 400]]
    made = workbook(tmp_path / "made.xlsx", people)
    with zipfile.ZipFile(made) as book:
        xml = book.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:C5"' in xml
    lying = rewrite(made, tmp_path / "lying.xlsx",
                    {"xl/worksheets/sheet1.xml": xml.replace(b'<dimension ref="A1:C5"', b'<dimension ref="A1:C3"')})
    result = import_file("members", lying)
    assert (result.rows, result.created, result.principal_fen) == (4, 4, 100_000)
    assert sorted(m.name for m in Member.select()) == ["张三", "李四", "王五", "赵六"]


def test_columns_beyond_the_declared_dimension_are_read(sqlite_desk, tmp_path):
    made = workbook(tmp_path / "made.xlsx", [["姓名", "手机", "备注"], ["张三", "13800138000", "老会员"]])
    with zipfile.ZipFile(made) as book:
        xml = book.read("xl/worksheets/sheet1.xml")
    narrow = rewrite(made, tmp_path / "narrow.xlsx",
                     {"xl/worksheets/sheet1.xml": xml.replace(b'<dimension ref="A1:C2"', b'<dimension ref="A1:A2"')})
    result = import_file("members", narrow)
    assert result.ignored_columns == [] and result.created == 1
    assert Member.get().notes == "老会员"


def test_rows_numbered_out_of_order_are_refused_not_dropped(sqlite_desk, tmp_path):
    made = workbook(tmp_path / "made.xlsx", [["姓名"]])
    li = row(2, text_cell("A2", "李四"), text_cell("B2", "13912345678"))  # a second row 2: openpyxl skipped it
    broken = rewrite(made, tmp_path / "twice.xlsx", {"xl/worksheets/sheet1.xml": b"".join(sheet(HEADER, ZHANG, li)())})
    with pytest.raises(InvalidInput, match="row 2"):
        import_file("members", broken)
    assert Member.select().count() == 0


# --- broken files: one clear line --------------------------------------------------------------------------------


def _not_a_zip(tmp_path: Path) -> Path:
    path = tmp_path / "members.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    return path


def _zip_without_a_workbook(tmp_path: Path) -> Path:
    path = tmp_path / "members.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "no workbook here")
    return path


def _broken_sheet_xml(tmp_path: Path) -> Path:
    made = workbook(tmp_path / "made.xlsx", [["姓名", "手机"], ["张三", "13800138000"]])
    return rewrite(made, tmp_path / "members.xlsx", {"xl/worksheets/sheet1.xml": b"<worksheet " + MAIN + b"><sheetData><row"})


def _broken_workbook_xml(tmp_path: Path) -> Path:
    made = workbook(tmp_path / "made.xlsx", [["姓名", "手机"], ["张三", "13800138000"]])
    return rewrite(made, tmp_path / "members.xlsx", {"xl/workbook.xml": b"<workbook><sheets><sheet"})


def _truncated_zip(tmp_path: Path) -> Path:
    made = workbook(tmp_path / "made.xlsx", [["姓名", "手机"], ["张三", "13800138000"]])
    path = tmp_path / "members.xlsx"
    path.write_bytes(made.read_bytes()[:-200])
    return path


def _bad_crc(tmp_path: Path) -> Path:
    """A part whose bytes are not what its checksum says (a flipped bit on a USB stick)."""
    made = workbook(tmp_path / "made.xlsx", [["姓名", "手机"], ["张三", "13800138000"]])
    path = tmp_path / "members.xlsx"
    with zipfile.ZipFile(made) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(made.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("make", [_not_a_zip, _zip_without_a_workbook, _broken_sheet_xml, _broken_workbook_xml,
                                  _truncated_zip, _bad_crc])
def test_a_broken_workbook_is_one_clear_line(run, sqlite_desk, tmp_path, make):
    path = make(tmp_path)
    result = run("--db", sqlite_desk.target, "import", "members", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: members.xlsx") and result.stderr.count("\n") == 1, result.stderr
    assert len(result.stderr) < 300
    connect(sqlite_desk.target)
    assert Member.select().count() == 0


@pytest.mark.parametrize("big", [False, True], ids=["small", "big"])
def test_a_workbook_broken_after_its_first_rows_writes_nothing(sqlite_desk, tmp_path, monkeypatch, big):
    """The rows are read after the header was: a break there is the same one line (also from the forked reader of a
    big first load), and nothing is written."""
    if big:
        monkeypatch.setattr("mms_tui.services.exchange.import_pipeline.BIG_FILE_BYTES", 1)
    made = workbook(tmp_path / "made.xlsx", [["姓名", "手机"]])
    people = [row(n, text_cell(f"A{n}", f"会员{n}"), text_cell(f"B{n}", f"138{n:08d}")) for n in range(2, 3000)]
    broken = b"".join(sheet(HEADER, *people)()).replace(b'<row r="2500">', b'<row r="2500"><c r="A2500"><v>1</c>')
    path = rewrite(made, tmp_path / "members.xlsx", {"xl/worksheets/sheet1.xml": broken})
    with pytest.raises(InvalidInput, match=r"^members.xlsx is not a readable .xlsx workbook: mismatched tag"):
        import_file("members", path)
    assert Member.select().count() == 0 and not Transaction.select().where(Transaction.kind == "import").exists()


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib", "punycode", "undefined", "no-such-codec"])
def test_an_unknown_or_non_text_encoding_is_one_clear_line(run, sqlite_desk, tmp_path, encoding):
    path = tmp_path / "members.csv"
    path.write_text("姓名,手机\n张三,13800138000\n", encoding="utf-8")
    result = run("--db", sqlite_desk.target, "import", "members", str(path), "--encoding", encoding)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and encoding in result.stderr, result.stderr


# --- long values are never echoed whole ---------------------------------------------------------------------------


def test_a_long_header_or_cell_is_never_echoed_whole(run, sqlite_desk, tmp_path):
    headers = tmp_path / "headers.csv"
    headers.write_text("x" * 500_000 + "\n1\n", encoding="utf-8")
    result = run("--db", sqlite_desk.target, "import", "members", str(headers))
    assert result.exit_code == 1 and len(result.stderr) < 400, result.stderr[:400]
    cells = tmp_path / "cells.csv"
    cells.write_text("姓名,手机,性别,生日,备注,旧系统\n" + "张三,13800138000," + "男" * 200_000 + ","
                     + "1" * 100_000 + ",好,\n" + "李四,13912345678,,,"
                     + "长" * 40_000 + ",x\n", encoding="utf-8")
    result = run("--db", sqlite_desk.target, "import", "members", str(cells))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 5 and all(len(line) < 300 for line in lines), [line[:300] for line in lines]


def test_a_wide_header_is_refused_and_its_ignored_columns_are_not_all_listed(sqlite_desk, tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("姓名,手机," + ",".join(f"c{i}" for i in range(20_000)) + "\n张三,13800138000\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="16,384"):
        import_file("members", wide)
    many = tmp_path / "many.csv"
    many.write_text("姓名,手机," + ",".join(f"旧字段{i}" for i in range(500)) + "\n张三,13800138000\n", encoding="utf-8")
    result = import_file("members", many)
    assert result.created == 1 and len(", ".join(result.ignored_columns)) < 400


# --- hostile files: refused in bounded memory ---------------------------------------------------------------------


def _base(tmp_path: Path) -> Path:
    return workbook(tmp_path / "base.xlsx", [["姓名", "手机"], ["张三", "13800138000"]])


def gigabyte_cell(tmp_path: Path) -> Path:
    def cell() -> Iterator[bytes]:
        yield b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        yield from repeated(b"x", GB)
        yield b"</t></is></c></row>"
    return rewrite(_base(tmp_path), tmp_path / "members.xlsx", {"xl/worksheets/sheet1.xml": sheet(HEADER, cell())})


def gigabyte_shared_string(tmp_path: Path) -> Path:
    made = _base(tmp_path)
    with zipfile.ZipFile(made) as book:
        types = book.read("[Content_Types].xml")
    types = types.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="'
                          + SHARED_STRINGS_TYPE + b'"/></Types>')

    def strings() -> Iterator[bytes]:
        yield b'<?xml version="1.0" encoding="UTF-8"?><sst ' + MAIN + b' count="1" uniqueCount="1"><si><t>'
        yield from repeated(b"\xe5\xbc\xa0", GB)  # 张 over and over
        yield b"</t></si></sst>"
    name = row(2, b'<c r="A2" t="s"><v>0</v></c>', text_cell("B2", "13800138000"))
    return rewrite(made, tmp_path / "members.xlsx", {"[Content_Types].xml": types, "xl/sharedStrings.xml": strings,
                                                     "xl/worksheets/sheet1.xml": sheet(HEADER, name)})


def gigabytes_of_whitespace(tmp_path: Path) -> Path:
    return rewrite(_base(tmp_path), tmp_path / "members.xlsx", {
        "xl/worksheets/sheet1.xml": sheet(HEADER, ZHANG, before_rows=repeated(b" \n\t", 2 * GB))})


def _laughs(root: bytes, body: bytes) -> bytes:
    entities = [b'<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.encode() for i in range(1, 10)]
    return (b'<?xml version="1.0"?>\n<!DOCTYPE ' + root + b" [" + b"".join(entities) + b"]>\n" + body)


def billion_laughs_in_the_sheet(tmp_path: Path) -> Path:
    body = b"<worksheet " + MAIN + b"><sheetData>" + HEADER + row(2, text_cell("A2", b"&lol9;")) + b"</sheetData></worksheet>"
    return rewrite(_base(tmp_path), tmp_path / "members.xlsx",
                   {"xl/worksheets/sheet1.xml": _laughs(b"worksheet", body)})


def billion_laughs_in_the_workbook(tmp_path: Path) -> Path:
    made = _base(tmp_path)
    with zipfile.ZipFile(made) as book:
        xml = book.read("xl/workbook.xml")
    xml = xml.replace(b'name="Sheet"', b'name="&lol9;"')
    return rewrite(made, tmp_path / "members.xlsx", {"xl/workbook.xml": _laughs(b"workbook", xml)})


def millions_of_empty_elements(tmp_path: Path) -> Path:
    def cells() -> Iterator[bytes]:
        yield b'<row r="2">'
        yield from repeated(b"<c/>", 256 * MB)
        yield b"</row>"
    return rewrite(_base(tmp_path), tmp_path / "members.xlsx", {"xl/worksheets/sheet1.xml": sheet(HEADER, cells())})


def a_row_numbered_four_billion(tmp_path: Path) -> Path:
    far = row(4_000_000_000, text_cell("A4000000000", "李四"), text_cell("B4000000000", "13912345678"))
    return rewrite(_base(tmp_path), tmp_path / "members.xlsx", {"xl/worksheets/sheet1.xml": sheet(HEADER, ZHANG, far)})


def csv_with_a_50_mb_header_line(tmp_path: Path) -> Path:
    path = tmp_path / "members.csv"
    with path.open("wb") as out:
        out.write("姓名,手机,".encode())
        for chunk in repeated(b"x", 50 * MB):
            out.write(chunk)
        out.write("\n张三,13800138000\n".encode())
    return path


def utf16_csv_with_a_50_mb_line(tmp_path: Path) -> Path:
    path = tmp_path / "members.csv"
    with path.open("wb") as out:
        out.write("\ufeff姓名\t手机\n张三\t".encode("utf-16-le"))
        for chunk in repeated("1".encode("utf-16-le"), 50 * MB):
            out.write(chunk)
        out.write("\n".encode("utf-16-le"))
    return path


HOSTILE = [gigabyte_cell, gigabyte_shared_string, gigabytes_of_whitespace, billion_laughs_in_the_sheet,
           billion_laughs_in_the_workbook, millions_of_empty_elements, a_row_numbered_four_billion,
           csv_with_a_50_mb_header_line, utf16_csv_with_a_50_mb_line]
LIMIT = 300 * MB


def import_under_limit(target: str, path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """``mms import members PATH`` in a process that cannot have more than 300 MB of address space."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    env = {**os.environ, "MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en", "MMS_DB": target}
    try:
        return subprocess.run([sys.executable, "-m", "mms_tui", "import", "members", str(path)], env=env,
                              preexec_fn=limit, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the import of {path.name} was still running after 120 s")


@pytest.mark.slow
@pytest.mark.parametrize("make", HOSTILE)
def test_a_hostile_file_is_refused_in_bounded_memory_with_one_short_line(sqlite_desk, tmp_path, make):
    path = make(tmp_path)
    assert path.stat().st_size < 60 * MB  # small files: the point is what they become when read
    result = import_under_limit(sqlite_desk.target, path, tmp_path)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert len(result.stderr) < 300 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert Member.select().count() == 0 and not Transaction.select().where(Transaction.kind == "import").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_an_ordinary_import_runs_within_the_same_limit(sqlite_desk, tmp_path, kind):
    """The limit is not what refuses the files above: a real import of a few thousand members fits in it."""
    people = [["姓名", "手机", "余额"]] + [[f"会员{i}", f"138{i:08d}", i] for i in range(3_000)]
    if kind == "xlsx":
        path = workbook(tmp_path / "members.xlsx", people)
    else:
        path = tmp_path / "members.csv"
        path.write_text("\n".join(",".join(map(str, p)) for p in people) + "\n", encoding="utf-8")
    result = import_under_limit(sqlite_desk.target, path, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert Member.select().count() == 3_000


def test_no_part_of_a_refused_workbook_is_imported(sqlite_desk, tmp_path):
    """In-process too: the error is the domain's own, and nothing is written."""
    with pytest.raises((InvalidInput, ImportRejected)):
        import_file("members", billion_laughs_in_the_sheet(tmp_path))
    assert Member.select().count() == 0

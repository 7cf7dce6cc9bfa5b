"""Barcode labels drawn and written: one file per label, or printable A4 sheets, as SVG or PNG.

The bars are drawn here on a 300-dpi grid of whole printer dots, so every module has the same width on paper and in
a PNG, and so one A4 page can hold many labels with Chinese names (python-barcode's writers draw one barcode per
file with a Latin-only font). Every file is written whole or not at all, private, through
:func:`mms_tui.services.base.files.atomic_file`.

Everything in dots: a label's geometry is integers at :data:`DPI`; an SVG uses the same numbers in its viewBox and
its real size in millimetres, a PNG the same numbers as pixels.
"""

from __future__ import annotations

import functools
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from barcode.writer import PATH as _BARCODE_PATH

from mms_tui.i18n import _, ngettext
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.files import CannotWrite, atomic_file, make_private_folder
from mms_tui.services.base.text import has_cjk
from mms_tui.services.exchange.barcode_symbols import Label

#: printer dots per inch: the unit of every length below
DPI = 300
#: A4 in dots at 300 dpi (210 × 297 mm)
A4 = (2480, 3508)
FORMATS = ("svg", "png")
#: labels per A4 page by default: 3 × 8 cells of 70 × 37 mm, the common pre-cut label sheet
DEFAULT_GRID = (3, 8)

#: quiet zones in modules, left and right (Code 128 needs 10; EAN-13 11/7 with the first digit in the left one)
_QUIET = {"code128": (10, 10), "ean13": (11, 7), "ean8": (7, 7)}
#: widest module on a label: 4 dots ≈ 0.34 mm (EAN-13 at 100 % is 0.33 mm); narrowest: 2 dots ≈ 0.17 mm
_MAX_MODULE, _MIN_MODULE = 4, 2
_FILE_BAR_HEIGHT = 180  # ≈ 15 mm
_CAPTION_SIZE, _TITLE_SIZE = 36, 48  # ≈ 8.6 pt and 11.5 pt
_PADDING = 48  # ≈ 4 mm inside a sheet cell, so nothing lands in a printer's unprintable border

_SVG_NS = "http://www.w3.org/2000/svg"
_TITLE_FONTS = ("'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', "
                "'PingFang SC', 'Heiti SC', sans-serif")
_CAPTION_FONTS = "'DejaVu Sans Mono', 'Consolas', monospace"


# --- geometry: labels as bars and text in dots -----------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class _Text:
    x: int
    y: int  # baseline
    size: int
    text: str
    kind: str  # title | caption
    max_width: int = 0  # a title is cut to this with an ellipsis


@dataclass(frozen=True)
class _Drawn:
    label: Label
    module: int
    bars: list[_Bar]
    texts: list[_Text]


def _total_modules(label: Label) -> int:
    left, right = _QUIET[label.symbology]
    return left + len(label.modules) + right


def _captions(label: Label, x0: int, module: int) -> list[tuple[int, str]]:
    """Human-readable text under the bars as (centre x, text): EAN digits in their usual groups."""
    d = label.data
    if label.symbology == "ean13":
        return [(x0 - 6 * module, d[0]), (x0 + 24 * module, d[1:7]), (x0 + 71 * module, d[7:])]
    if label.symbology == "ean8":
        return [(x0 + 17 * module, d[:4]), (x0 + 50 * module, d[4:])]
    return [(x0 + len(label.modules) * module // 2, d)]


def _draw(label: Label, box: tuple[int, int, int, int], module: int, bar_height: int, title: str | None) -> _Drawn:
    """Bars, caption and (on sheets) title of one label, centred in ``box`` = (x, y, width, height)."""
    bx, by, bw, bh = box
    caption = _CAPTION_SIZE
    title_line = int(_TITLE_SIZE * 1.35) if title else 0
    guard = caption // 2 if label.symbology != "code128" else 0
    content = title_line + bar_height + guard + int(caption * 1.2)
    top = by + max(0, (bh - content) // 2)
    left_quiet, _right = _QUIET[label.symbology]
    x0 = bx + (bw - _total_modules(label) * module) // 2 + left_quiet * module
    bars_top = top + title_line
    bars: list[_Bar] = []
    for match in re.finditer(r"1+|G+", label.modules):
        height = bar_height + (guard if match.group()[0] == "G" else 0)
        bars.append(_Bar(x0 + match.start() * module, bars_top, (match.end() - match.start()) * module, height))
    # digits start just under the data bars; EAN guard bars reach down beside them
    baseline = bars_top + bar_height + 4 + caption * 3 // 4 + (0 if guard else 4)
    texts = [_Text(x, baseline, caption, text, "caption") for x, text in _captions(label, x0, module)]
    if title:
        texts.append(_Text(bx + bw // 2, top + _TITLE_SIZE, _TITLE_SIZE, title, "title", bw))
    return _Drawn(label, module, bars, texts)


def _file_box(label: Label) -> tuple[int, int]:
    """Width and height in dots of a single-label file: the bars with their quiet zones and the number."""
    width = _total_modules(label) * _MAX_MODULE
    guard = _CAPTION_SIZE // 2 if label.symbology != "code128" else 0
    return width, 16 + _FILE_BAR_HEIGHT + guard + int(_CAPTION_SIZE * 1.2) + 16


def _estimate_width(text: str, size: int) -> int:
    """How wide an SVG viewer will draw ``text`` (no font metrics here): CJK 1 em, everything else 0.6 em."""
    from wcwidth import wcswidth

    columns = max(wcswidth(text), len(text))
    return int(columns * size * 0.6)


def _fit(text: str, width: int, measure) -> str:
    """``text`` cut with an ellipsis so it fits ``width``."""
    if measure(text) <= width:
        return text
    while text and measure(text + "…") > width:
        text = text[:-1]
    return text + "…" if text else ""


def _parse_grid(grid: tuple[int, int]) -> tuple[int, int]:
    cols, rows = grid
    if not (1 <= cols <= 10 and 1 <= rows <= 20):
        raise InvalidInput(_("A sheet has 1–10 columns and 1–20 rows, not {cols}×{rows}.").format(cols=cols, rows=rows))
    return cols, rows


def parse_grid(text: str) -> tuple[int, int]:
    """'3x8' (also '3×8', '3*8') → (3, 8): columns and rows of labels on an A4 page."""
    match = re.fullmatch(r"\s*(\d+)\s*[x×X*]\s*(\d+)\s*", text or "")
    if not match:
        raise InvalidInput(_("Give the labels per page as COLUMNSxROWS, e.g. 3x8, not {value!r}.").format(value=text))
    return _parse_grid((int(match.group(1)), int(match.group(2))))


def _sheet_layout(labels: Sequence[Label], grid: tuple[int, int]) -> list[list[tuple[Label, tuple[int, int, int, int]]]]:
    cols, rows = _parse_grid(grid)
    cell_w, cell_h = A4[0] // cols, A4[1] // rows
    off_x, off_y = (A4[0] - cols * cell_w) // 2, (A4[1] - rows * cell_h) // 2
    per_page = cols * rows
    pages = []
    for start in range(0, len(labels), per_page):
        page = []
        for i, label in enumerate(labels[start:start + per_page]):
            r, c = divmod(i, cols)
            page.append((label, (off_x + c * cell_w + _PADDING, off_y + r * cell_h + _PADDING,
                                 cell_w - 2 * _PADDING, cell_h - 2 * _PADDING)))
        pages.append(page)
    return pages


def _cell_geometry(label: Label, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """Module width and bar height for ``label`` in a sheet cell, or an error when the cell is too small."""
    _x, _y, width, height = box
    module = min(_MAX_MODULE, width // _total_modules(label)) if width > 0 else 0
    guard = _CAPTION_SIZE // 2 if label.symbology != "code128" else 0
    bar_height = min(_FILE_BAR_HEIGHT, height - int(_TITLE_SIZE * 1.35) - guard - int(_CAPTION_SIZE * 1.2))
    if module < _MIN_MODULE:
        raise InvalidInput(_("{value} is too long for a label of this size; use fewer columns, or one file per "
                             "label.").format(value=label.data))
    if bar_height < 72:  # 6 mm: shorter bars are hard to hit with a hand scanner
        raise InvalidInput(_("The labels are too small for a barcode; use fewer rows."))
    return module, bar_height


# --- fonts (PNG only; an SVG names font families and the viewer picks) --------------------------------------------


_CJK_FONT_NAMES = re.compile(
    r"^(NotoSansCJK|NotoSerifCJK|NotoSansSC|NotoSansHans|SourceHanSans|SourceHanSerif|wqy-microhei|wqy-zenhei|"
    r"DroidSansFallback|msyh|simhei|simsun|PingFang|Hiragino Sans GB|STHeiti|ArialUnicode|Arial Unicode|uming|ukai)",
    re.IGNORECASE,
)
_NOT_REGULAR = re.compile(r"Bold|Black|Heavy|Medium|Light|Thin|Italic", re.IGNORECASE)
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
              "/System/Library/Fonts", "/Library/Fonts", "C:/Windows/Fonts")


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The first installed font file that can draw Chinese names (Noto CJK, Source Han, WenQuanYi, YaHei, …)."""
    for root in _FONT_DIRS:
        base = Path(os.path.expanduser(root))
        if not base.is_dir():
            continue
        try:
            candidates = sorted((p for p in base.rglob("*") if p.suffix.lower() in (".ttf", ".otf", ".ttc")
                                 and _CJK_FONT_NAMES.match(p.name)),
                                key=lambda p: (bool(_NOT_REGULAR.search(p.name)), p.name))
        except OSError:
            continue
        if candidates:
            return str(candidates[0])
    return None


def _load_font(path: str, size: int):
    """A FreeType font; in a collection (.ttc) the Simplified Chinese face when there is one."""
    from PIL import ImageFont

    if not path.lower().endswith(".ttc"):
        return ImageFont.truetype(path, size)
    first = None
    for index in range(12):
        try:
            font = ImageFont.truetype(path, size, index=index)
        except OSError:
            break
        first = first or font
        family = " ".join(font.getname())
        if any(tag in family for tag in (" SC", "GB", " CN", "Hans")):
            return font
    if first is None:
        raise OSError(path)
    return first


def _caption_font(size: int):
    from PIL import ImageFont

    bundled = Path(_BARCODE_PATH) / "fonts" / "DejaVuSansMono.ttf"
    try:
        return ImageFont.truetype(str(bundled), size)
    except OSError:
        return ImageFont.load_default(size)


class _Fonts:
    """The fonts a PNG run draws with, loaded once; says (once) when Chinese names cannot be drawn."""

    def __init__(self, title_font_path: str | None) -> None:
        self.path = title_font_path or find_cjk_font()
        self.cjk = self.path is not None
        if title_font_path:
            try:
                _load_font(title_font_path, 10)
            except OSError:
                raise InvalidInput(_("Cannot load the font {path}.").format(path=title_font_path)) from None
        self._cache: dict[tuple[str, int], object] = {}
        self.warned = False

    def font(self, kind: str, size: int):
        key = (kind, size)
        if key not in self._cache:
            if kind == "title" and self.path:
                self._cache[key] = _load_font(self.path, size)
            else:
                self._cache[key] = _caption_font(size)
        return self._cache[key]


# --- writing SVG and PNG ----------------------------------------------------------------------------------------


def _mm(dots: int) -> str:
    return f"{dots * 25.4 / DPI:.3f}mm"


def _svg(size: tuple[int, int], drawn: Iterable[_Drawn], title_family: str | None) -> bytes:
    width, height = size
    root = ET.Element("svg", {"xmlns": _SVG_NS, "version": "1.1", "width": _mm(width), "height": _mm(height),
                              "viewBox": f"0 0 {width} {height}"})
    ET.SubElement(root, "rect", {"width": str(width), "height": str(height), "fill": "white"})
    titles = (f"'{title_family}', " if title_family else "") + _TITLE_FONTS
    for item in drawn:
        group = ET.SubElement(root, "g", {"class": "label", "data-symbology": item.label.symbology,
                                          "data-code": item.label.data, "data-module": str(item.module)})
        bars = ET.SubElement(group, "g", {"class": "bars", "fill": "black"})
        for bar in item.bars:
            ET.SubElement(bars, "rect", {"x": str(bar.x), "y": str(bar.y), "width": str(bar.w), "height": str(bar.h)})
        for text in item.texts:
            content = text.text
            if text.kind == "title":
                content = _fit(content, text.max_width, lambda s, size=text.size: _estimate_width(s, size))
            element = ET.SubElement(group, "text", {
                "class": text.kind, "x": str(text.x), "y": str(text.y), "font-size": str(text.size),
                "font-family": titles if text.kind == "title" else _CAPTION_FONTS, "text-anchor": "middle",
                "fill": "black"})
            element.text = content
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _png(size: tuple[int, int], drawn: Iterable[_Drawn], fonts: _Fonts, warnings: list[str]):
    from PIL import Image, ImageDraw

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for item in drawn:
        for bar in item.bars:
            draw.rectangle((bar.x, bar.y, bar.x + bar.w - 1, bar.y + bar.h - 1), fill=0)
        for text in item.texts:
            content = text.text
            if text.kind == "title" and has_cjk(content) and not fonts.cjk:
                if not fonts.warned:
                    warnings.append(_("No font that can draw Chinese was found, so PNG labels show no Chinese names; "
                                      "install one (e.g. fonts-noto-cjk) or give --font."))
                    fonts.warned = True
                continue
            font = fonts.font(text.kind, text.size)
            if text.kind == "title":
                content = _fit(content, text.max_width, font.getlength)
            draw.text((text.x, text.y), content, font=font, fill=0, anchor="ms")
    return image


def safe_file_stem(text: str) -> str:
    """A card number or product code as a file name on any system: letters, digits, '-', '_' and '.' only."""
    stem = re.sub(r"[^0-9A-Za-z._-]+", "_", text).lstrip(".")
    return stem or "_"


def _unique_stems(labels: Sequence[Label]) -> list[str]:
    """File stems that do not clash even on case-insensitive file systems (A-1 and a_1 → A-1, a_1-2)."""
    seen: set[str] = set()
    stems = []
    for label in labels:
        base = safe_file_stem(label.stem)
        stem, n = base, 1
        while stem.lower() in seen:
            n += 1
            stem = f"{base}-{n}"
        seen.add(stem.lower())
        stems.append(stem)
    return stems


@dataclass(frozen=True)
class PrintResult:
    """The files written, in order (the CLI prints them for scripts), and warnings such as a missing font."""

    paths: list[Path]
    labels: int
    pages: int  # A4 pages written; 0 when one file per label
    warnings: list[str]


def _prepare_dir(outdir: Path) -> None:
    try:
        make_private_folder(outdir)  # 0700 when made here: card numbers and names are personal data
    except FileExistsError:
        raise CannotWrite(_("Cannot write to {path}: it is a file, not a directory.").format(path=outdir)) from None
    except OSError as exc:
        raise CannotWrite(_("Cannot write to {path}: {reason}.").format(path=outdir, reason=exc.strerror or exc)) from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise CannotWrite(_("Cannot write to {path}: permission denied.").format(path=outdir))


def _save(path: Path, fmt: str, content) -> None:
    """Whole or not at all, private, and only as a plain file (a link or a device at that name is refused)."""
    try:
        with atomic_file(path) as out:
            if fmt == "svg":
                out.write(content)
            else:
                content.save(out, "PNG", dpi=(DPI, DPI))
    except OSError as exc:
        raise CannotWrite(_("Cannot write {path}: {reason}.").format(path=path, reason=exc.strerror or exc)) from None


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(_("Format must be svg or png, not {value!r}.").format(value=fmt))
    return fmt


def _font_family(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return _load_font(path, 10).getname()[0]
    except OSError:
        raise InvalidInput(_("Cannot load the font {path}.").format(path=path)) from None


def write_label_files(labels: Sequence[Label], outdir: Path | str, fmt: str = "svg") -> PrintResult:
    """One file per label, named after the card number (or product code), bars and number only.

    For placing on a card design or in label-printer software, which add names and logos themselves. A file of the
    same name in ``outdir`` is replaced: printing the same card again gives the same file.
    """
    fmt = _check_format(fmt)
    outdir = Path(outdir)
    _prepare_dir(outdir)
    fonts = _Fonts(None) if fmt == "png" else None
    warnings: list[str] = []
    paths = []
    for label, stem in zip(labels, _unique_stems(labels), strict=True):
        width, height = _file_box(label)
        drawn = _draw(label, (0, 0, width, height), _MAX_MODULE, _FILE_BAR_HEIGHT, None)
        path = outdir / f"{stem}.{fmt}"
        content = _svg((width, height), [drawn], None) if fonts is None else _png((width, height), [drawn], fonts,
                                                                                   warnings)
        _save(path, fmt, content)
        paths.append(path)
    return PrintResult(paths, len(labels), 0, warnings)


def write_sheets(labels: Sequence[Label], outdir: Path | str, fmt: str = "svg", *,
                 grid: tuple[int, int] = DEFAULT_GRID, font: str | None = None) -> PrintResult:
    """A4 pages (sheet-001.svg, …) of labels in a grid, each with name, barcode and number, ready to print at 100 %.

    Every label is laid out before the first page is written, so a number too long for its cell stops the run
    with nothing half-printed. ``font`` names the font file for titles (PNG draws with it, SVG asks for it first).
    """
    fmt = _check_format(fmt)
    pages = _sheet_layout(labels, grid)
    drawn_pages = []
    for page in pages:
        drawn = []
        for label, box in page:
            module, bar_height = _cell_geometry(label, box)
            drawn.append(_draw(label, box, module, bar_height, label.title))
        drawn_pages.append(drawn)
    fonts = _Fonts(font) if fmt == "png" else None
    family = _font_family(font) if fmt == "svg" else None
    outdir = Path(outdir)
    _prepare_dir(outdir)
    warnings: list[str] = []
    paths = []
    for number, drawn in enumerate(drawn_pages, 1):
        path = outdir / f"sheet-{number:03d}.{fmt}"
        content = _svg(A4, drawn, family) if fonts is None else _png(A4, drawn, fonts, warnings)
        _save(path, fmt, content)
        paths.append(path)
    return PrintResult(paths, len(labels), len(paths), warnings)


def summary(result: PrintResult, outdir: Path | str) -> str:
    """The one line the CLI ends with, on stderr."""
    if result.pages:
        labels = ngettext("{n} label", "{n} labels", result.labels).format(n=result.labels)
        return ngettext("Wrote {pages} A4 page ({labels}) to {outdir}.",
                        "Wrote {pages} A4 pages ({labels}) to {outdir}.", result.pages).format(
            pages=result.pages, labels=labels, outdir=outdir)
    return ngettext("Wrote {n} barcode file to {outdir}.", "Wrote {n} barcode files to {outdir}.",
                    len(result.paths)).format(n=len(result.paths), outdir=outdir)

"""Barcode symbols, pure: Code 128 and EAN module patterns, and which symbology a product's
barcode prints as. No database, no drawing.

The card number is what the desk looks a swipe or a scan up by, so a printed barcode must scan back to exactly the
stored value: leading zeros kept, nothing dropped, nothing "corrected". python-barcode does the encoding (Code 128
charset switching, EAN parity patterns); :mod:`.barcode_render` draws the bars.

Two guards sit between python-barcode and the paper:

* python-barcode ≤ 0.16 drops a leading ``99`` from Code 128 (upstream issue #251: it takes the data value 99 for a
  switch to charset C), so ``9912…`` would scan as ``12…``. :class:`_Code128` carries the upstream fix, and every
  Code 128 pattern is decoded again (:func:`decode_code128`) before it is drawn.
* python-barcode silently replaces a wrong EAN check digit. Product barcodes are checked here first
  (``base.ean.validate_ean``), because a label that scans as another number than the one stored is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from barcode.charsets import code128 as _code128
from barcode.codex import Code128
from barcode.ean import EAN8, EAN13
from barcode.errors import BarcodeError

from mms_tui.i18n import _
from mms_tui.services.base.ean import complete_ean, ean_check_digit, validate_ean
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import normalise_card_no

# --- encoding ------------------------------------------------------------------------------------------------------


class _Code128(Code128):
    """python-barcode's Code 128 with the fix for upstream issue #251 (a leading "99" dropped).

    The start code may be folded into a following switch only for a switch to charset A or B; the data value 99
    (the digits "99" in charset C) is also the code for "switch to C" and must stay. Same rule as upstream PR #263.
    """

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        start_c = _code128.START_CODES["C"]
        if len(encoded) > 1 and encoded[0] == start_c and encoded[1] in (_code128.C["TO_A"], _code128.C["TO_B"]):
            encoded[:2] = [_code128.TO[encoded[1]]]
        return encoded


_PATTERNS = {pattern: value for value, pattern in enumerate(_code128.CODES)}
_STOP = _code128.STOP + "11"  # python-barcode draws the stop pattern and its 2-module termination bar apart
_SHIFT_TO = {99: "C", 100: "B", 101: "A"}


def decode_code128(modules: str) -> str:
    """What a scanner reads from a Code 128 module pattern ('1' bar, '0' space), check symbol verified.

    Used on every pattern before it is drawn, so an encoder bug can never put a different number on a card.
    """
    bits = modules.strip("0").replace("G", "1")
    if not bits.endswith(_STOP) or (len(bits) - len(_STOP)) % 11:
        raise ValueError("not a Code 128 pattern")
    try:
        values = [_PATTERNS[bits[i:i + 11]] for i in range(0, len(bits) - len(_STOP), 11)]
    except KeyError:
        raise ValueError("not a Code 128 symbol") from None
    if len(values) < 2:
        raise ValueError("no check symbol")
    start, *data, check = values
    if start not in (103, 104, 105):
        raise ValueError("no start symbol")
    if (start + sum(i * v for i, v in enumerate(data, 1))) % 103 != check:
        raise ValueError("check symbol mismatch")
    charset = {103: "A", 104: "B", 105: "C"}[start]
    out: list[str] = []
    for value in data:
        if charset == "C":
            if value < 100:
                out.append(f"{value:02d}")
            elif value in (100, 101):
                charset = _SHIFT_TO[value]
            else:
                raise ValueError(f"unsupported symbol {value} in charset C")
        elif value < 96:
            out.append(chr(value + 32) if charset == "B" or value < 64 else chr(value - 64))
        elif value == 99 or (value == 100 and charset == "A") or (value == 101 and charset == "B"):
            charset = _SHIFT_TO[value]
        else:
            raise ValueError(f"unsupported symbol {value} in charset {charset}")
    return "".join(out)


def encode(symbology: str, data: str) -> str:
    """The module pattern of ``data``: '1' bar, '0' space, 'G' guard bar (drawn longer, EAN only).

    Raises :class:`InvalidInput` for data the symbology cannot hold (a Chinese card number, a wrong EAN).
    """
    if symbology == "code128":
        try:
            # a fresh instance each time: python-barcode's Code128 keeps its charset between builds
            modules = _Code128(data).build()[0] if data else ""
        except BarcodeError:
            modules = ""
        if not modules or _safe_decode(modules) != data:
            raise InvalidInput(_("{value!r} cannot be printed as a Code 128 barcode (only ASCII letters, digits and "
                                 "signs).").format(value=data))
        return modules
    if symbology in ("ean13", "ean8"):
        valid = validate_ean(data)
        if len(valid) != (13 if symbology == "ean13" else 8):
            raise InvalidInput(_("{value} is not an {symbology}.").format(value=valid, symbology=symbology.upper()))
        symbol = (EAN13 if symbology == "ean13" else EAN8)(valid, guardbar=True)
        if symbol.ean != valid:  # python-barcode would have "corrected" the check digit
            raise InvalidInput(_("EAN {value} could not be encoded as given.").format(value=valid))
        return symbol.build()[0]
    raise ValueError(f"unknown symbology {symbology!r}")


def _safe_decode(modules: str) -> str | None:
    try:
        return decode_code128(modules)
    except ValueError:
        return None


@dataclass(frozen=True)
class Label:
    """One barcode to print: what it encodes, the name shown above it on a sheet, and its file name."""

    symbology: str  # code128 | ean13 | ean8
    data: str  # exactly what a scanner reads
    title: str  # member name, or product name and price
    stem: str  # file name before sanitising: the card number or the product code
    modules: str = field(repr=False)  # the pattern, from Label.make

    @classmethod
    def make(cls, symbology: str, data: str, title: str, stem: str) -> Label:
        """Encode at once, so a label that cannot be printed fails before any file is written."""
        return cls(symbology, data, title, stem, encode(symbology, data))


# --- what a product's barcode prints as ----------------------------------------------------------------------------


def product_symbol(code: str, barcode: str | None, *, complete: bool = False) -> tuple[str, str, str | None]:
    """(symbology, data, warning) for a product label: the stored barcode is the truth, printed so it scans back.

    13 digits → EAN-13, check digit verified (a wrong one raises: the package's own barcode will not match it).
    12 digits with a valid UPC-A check digit → the same bars as EAN-13 with a leading 0 (that is what UPC-A is).
    8 digits with a valid check digit → EAN-8. Other 12- and 8-digit numbers are taken for in-house codes: Code 128,
    with a warning.
    ``complete``: 12 or 7 digits are data digits whose check digit was never stored → EAN-13/EAN-8 with it added,
    and a warning, since the stored barcode then differs from what is printed.
    Anything else, or no barcode → Code 128 of the barcode, or of the product code.
    """
    if not barcode:
        return "code128", code, None
    text = normalise_card_no(barcode)
    numeric = text.isascii() and text.isdigit()
    if numeric and len(text) == 13:
        return "ean13", validate_ean(text), None
    if numeric and complete and len(text) in (12, 7):
        full = complete_ean(text)
        return ("ean13" if len(full) == 13 else "ean8"), full, _(
            "{code}: barcode {stored} has no check digit; printed as {full}. Store {full} so scans find it.").format(
            code=code, stored=text, full=full)
    if numeric and len(text) == 12:
        if ean_check_digit(text[:-1]) == int(text[-1]):
            return "ean13", "0" + text, None
        return "code128", text, _("{code}: barcode {stored} is not a valid UPC-A; printed as Code 128 (give "
                                  "--complete-ean if it lacks its check digit).").format(code=code, stored=text)
    if numeric and len(text) == 8:
        if ean_check_digit(text[:-1]) == int(text[-1]):
            return "ean8", text, None
        return "code128", text, _("{code}: barcode {stored} is not a valid EAN-8; printed as Code 128.").format(
            code=code, stored=text)
    return "code128", text, None


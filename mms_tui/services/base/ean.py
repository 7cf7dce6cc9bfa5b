"""EAN-13 and EAN-8 (and UPC-A) check digits, pure: what the catalogue, its import and the label printer check a
product's barcode with."""

from __future__ import annotations

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import normalise_card_no


def ean_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of the data digits (12 for EAN-13, 7 for EAN-8, 11 for UPC-A).

    Weights 3, 1, 3, … from the rightmost data digit, so the one function serves every GTIN length.
    """
    if not digits or not digits.isascii() or not digits.isdigit():
        raise InvalidInput(_("An EAN is made of digits only, not {value!r}.").format(value=digits))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def validate_ean(code: str) -> str:
    """The EAN-13 or EAN-8 as a scanner reads it, once its length and check digit are right.

    Full-width digits and spaces are accepted (``６９０ １２３…``); anything else raises :class:`InvalidInput`
    saying what is wrong, so an import or a label run can name the product.
    """
    text = normalise_card_no(code)
    if not text.isascii() or not text.isdigit():
        raise InvalidInput(_("An EAN is made of digits only, not {value!r}.").format(value=code))
    if len(text) not in (8, 13):
        raise InvalidInput(
            _("An EAN has 13 (or 8) digits; {value} has {n}.").format(value=text, n=len(text))
        )
    expected = ean_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise InvalidInput(
            _("EAN {value} has check digit {got}, but its digits give {expected}.").format(
                value=text, got=text[-1], expected=expected)
        )
    return text


def complete_ean(digits: str) -> str:
    """12 (or 7) data digits with their check digit appended: an EAN-13 (or EAN-8)."""
    text = normalise_card_no(digits)
    if len(text) not in (7, 12):
        raise InvalidInput(_("Only 12 or 7 digits can be completed to an EAN, not {value!r}.").format(value=digits))
    return text + str(ean_check_digit(text))

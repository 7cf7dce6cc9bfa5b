"""Cleaning one cell of an import file: a phone, a card number, money, a count, a date, a name, a tier … as the
value the import stores, or :class:`CellError` saying what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import today
from mms_tui.services.base.text import (
    normalise_card_no,
    normalise_phone,
    parse_count,
    parse_date,
    parse_yuan,
)
from mms_tui.services.exchange.fields import STATUS_WORDS, header_key
from mms_tui.services.members.profile import clean_birthday, clean_gender, clean_name

#: the longest cell a field reads: notes as long as a spreadsheet cell holds; a phone, an amount, a date, a name or
#: a code is never near the other limit, so a longer cell is a mistake, said without echoing it
MAX_NOTES = 32_767
MAX_CELL = 200


class CellError(Exception):
    """A cell that does not hold what its column means; the message says why."""


def too_long(longest: int) -> str:
    return _("longer than {n:,} characters").format(n=longest)


def unescape(text: str) -> str:
    """A cell exported as ``'=…`` (escaped against formula injection) imports as ``=…``."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


# --- cleaning one cell -------------------------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")


_MOBILE = re.compile(r"1[3-9]\d{9}")
_WHOLE_PHONE_FLOAT = re.compile(r"^\d{11}\.0+$")


def clean_phone_cell(text: str) -> str:
    if _MOBILE.fullmatch(text):  # already clean: most cells
        return text
    if _SCIENTIFIC.match(text):
        raise CellError(_("written in scientific notation: the spreadsheet has lost digits; format the column "
                           "as text and export again"))
    if _WHOLE_PHONE_FLOAT.match(text):
        text = text.split(".")[0]
    try:
        return normalise_phone(text)
    except InvalidInput:
        raise CellError(_("not an 11-digit mobile number")) from None


def clean_card_key(text: str) -> str:
    if text.isdigit() and text.isascii() and len(text) <= 64:  # most card numbers: digits, leading zeros kept
        return text
    if _SCIENTIFIC.match(text):
        raise CellError(_("written in scientific notation: the spreadsheet has lost digits; format the column "
                           "as text and export again"))
    key = normalise_card_no(text)
    if len(key) > 64:
        raise CellError(_("longer than 64 characters"))
    return key


def clean_uid_cell(text: str) -> str:
    """A reader UID as the old system or the card's print has it (a 10-digit decimal, "123,45678", hex): in the
    canonical form the readers give (devices/protocols.py), or as written when it has none."""
    from mms_tui.devices.protocols import canonical_uid

    key = clean_card_key(text)
    return canonical_uid(key) or key


def clean_money_cell(text: str) -> int:
    try:
        fen = parse_yuan(text)
    except InvalidInput:
        raise CellError(_("not an amount of money (at most 2 decimals)")) from None
    if fen < 0:
        raise CellError(_("cannot be negative"))
    return fen


def clean_count_cell(text: str) -> int:
    try:
        return parse_count(text)
    except InvalidInput as exc:
        raise CellError(str(exc)) from None


def clean_date_cell(text: str) -> dt.date:
    try:
        return parse_date(text)
    except InvalidInput as exc:
        raise CellError(str(exc)) from None


def domain_cell(fn: Callable[[str], object]) -> Callable[[str], object]:
    """A cleaner of the services (what a form accepts, raising InvalidInput) as a cell's: its message the cell's."""
    def clean(text: str) -> object:
        try:
            return fn(text)
        except InvalidInput as exc:
            raise CellError(str(exc)) from None
    return clean


def _lookup(table: dict[str, object], what: str, hint: str = "") -> Callable[[str], object]:
    def find(text: str) -> object:
        key = header_key(text)
        if key in table:
            return table[key]
        prefixed = {v for k, v in table.items() if k.startswith(key)}
        if len(prefixed) == 1:  # 金卡 → 金卡会员
            return prefixed.pop()
        raise CellError(_("unknown {what}").format(what=what) + (f" ({hint})" if hint else ""))
    return find


def _joined(text: str) -> dt.datetime:
    day = clean_date_cell(text)
    if day > today():
        raise CellError(_("in the future"))
    return dt.datetime.combine(day, dt.time())


def _birthday(text: str) -> dt.date | None:
    try:
        return clean_birthday(clean_date_cell(text))
    except InvalidInput as exc:
        raise CellError(str(exc)) from None


def _status(text: str) -> str:
    status = STATUS_WORDS.get(header_key(text))
    if status is None:
        raise CellError(_("status must be one of {words}").format(words=", ".join(sorted(set(STATUS_WORDS.values())))))
    return status


def member_cleaners(tiers: dict[str, object], stores: dict[str, object], card_types: dict[str, object]
                    ) -> dict[str, Callable[[str], object]]:
    """The cleaner of each member-file column; tiers, stores and card types are found by their names and codes."""
    return {
        "name": domain_cell(clean_name),
        "phone": clean_phone_cell,
        "gender": domain_cell(clean_gender),
        "birthday": _birthday,
        "tier": _lookup(tiers, _("tier")),
        "notes": lambda text: text,
        "joined": _joined,
        "store": _lookup(stores, _("store"), _("add it first: mms stores add CODE NAME")),
        "card_no": clean_card_key,
        "reader_uid": clean_uid_cell,
        "barcode": clean_card_key,
        "card_type": _lookup(card_types, _("card type")),
        "status": _status,
        "balance": clean_money_cell,
        "bonus": clean_money_cell,
        "points": clean_count_cell,
        "visits": clean_count_cell,
        "valid_from": clean_date_cell,
        "valid_until": clean_date_cell,
    }

"""Normalising what people type or scan: phones, card numbers, names → search keys, money."""

from __future__ import annotations

import datetime as dt
import re
import reprlib
import unicodedata
from functools import cache, lru_cache

from mms_tui.i18n import N_, _
from mms_tui.services.base.errors import InvalidInput

#: the weekdays' short names, Monday first (translate with _ when shown)
WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise_query(text: str) -> str:
    """Full-width → ASCII (０１２３ → 0123, ＡＢ → AB), stray whitespace trimmed and folded."""
    if text and text.isprintable() and " " not in text and unicodedata.is_normalized("NFKC", text):
        return text  # the usual cell: nothing to fold (fast path of an import's million cells)
    text = unicodedata.normalize("NFKC", text or "")
    return " ".join(text.split())


def normalise_card_no(text: str) -> str:
    """Card numbers keep leading zeros and letters; spaces and full-width forms go."""
    return "".join(normalise_query(text).split())


def normalise_phone(text: str) -> str:
    """'+86 138-0013-8000' → '13800138000'. Raises InvalidInput unless it is an 11-digit mainland mobile."""
    if _MOBILE.fullmatch(text):  # already clean, the common case
        return text
    raw = normalise_query(text)
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.match(digits):
        raise InvalidInput(_("Phone must be an 11-digit mobile number starting with 1, not {value!r}.").format(value=text))
    return digits


def mask_phone(phone: str) -> str:
    """'13812345678' → '138****5678': what the desk shows unless staff ask for the full number."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


@lru_cache(maxsize=1 << 16)  # names repeat: an import of a million members has a few hundred thousand
def pinyin_keys(name: str) -> tuple[str, str]:
    """('zhangsan', 'zs') for 张三; Latin names give their letters ('alicewang', 'aw')."""
    words = _pinyin_by_char(name)
    if words is not None and all(words):
        return "".join(words), "".join(w[0] for w in words)
    if words is None:
        from pypinyin import Style, lazy_pinyin

        chunks = lazy_pinyin(name, style=Style.NORMAL, errors=lambda s: s.split() or [s])
    else:
        chunks = words
    full: list[str] = []
    initials: list[str] = []
    for chunk in chunks:
        for part in chunk.split():
            word = "".join(ch for ch in part.lower() if ch.isalnum())
            if word:
                full.append(word)
                initials.append(word[0])
    return "".join(full), "".join(initials)


@cache
def _dictionaries() -> tuple[dict, dict, int]:
    """pypinyin's character and phrase dictionaries, loaded on first use (0.17 s: not at every start-up)."""
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    return PINYIN_DICT, PHRASES_DICT, max(len(k) for k in PHRASES_DICT)


@cache
def _char_pinyin(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(ch for ch in lazy_pinyin(char, style=Style.NORMAL)[0].lower() if ch.isalnum())


def _pinyin_by_char(name: str) -> list[str] | None:
    """The same answer as pypinyin, ten times faster, for the usual name: CJK characters none of whose runs is a
    phrase in pypinyin's dictionary (a phrase can change a reading: 重庆 is chongqing). None: ask pypinyin."""
    pinyin_dict, phrases, longest = _dictionaries()
    if not name or any(ord(ch) not in pinyin_dict for ch in name):
        return None
    n = len(name)
    for i in range(n - 1):
        for j in range(i + 2, min(n, i + longest) + 1):
            if name[i:j] in phrases:
                return None
    return [_char_pinyin(ch) for ch in name]


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


_PLAIN_MONEY = re.compile(r"^(\d{1,15})(?:\.(\d{1,2}))?$")
#: thousands separators, where there are any, stand between groups of three digits: '1,234.50' or '1 234.50', never
#: '1,2,3' (that is three numbers, not ¥123)
_MONEY = re.compile(r"^(-)?\s*(\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:\.(\d{1,2}))?$")


def clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis: a header or a name in a message."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shown(value: object, limit: int = 40) -> str:
    """``value`` as an error message quotes it: its repr, cut to ``limit`` characters so that a megabyte typed,
    pasted or read from a file is never echoed whole."""
    if isinstance(value, str):
        text = repr(value[:limit + 1])
    else:  # a list or table from a rules document: no deeper than a few levels, never all of it
        short = reprlib.Repr()
        short.maxlevel, short.maxstring, short.maxother = 3, limit, limit
        text = short.repr(value)
    return clip(text, limit)


def parse_yuan(text: str) -> int:
    """An amount typed or read in yuan, in fen: '¥1,234.50' → 123450. Exact: no float on the way; more than 2
    decimals is refused, not rounded; thousands separators only between groups of three digits."""
    plain = _PLAIN_MONEY.fullmatch(text)
    if plain:  # '1234.5', the common case, fast
        whole, frac = plain.groups()
        return int(whole) * 100 + int((frac or "").ljust(2, "0"))
    cleaned = " ".join(normalise_query(str(text)).replace("¥", " ").replace("￥", " ").split())
    cleaned = cleaned.removeprefix("RMB").removesuffix("元").strip()
    match = _MONEY.match(cleaned)
    if not match:
        raise InvalidInput(_("Not an amount of money: {value}.").format(value=shown(text)))
    sign, whole, frac = match.groups()
    fen = int(whole.replace(",", "").replace(" ", "")) * 100 + int((frac or "").ljust(2, "0"))
    return -fen if sign else fen


def plain_amount(fen: int) -> str:
    """123450 → '1234.5', 20000 → '200': an amount as a person types it into a box (exact, no float)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    cents = f"{fen % 100:02d}".rstrip("0")
    return f"{sign}{fen // 100}" + (f".{cents}" if cents else "")


def format_money(fen: int, symbol: str = "¥") -> str:
    """123450 → '¥1,234.50'."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{symbol}{fen // 100:,}.{fen % 100:02d}"


def discount_label(bp: int) -> str:
    """How the desk says a discount: 9000 bp → '9折' in Chinese, '10% off' in English; 8500 → '85折' / '15% off'."""
    from mms_tui.i18n import current_language

    if bp >= 10000:
        return ""
    if current_language() == "zh_CN":
        if bp % 1000 == 0:
            return f"{bp // 1000}折"  # 9折
        if bp % 100 == 0:
            return f"{bp // 100}折"  # 85折
        return f"{bp / 1000:g}折"
    off = 10000 - bp
    pct = f"{off // 100}" if off % 100 == 0 else f"{off / 100:g}"
    return f"{pct}% off"


_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_SERIAL = re.compile(r"^(\d{1,6})(?:\.0+)?$")
EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 is 1900-01-01 in Excel's (Lotus-compatible) count


def parse_date(text: str | dt.date) -> dt.date:
    """A date as spreadsheets write it: '2024-01-02', '2024/1/2', '2024.1.2', '2024年1月2日', '20240102', a
    trailing time of day, or an Excel serial number ('45293' → 2024-01-02). Day-first and month-first forms
    such as '1/2/2024' are refused: nobody can tell which one was meant."""
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    cleaned = text if _ISO_DATE.fullmatch(text) else normalise_query(str(text))
    if _ISO_DATE.fullmatch(cleaned):  # the common case, fast
        try:
            return dt.date.fromisoformat(cleaned)
        except ValueError:
            raise InvalidInput(_("{value!r} is not a date in the calendar.").format(value=text)) from None
    match = _YMD.match(cleaned) or _COMPACT_DATE.match(cleaned)
    try:
        if match:
            year, month, day = (int(x) for x in match.groups())
            return dt.date(year, month, day)
        serial = _EXCEL_SERIAL.match(cleaned)
        if serial and 1 <= int(serial.group(1)) <= 2_958_465:
            return EXCEL_EPOCH + dt.timedelta(days=int(serial.group(1)))
    except (ValueError, OverflowError):
        raise InvalidInput(_("{value!r} is not a date in the calendar.").format(value=text)) from None
    raise InvalidInput(_("Not a date: {value!r} (write it as 2024-01-31).").format(value=text))


_COUNT = re.compile(r"^\d{1,15}$")


def parse_count(text: str | int) -> int:
    """A whole number of points or visits: '1,200' → 1200, '12.0' → 12; never negative, never a fraction."""
    if type(text) is str and text.isdigit() and text.isascii() and len(text) <= 15:
        return int(text)  # the common case, fast
    if isinstance(text, int) and not isinstance(text, bool):
        cleaned = str(text)
    else:
        cleaned = normalise_query(str(text)).replace(",", "").replace(" ", "")
        if re.match(r"^\d+\.0+$", cleaned):
            cleaned = cleaned.split(".")[0]
    if cleaned.startswith("-"):
        raise InvalidInput(_("{value!r} cannot be negative.").format(value=text))
    if not _COUNT.match(cleaned):
        raise InvalidInput(_("Not a whole number: {value!r}.").format(value=text))
    return int(cleaned)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal or on a receipt: a CJK character takes two."""
    from wcwidth import wcswidth

    width = wcswidth(text)
    return width if width >= 0 else sum(max(0, wcswidth(ch)) for ch in text)


def fit(text: str, width: int, *, pad: bool = False) -> str:
    """``text`` in at most ``width`` columns: cut with an ellipsis when it is longer (never mid-character, and
    at a word's end when one is near), padded with spaces when ``pad``."""
    from wcwidth import wcwidth

    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text + " " * (width - display_width(text)) if pad else text
    room = width - 1  # for the ellipsis
    cut, used = 0, 0
    for i, ch in enumerate(text):
        w = max(0, wcwidth(ch))
        if used + w > room:
            break
        used += w
        cut = i + 1
    head = text[:cut]
    space = head.rfind(" ")
    if space >= max(1, cut - 6) and not has_cjk(head[space:]):  # end at a word when the cut is within one
        head = head[:space]
    head = head.rstrip() + "…"
    return head + " " * (width - display_width(head)) if pad else head


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns: broken at spaces where it can, anywhere in CJK text."""
    from wcwidth import wcwidth

    lines: list[str] = []
    line, used = "", 0
    for word in text.replace("\n", " ").split(" "):
        need = display_width(word) + (1 if line else 0)
        if used + need <= width:
            line, used = (line + " " + word if line else word), used + need
            continue
        if line:
            lines.append(line)
            line, used = "", 0
        for ch in word:  # a word longer than a line (or CJK text without spaces) breaks where it must
            w = max(0, wcwidth(ch))
            if used + w > width:
                lines.append(line)
                line, used = "", 0
            line, used = line + ch, used + w
    if line or not lines:
        lines.append(line)
    return lines

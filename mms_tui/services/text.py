"""Normalising what people type or scan: phones, card numbers, names → search keys, money."""

from __future__ import annotations

import re
import unicodedata

from pypinyin import Style, lazy_pinyin

from mms_tui.i18n import _
from mms_tui.services.errors import InvalidInput

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise_query(text: str) -> str:
    """Full-width → ASCII (０１２３ → 0123, ＡＢ → AB), stray whitespace trimmed and folded."""
    text = unicodedata.normalize("NFKC", text or "")
    return " ".join(text.split())


def normalise_card_no(text: str) -> str:
    """Card numbers keep leading zeros and letters; spaces and full-width forms go."""
    return "".join(normalise_query(text).split())


def normalise_phone(text: str) -> str:
    """'+86 138-0013-8000' → '13800138000'. Raises InvalidInput unless it is an 11-digit mainland mobile."""
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


def pinyin_keys(name: str) -> tuple[str, str]:
    """('zhangsan', 'zs') for 张三; Latin names give their letters ('alicewang', 'aw')."""
    full: list[str] = []
    initials: list[str] = []
    for chunk in lazy_pinyin(name, style=Style.NORMAL, errors=lambda s: s.split() or [s]):
        for part in chunk.split():
            word = "".join(ch for ch in part.lower() if ch.isalnum())
            if word:
                full.append(word)
                initials.append(word[0])
    return "".join(full), "".join(initials)


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


_MONEY = re.compile(r"^(-)?(\d+)(?:\.(\d{1,2}))?$")


def parse_money(text: str | int) -> int:
    """'¥1,234.50' → 123450 fen. Exact: no float on the way; more than 2 decimals is refused, not rounded."""
    if isinstance(text, int):
        return text
    cleaned = normalise_query(str(text)).replace(",", "").replace("¥", "").replace("￥", "").replace(" ", "")
    cleaned = cleaned.removeprefix("RMB").removesuffix("元")
    match = _MONEY.match(cleaned)
    if not match:
        raise InvalidInput(_("Not an amount of money: {value!r}.").format(value=text))
    sign, whole, frac = match.groups()
    fen = int(whole) * 100 + int((frac or "").ljust(2, "0"))
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

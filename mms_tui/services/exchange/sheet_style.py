"""How an XLSX export or report looks to an accountant: headers in the desk's language, money as numbers in yuan
with a ¥ format, dates as dates, columns as wide as their contents, the header row frozen with filters on it,
and a report's totals row.

Each column's kind is decided once, from its name and a sample of its first rows (:func:`column_kinds`):

* ``*_fen`` holding whole numbers — money in fen — becomes a number of yuan (exact: a Decimal of two places) with
  the format ``¥#,##0.00``, and its header loses the ``_fen``; so do the member file's yuan columns (``balance``,
  ``bonus``, ``price``…), whose text is exact yuan;
* a column whose name says it holds a day or a moment (``birthday``, ``valid_until``, ``created_at``, ``date``…)
  and whose text is ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM[:SS]`` becomes a date or a date and time;
* everything else stays as it was (text forced to be text, numbers numbers).

Headers (:func:`header_label`): the member file's columns take the first Chinese name the import knows (姓名, 手机…)
in Chinese, and a plain English one otherwise — both import back, the import ignores case, spaces and ``_``;
other columns have a label each (:data:`LABELS`, in the desk's language), else their name with spaces.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from mms_tui.i18n import N_, _, current_language
from mms_tui.services.exchange.fields import MEMBER_FIELDS

MONEY_FORMAT = '"¥"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = "yyyy-mm-dd hh:mm"
#: rows a column's width and kind are judged from
SAMPLE_ROWS = 200
MAX_WIDTH = 60

#: columns of exact yuan text (the member and price files, which import back)
YUAN_COLUMNS = frozenset({"balance", "bonus", "price", "list_price"})
_DAY_NAMES = re.compile(r"(^|_)(date|day|birthday|joined|from|until|since|at|period|last_visit)($|_)")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")
_YUAN = re.compile(r"-?\d{1,15}(\.\d{1,2})?")

#: a label for each column the reports and exports share (without a ``_fen``); others show their name
LABELS: dict[str, str] = {
    "account": N_("Account"), "active": N_("Active"), "age": N_("Age"), "amount": N_("Amount"),
    "at": N_("At"), "average": N_("Average"), "avg_ticket": N_("Average ticket"), "base": N_("Base"),
    "bookings": N_("Bookings"), "by": N_("By"), "cancelled": N_("Cancelled"), "card_no": N_("Card number"),
    "card_type": N_("Card type"), "cash_counted": N_("Cash counted"), "cash_expected": N_("Cash expected"),
    "category": N_("Category"), "change": N_("Change"), "channel": N_("Channel"), "check_ins": N_("Check-ins"),
    "code": N_("Code"), "commission": N_("Commission"), "count": N_("Count"),
    "coupons_issued": N_("Coupons issued"), "coupons_redeemed": N_("Coupons redeemed"), "created_at": N_("Time"),
    "date": N_("Date"), "day": N_("Day"), "days_worked": N_("Days worked"), "discount": N_("Discount"),
    "expired": N_("Expired"), "failed": N_("Failed"), "frozen": N_("Frozen"), "hour": N_("Hour"),
    "hours": N_("Hours"), "issued": N_("Issued"), "issued_at": N_("Issued at"), "kind": N_("Kind"),
    "last_visit": N_("Last check-in"), "late": N_("Late"), "liability": N_("Owed"), "lines": N_("Lines"),
    "lost": N_("Lost"), "member_name": N_("Member"), "member_phone": N_("Member phone"), "members": N_("Members"),
    "name": N_("Name"), "net": N_("Net"), "open": N_("Open"), "others_avg_ticket": N_("Others' average ticket"),
    "owed": N_("Owed"), "owes": N_("Owes"), "period": N_("Period"), "phone": N_("Phone"), "points": N_("Points"),
    "points_earned": N_("Points earned"), "principal": N_("Principal"), "promotion": N_("Promotion"),
    "qty": N_("Quantity"), "reason": N_("Reason"), "redeem_rate_pct": N_("Redeemed %"),
    "revenue": N_("Revenue"), "reverses": N_("Reverses"), "sale_count": N_("Sales"), "sales": N_("Sales"),
    "segment": N_("Segment"), "sent": N_("Sent"), "service": N_("Service"), "staff": N_("Staff"),
    "status": N_("Status"), "store": N_("Store"), "subtotal": N_("Subtotal"), "tender": N_("Tender"),
    "tier": N_("Tier"), "topup_count": N_("Top-ups"), "total": N_("Total"), "txid": N_("Operation"),
    "unit": N_("Unit"), "upgrades": N_("Upgrades"), "valid_from": N_("Valid from"),
    "valid_until": N_("Valid until"), "value": N_("Value"), "visits": N_("Visits"), "visits_left": N_("Visits left"),
    "weekday": N_("Weekday"), "winback_issued": N_("Win-back coupons"), "cash": N_("Cash"),
    "bank_card": N_("Bank card"), "wechat": N_("WeChat"), "alipay": N_("Alipay"),
    "stored_value": N_("Stored value"), "refunds": N_("Refunds"), "refund_count": N_("Refunds"),
    "measure": N_("Measure"), "times": N_("Times"), "share_pct": N_("Share %"), "cohort": N_("Joined in"),
    "purchases": N_("Purchases"),
    "provider": N_("Provider"), "charges": N_("Charges"), "charged": N_("Charged"), "refunded": N_("Refunded"),
    "provider_fee": N_("Provider fees"), "reconciled": N_("Reconciled"), "difference": N_("Difference"), "number": N_("Number"),
    "booked": N_("Booked"), "provider_says": N_("Provider says"), "detail": N_("Detail"), "attempt": N_("Attempt"),
    "out_trade_no": N_("Our number"), "trade_no": N_("Provider's number"),
}
#: the cohorts report's month columns: month_3_pct → "Month 3 %"
_MONTH_PCT = re.compile(r"month_(\d+)_pct")


def header_label(column: str, *, member_file: bool = False) -> str:
    """The header a person reads for ``column`` in the desk's language (see the module); ``member_file``: the
    member export, whose Chinese headers are the import's own."""
    money = column.endswith("_fen")
    base = column[:-4] if money else column
    if member_file and base in MEMBER_FIELDS and current_language().startswith("zh"):
        return MEMBER_FIELDS[base][0]
    month = _MONTH_PCT.fullmatch(base)
    if month:
        return _("Month {n} %").format(n=month[1])
    label = _(LABELS[base]) if base in LABELS else base.replace("_", " ").capitalize()
    return f"{label} (¥)" if money else label  # 'Sales (¥)' beside 'Sales', the count


def column_kinds(columns: Sequence[str], sample: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each column's kind: ``fen``, ``yuan``, ``day``, ``moment`` or ``plain`` (see the module)."""
    kinds: dict[str, str] = {}
    for column in columns:
        values = [row.get(column) for row in sample if row.get(column) not in (None, "")]
        kind = "plain"
        if column.endswith("_fen") and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = "fen"
        elif column in YUAN_COLUMNS and all(isinstance(v, str) and _YUAN.fullmatch(v) for v in values):
            kind = "yuan"
        elif _DAY_NAMES.search(column) and values and all(isinstance(v, str) for v in values):
            if all(_DAY.fullmatch(v) for v in values):
                kind = "day"
            elif all(_MOMENT.fullmatch(v) or _DAY.fullmatch(v) for v in values):
                kind = "moment"
        kinds[column] = kind
    return kinds


def typed(value: Any, kind: str) -> Any:
    """The value as its kind's cell holds it (left as it is when it does not fit: text stays text)."""
    if value is None or value == "" or kind == "plain":
        return value
    try:
        if kind == "fen" and isinstance(value, int):
            return Decimal(value).scaleb(-2)
        if kind == "yuan" and isinstance(value, str) and _YUAN.fullmatch(value):
            return Decimal(value).quantize(Decimal("0.01"))
        if kind == "day" and isinstance(value, str) and _DAY.fullmatch(value):
            return dt.date.fromisoformat(value)
        if kind == "moment" and isinstance(value, str):
            if _DAY.fullmatch(value):
                return dt.datetime.fromisoformat(value)
            if _MOMENT.fullmatch(value):
                return dt.datetime.fromisoformat(value.replace("T", " "))
    except ValueError:  # 2026-02-30: not a day after all
        return value
    return value


def number_format(kind: str) -> str | None:
    return {"fen": MONEY_FORMAT, "yuan": MONEY_FORMAT, "day": DATE_FORMAT, "moment": MOMENT_FORMAT}.get(kind)


def display_width(value: Any, kind: str) -> int:
    """About how many character cells the value takes on screen (a Chinese character two)."""
    from wcwidth import wcswidth

    if value is None:
        return 0
    if kind in ("fen", "yuan") and isinstance(value, Decimal):
        return len(f"¥{value:,.2f}")
    if kind == "day":
        return 10
    if kind == "moment":
        return 16
    text = str(value)
    width = wcswidth(text)
    return width if width >= 0 else len(text) * 2


#: column names a totals row never adds up: averages, rates, ages, hours of the day, codes and ids
_NOT_ADDED = re.compile(r"(avg|average|rate|pct|share|age|hour|weekday|year|_id$|^id$|rating|threshold|level|"
                        r"^points$|^visits_left$)")


def totals_of(columns: Sequence[str], kinds: Mapping[str, str], sums: Mapping[str, Any]) -> list[Any]:
    """A report's totals row: 'Total' in the first column, each added-up column's sum, nothing elsewhere."""
    row: list[Any] = [_("Total")]
    for column in columns[1:]:
        if column in sums and not _NOT_ADDED.search(column) and kinds.get(column) in ("fen", "plain"):
            row.append(sums[column])
        else:
            row.append(None)
    return row

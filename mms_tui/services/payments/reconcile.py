"""对账: the provider's daily bill against what the desks booked — every difference named.

A bill is the provider's list of a day's charges and refunds (WeChat Pay's ``downloadbill``, type ALL; Alipay's
业务明细 from ``alipay.data.dataservice.bill.downloadurl.query``), downloaded or read from a file the merchant
platform gave. It is compared, charge by charge (our ``out_trade_no``) and refund by refund (our
``out_refund_no``), with the attempts and refunds of that day:

* **charged, no sale** — the bill has a charge we did not book (or booked as reversed): money kept without a sale;
* **sale, not charged** — we booked a charge the bill does not have;
* **amounts differ** — both have it, for different amounts;
* the same three for refunds.

The providers keep their days in Beijing time. A reconciled day is noted (``mms check`` warns about days with
charges left unreconciled), with the fees the bill states for the payments report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import PayAttempt, PayRefund
from mms_tui.services.base.config import get_config, set_config
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import format_money
from mms_tui.services.payments.providers import fen_of, provider_label

#: the providers keep their bills by the day in Beijing time
BEIJING = ZoneInfo("Asia/Shanghai")
#: a day with charges not reconciled this many days later is what mms check warns about
LATE_AFTER_DAYS = 3


@dataclass
class Bill:
    """A provider's day: charges and refunds by our numbers, in fen, and the fees it took."""

    provider: str
    day: dt.date
    charges: dict[str, int] = field(default_factory=dict)  # out_trade_no → amount
    refunds: dict[str, int] = field(default_factory=dict)  # out_refund_no → amount
    fee_fen: int = 0


@dataclass(frozen=True)
class Difference:
    kind: str  # charged_not_booked, booked_not_charged, amount_differs, refund_not_booked, …
    number: str  # out_trade_no or out_refund_no
    txid: str
    ours_fen: int | None
    theirs_fen: int | None

    def text(self, provider: str) -> str:
        label = provider_label(provider)
        words = {
            "charged_not_booked": _("{provider} charged {theirs} that no sale booked"),
            "booked_not_charged": _("a sale booked {ours} that {provider} did not charge"),
            "amount_differs": _("booked {ours}, {provider} charged {theirs}"),
            "refund_not_booked": _("{provider} refunded {theirs} that no refund booked"),
            "refund_not_made": _("a refund of {ours} booked that {provider} did not make"),
            "refund_differs": _("refund booked {ours}, {provider} refunded {theirs}"),
        }[self.kind]
        return words.format(provider=label, ours=format_money(self.ours_fen or 0),
                            theirs=format_money(self.theirs_fen or 0))


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=BEIJING)
    return start, start + dt.timedelta(days=1)


def _cell(value: str) -> str:
    """A bill's cell: WeChat writes a backtick before each value so a spreadsheet keeps it text."""
    return value.strip().lstrip("`").strip()


def parse_wechat_bill(text: str, day: dt.date) -> Bill:
    """WeChat Pay's bill of type ALL: a header, a line per charge or refund, then the totals."""
    bill = Bill("wechat", day)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or "商户订单号" not in [c.strip() for c in rows[0]]:
        raise InvalidInput(_("This is not a WeChat Pay bill (its first line names no 商户订单号)."))
    head = [c.strip() for c in rows[0]]
    at = {name: head.index(name) for name in head}
    for n, row in enumerate(rows[1:], 2):
        if not row or not row[0].strip().startswith("`"):
            break  # the totals follow the lines
        try:
            cells = [_cell(c) for c in row]
            state = cells[at["交易状态"]]
            number = cells[at["商户订单号"]]
            if "手续费" in at:
                fee_text = cells[at["手续费"]]
                fee = fen_of(fee_text.lstrip("-")) or 0
                bill.fee_fen += -fee if fee_text.startswith("-") else fee
            if state == "REFUND":
                refund_no = cells[at["商户退款单号"]]
                bill.refunds[refund_no] = bill.refunds.get(refund_no, 0) + _amount(cells[at["退款金额"]], n)
            elif state == "SUCCESS":
                bill.charges[number] = bill.charges.get(number, 0) + _amount(
                    cells[at.get("订单金额", at["应结订单金额"])], n)
        except (IndexError, KeyError):
            raise InvalidInput(_("Line {n} of the WeChat Pay bill is cut short.").format(n=n)) from None
    return bill


def parse_alipay_bill(text: str, day: dt.date) -> Bill:
    """Alipay's 业务明细: comment lines starting with #, a header, a line per 交易 or 退款."""
    bill = Bill("alipay", day)
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip() and not line.startswith("#")]
    rows = list(csv.reader(lines))
    if not rows or "商户订单号" not in [c.strip() for c in rows[0]]:
        raise InvalidInput(_("This is not an Alipay bill (its header names no 商户订单号)."))
    head = [c.strip() for c in rows[0]]
    at = {name: head.index(name) for name in head}
    money = next((name for name in head if name.startswith("订单金额")), None)
    fee_col = next((name for name in head if name.startswith("服务费")), None)
    refund_col = next((name for name in head if name.startswith("退款批次号")), None)
    if money is None:
        raise InvalidInput(_("This Alipay bill has no 订单金额 column."))
    for n, row in enumerate(rows[1:], 2):
        cells = [c.strip() for c in row]
        if len(cells) < len(head) or not cells[at["商户订单号"]]:
            continue  # the totals at the end
        amount = _amount(cells[at[money]].lstrip("-"), n)
        if fee_col is not None and cells[at[fee_col]]:  # Alipay writes the fee it takes negative, the fee it
            fee = fen_of(cells[at[fee_col]].lstrip("-")) or 0  # gives back with a refund positive
            bill.fee_fen += fee if cells[at[fee_col]].startswith("-") else -fee
        kind = cells[at["业务类型"]] if "业务类型" in at else "交易"
        if kind == "退款" and refund_col is not None:
            number = cells[at[refund_col]]
            bill.refunds[number] = bill.refunds.get(number, 0) + amount
        elif kind == "交易":
            number = cells[at["商户订单号"]]
            bill.charges[number] = bill.charges.get(number, 0) + amount
    return bill


def _amount(text: str, line: int) -> int:
    fen = fen_of(text)
    if fen is None:
        raise InvalidInput(_("Line {n} of the bill: {text!r} is not an amount.").format(n=line, text=text))
    return fen


def read_bill_file(provider: str, path: str, day: dt.date) -> Bill:
    """A bill from a file the merchant platform gave: CSV (UTF-8 or GB18030), or Alipay's zip of them."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InvalidInput(_("Cannot read {file}: {reason}.").format(file=path, reason=exc.strerror or exc)) from None
    return bill_from_bytes(provider, data, day)


def bill_from_bytes(provider: str, data: bytes, day: dt.date) -> Bill:
    if data[:2] == b"PK":  # Alipay hands out a zip: the 业务明细 is the file wanted (not its 汇总)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if n.endswith(".csv") and "汇总" not in n]
                if not names:
                    raise InvalidInput(_("The bill's zip holds no detail CSV."))
                data = archive.read(names[0])
        except zipfile.BadZipFile:
            raise InvalidInput(_("The bill is a damaged zip file.")) from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover — GB18030 decodes any bytes
        raise InvalidInput(_("The bill is neither UTF-8 nor GB18030 text."))
    return parse_wechat_bill(text, day) if provider == "wechat" else parse_alipay_bill(text, day)


def download_bill(provider: str, config: Mapping[str, object], day: dt.date) -> Bill:
    """The day's bill from the provider itself."""
    from mms_tui.services.payments.charge import client_for

    client = client_for(provider, config)
    return bill_from_bytes(provider, client.bill(day), day)


def reconcile(bill: Bill) -> list[Difference]:
    """Every difference between ``bill`` and what was booked on its day (Beijing time), and the day noted as
    reconciled (with the bill's fees)."""
    start, end = _day_bounds(bill.day)
    ours: dict[str, PayAttempt] = {a.out_trade_no: a for a in PayAttempt.select().where(
        PayAttempt.provider == bill.provider, PayAttempt.created_at >= start, PayAttempt.created_at < end)}
    differences: list[Difference] = []
    for number, theirs in sorted(bill.charges.items()):
        attempt = ours.get(number) or PayAttempt.get_or_none(PayAttempt.out_trade_no == number)
        if attempt is None or attempt.status not in ("booked", "paid"):
            differences.append(Difference("charged_not_booked", number, attempt.txid if attempt else "", None, theirs))
        elif attempt.amount_fen != theirs:
            differences.append(Difference("amount_differs", number, attempt.txid, attempt.amount_fen, theirs))
    for number, attempt in sorted(ours.items()):
        if attempt.status == "booked" and number not in bill.charges:
            differences.append(Difference("booked_not_charged", number, attempt.txid, attempt.amount_fen, None))
    refunds: dict[str, PayRefund] = {r.out_refund_no: r for r in PayRefund.select().join(PayAttempt).where(
        PayAttempt.provider == bill.provider, PayRefund.created_at >= start, PayRefund.created_at < end)}
    for number, theirs in sorted(bill.refunds.items()):
        row = refunds.get(number) or PayRefund.get_or_none(PayRefund.out_refund_no == number)
        if row is None or row.status == "failed":
            differences.append(Difference("refund_not_booked", number, row.txid if row else "", None, theirs))
        elif row.amount_fen != theirs:
            differences.append(Difference("refund_differs", number, row.txid, row.amount_fen, theirs))
    for number, row in sorted(refunds.items()):
        if row.status == "refunded" and number not in bill.refunds:
            differences.append(Difference("refund_not_made", number, row.txid, row.amount_fen, None))
    with write_transaction():
        kept = dict(get_config("payments_reconciled") or {})
        days = dict(kept.get(bill.provider) or {})
        days[bill.day.isoformat()] = {"differences": len(differences), "fee_fen": bill.fee_fen,
                                      "at": clock.utc_now().isoformat(timespec="seconds")}
        kept[bill.provider] = dict(sorted(days.items())[-400:])  # a year and some: what the report looks back on
        set_config("payments_reconciled", kept)
    return differences


def traded(provider: str, day: dt.date) -> bool:
    """Whether charges or refunds through ``provider`` were booked on ``day`` (Beijing time)."""
    start, end = _day_bounds(day)
    return (PayAttempt.select().where(PayAttempt.provider == provider, PayAttempt.status == "booked",
                                      PayAttempt.created_at >= start, PayAttempt.created_at < end).exists()
            or PayRefund.select().join(PayAttempt).where(
                PayAttempt.provider == provider, PayRefund.status == "refunded", PayRefund.created_at >= start,
                PayRefund.created_at < end).exists())


def reconciled_days() -> dict[str, dict[str, dict]]:
    """provider → day (ISO) → {differences, fee_fen, at}: the days reconciled."""
    return {k: dict(v) for k, v in (get_config("payments_reconciled") or {}).items() if isinstance(v, Mapping)}


def unreconciled_days(late_after: int = LATE_AFTER_DAYS) -> list[tuple[str, dt.date]]:
    """(provider, day) with charges or refunds booked, not reconciled, at least ``late_after`` days ago (Beijing
    days), the last 60 days looked at."""
    today = clock.utc_now().astimezone(BEIJING).date()
    first = today - dt.timedelta(days=60)
    since = dt.datetime.combine(first, dt.time(), tzinfo=BEIJING)
    done = reconciled_days()
    late: set[tuple[str, dt.date]] = set()
    charged = PayAttempt.select(PayAttempt.provider, PayAttempt.created_at).where(
        PayAttempt.status == "booked", PayAttempt.created_at >= since)
    refunded = PayRefund.select(PayAttempt.provider, PayRefund.created_at).join(PayAttempt).where(
        PayRefund.status == "refunded", PayRefund.created_at >= since)
    for provider, created in [*charged.tuples(), *refunded.tuples()]:
        day = clock.to_utc(created).replace(tzinfo=dt.UTC).astimezone(BEIJING).date()
        if day <= today - dt.timedelta(days=late_after) and day.isoformat() not in done.get(provider, {}):
            late.add((provider, day))
    return sorted(late)

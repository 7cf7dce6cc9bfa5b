"""Fees (会费) on a bill: the joining fee, the annual fee and its late fee.

The rules' ``fees`` (:func:`~mms_tui.services.loyalty.fees_due.due_fees`) say which are due; the desk puts them on
the bill by kind. Each is a sale line of a fee code in category 会费, at the amount due, never discounted:

- ``FEE-JOIN``: the joining fee (who owes it: :mod:`mms_tui.services.money.holder`).
- ``FEE-ANNUAL``: moves ``Member.fees_paid_until`` to the day the payment covers (conditionally, so two desks
  cannot both collect one year); the sale's result keeps the day before, and its refund moves it back.
- ``FEE-LATE``: comes with the annual fee when it is due, and is never paid alone.
- ``FEE-BOOKING``: what late cancellations and no-shows of the member's bookings cost (the rules' ``bookings``
  section, :mod:`mms_tui.services.bookings.appointments`): all that is owed, marked paid by the checkout; its
  refund makes it owed again.

Fees earn no points and are no tier spend (what pays them: :func:`~mms_tui.services.money.payment.allocate_tenders`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Booking, ClassBooking, Member
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.loyalty.fees_due import due_fees
from mms_tui.services.loyalty.pricing import MemberFacts
from mms_tui.services.loyalty.rules import Rules

#: fee kind → the sale line code that records it (how the desk and ``due_fees`` agree a fee was paid)
FEE_CODES = {"joining": "FEE-JOIN", "annual": "FEE-ANNUAL", "late": "FEE-LATE", "booking": "FEE-BOOKING"}
#: the category of fee lines (turnover shows fees as a column of their own)
FEE_CATEGORY = "会费"


@dataclass(frozen=True)
class FeeLine:
    """A fee that is due, and on the bill when asked for."""

    kind: str  # joining | annual | late
    code: str
    name: str
    amount_fen: int
    due_on: dt.date | None
    covers_until: dt.date | None  # annual: paid up to this day afterwards


def _fee_refusal(kind: str) -> str:
    return {
        "joining": _("The joining fee is not due."),
        "annual": _("The annual fee is not due."),
        "late": _("The late fee is not due."),
        "booking": _("No booking fee is owed."),
    }[kind]


def fees_on_bill(facts: MemberFacts | None, when: dt.datetime, rules: Rules, kinds: Iterable[str]
                 ) -> tuple[list[FeeLine], list[FeeLine]]:
    """(fees on the bill, fees due) for the fee kinds asked for."""
    due = [FeeLine(f.kind, FEE_CODES[f.kind], f.explanation, f.amount_fen, f.due_on, f.covers_until)
           for f in due_fees(facts, when, rules)] if facts is not None else []
    wanted = list(dict.fromkeys(kinds))
    if not wanted:
        return [], due
    for kind in wanted:
        if kind not in FEE_CODES:
            raise InvalidInput(_("Unknown fee {kind!r} (joining, annual, late or booking).").format(kind=kind))
    if facts is None:
        raise InvalidInput(_("Fees need a member on the bill."))
    due_kinds = {f.kind for f in due}
    for kind in wanted:
        if kind not in due_kinds:
            raise InvalidInput(_fee_refusal(kind))
    if "late" in wanted and "annual" not in wanted:
        raise InvalidInput(_("The late fee is paid together with the annual fee."))
    if "annual" in wanted and "late" in due_kinds:
        wanted.append("late")
    return [f for f in due if f.kind in wanted], due


def fee_line_dict(fee: FeeLine) -> dict:
    return {"kind": "fee", "item_id": None, "code": fee.code, "name": fee.name, "category": FEE_CATEGORY, "qty": 1,
            "list_price_fen": fee.amount_fen, "unit_price_fen": fee.amount_fen, "line_total_fen": fee.amount_fen,
            "discount_reason": "", "explanations": [], "net_fen": fee.amount_fen}


def collect_fees(fees: Sequence[FeeLine], member: Member | None, txid: str = "") -> list[dict]:
    """Record the fees paid; the annual fee moves the member's paid-until, only from the day it was read; the
    booking fee marks the bookings whose fees it paid with the checkout's ``txid``, only those read."""
    records = []
    for fee in fees:
        record: dict = {"kind": fee.kind, "code": fee.code, "amount_fen": fee.amount_fen}
        if fee.kind == "booking" and member is not None:
            total = 0
            for table, model in (("booking", Booking), ("class_booking", ClassBooking)):
                owed = fetch_rows(f'SELECT "id", "fee_fen" FROM "{table}" WHERE "member_id" = ? AND "fee_fen" > 0 '
                                  'AND "fee_txid" IS NULL ORDER BY "id"', (member.id,))
                ids = [row[0] for row in owed]
                changed = model.update(fee_txid=txid).where(model.id.in_(ids) & model.fee_txid.is_null()).execute() \
                    if ids else 0
                if changed != len(ids):
                    raise InvalidInput(_("The booking fees were just paid at another desk; nothing was charged."))
                total += sum(row[1] for row in owed)
                record_states(table, ids)
                record["bookings" if table == "booking" else "class_bookings"] = ids
            if total != fee.amount_fen:
                raise InvalidInput(_("The booking fees were just paid at another desk; nothing was charged."))
        if fee.kind == "annual" and member is not None:
            before = Member.get_by_id(member.id).fees_paid_until
            changed = Member.update(fees_paid_until=fee.covers_until).where(
                (Member.id == member.id)
                & (Member.fees_paid_until.is_null() if before is None else (Member.fees_paid_until == before))
            ).execute()
            if changed != 1:
                raise InvalidInput(_("The annual fee was just paid at another desk; nothing was charged."))
            record["paid_until_before"] = before.isoformat() if before is not None else None
            record["paid_until_after"] = fee.covers_until.isoformat() if fee.covers_until is not None else None
        records.append(record)
    return records

"""Fees due (issue #6) as a pure function of the member and the rules: joining, annual and late fees."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.services.loyalty.dates import add_months, day_of
from mms_tui.services.loyalty.pricing import MemberFacts
from mms_tui.services.loyalty.rules import Rules


@dataclass(frozen=True)
class DueFee:
    kind: str  # joining | annual | late
    amount_fen: int
    due_on: dt.date | None
    explanation: str
    #: annual: paying it covers the time before this day
    covers_until: dt.date | None = None


def due_fees(member: MemberFacts, when: dt.datetime | dt.date, rules: Rules) -> tuple[DueFee, ...]:
    """Fees the member owes on ``when``: the joining fee before their first card, the annual fee once due, and
    the late fee once it is more than the grace days late; the fees of late-cancelled and missed bookings. Paying the annual fee covers the year from its due
    day; a member who stayed away longer pays one year, up to the next due day after today."""
    f = rules.fees
    today = day_of(when)
    due: list[DueFee] = []
    if f.joining_fen and not member.joining_fee_paid and member.cards_issued == 0:
        due.append(DueFee("joining", f.joining_fen, today, _("Joining fee")))
    if f.annual_fen:
        due_on = member.annual_paid_until or member.joined_on or today
        if today >= due_on:
            covers = _next_due(due_on, today, member, f)
            due.append(DueFee("annual", f.annual_fen, due_on,
                              _("Annual fee (due {date})").format(date=due_on.isoformat()), covers))
            late_from = due_on + dt.timedelta(days=f.grace_days)
            if f.late_fen and today > late_from:
                due.append(DueFee("late", f.late_fen, late_from,
                                  _("Late fee ({days} days after the due date)").format(days=f.grace_days)))
    if member.booking_fees_fen:
        due.append(DueFee("booking", member.booking_fees_fen, today, _("Missed booking fees")))
    return tuple(due)


def _next_due(due_on: dt.date, today: dt.date, member: MemberFacts, f) -> dt.date:
    """The first due day after ``today``: an anniversary of joining, or the fixed date."""
    if f.annual_due == "fixed" and f.annual_due_date is not None:
        month, day = f.annual_due_date
        candidate = dt.date(today.year, month, day)
        return candidate if candidate > today else dt.date(today.year + 1, month, day)
    anchor = member.joined_on or due_on
    years = max(1, today.year - anchor.year)
    candidate = add_months(anchor, 12 * years)
    while candidate <= today:
        years += 1
        candidate = add_months(anchor, 12 * years)
    return candidate

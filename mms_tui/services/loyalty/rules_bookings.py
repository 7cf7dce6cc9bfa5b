"""The ``bookings`` section of the rules document (预约): when a cancellation counts as late and what a late
cancellation and a no-show cost the member, every problem named by its place.

::

    [bookings]
    late_cancel_hours = 12        # a cancellation less than this many hours before the start is late
    late_cancel = "visit"         # nothing (default) | visit (one visit of their visit package) | fee
    late_cancel_fee = "30"        # yuan, with late_cancel = "fee"
    no_show = "fee"
    no_show_fee = "50"
    no_show_after_minutes = 15    # a booking may be marked a no-show this long after its start
"""

from __future__ import annotations

from typing import Any

from mms_tui.i18n import _
from mms_tui.services.base.text import plain_amount
from mms_tui.services.loyalty.rules import BOOKING_PENALTIES, BookingRules

_KEYS = ("late_cancel_hours", "late_cancel", "late_cancel_fee", "no_show", "no_show_fee", "no_show_after_minutes")


def parse_bookings(r: Any, value: Any) -> BookingRules:
    """``r`` is the rules reader (rules_reader._Reader): it keeps every problem with its place."""
    path = "bookings"
    d = r.table(value, path, _KEYS)
    base = BookingRules()
    penalties = {}
    for key in ("late_cancel", "no_show"):
        kind = r.choice(d[key], f"{path}.{key}", BOOKING_PENALTIES) if key in d else "nothing"
        fee = r.money(d[f"{key}_fee"], f"{path}.{key}_fee", positive=True) if f"{key}_fee" in d else 0
        if kind == "fee" and not fee and f"{key}_fee" not in d:
            r.problem(f"{path}.{key}_fee", _("say how much the fee is"))
        if kind != "fee" and f"{key}_fee" in d:
            r.problem(f"{path}.{key}_fee", _("only with {key} = \"fee\"").format(key=key))
        penalties[key] = (kind, fee)
    return BookingRules(
        late_cancel_hours=r.whole(d["late_cancel_hours"], f"{path}.late_cancel_hours", 0, 24 * 14)
        if "late_cancel_hours" in d else base.late_cancel_hours,
        late_cancel=penalties["late_cancel"][0], late_cancel_fee_fen=penalties["late_cancel"][1],
        no_show=penalties["no_show"][0], no_show_fee_fen=penalties["no_show"][1],
        no_show_after_minutes=r.whole(d["no_show_after_minutes"], f"{path}.no_show_after_minutes", 0, 24 * 60)
        if "no_show_after_minutes" in d else base.no_show_after_minutes,
    )


def bookings_to_dict(section: BookingRules) -> dict[str, Any]:
    """The section as plain values, leaving out what is at its default."""
    base = BookingRules()
    out: dict[str, Any] = {}
    if section.late_cancel_hours != base.late_cancel_hours:
        out["late_cancel_hours"] = section.late_cancel_hours
    for key, kind, fee in (("late_cancel", section.late_cancel, section.late_cancel_fee_fen),
                           ("no_show", section.no_show, section.no_show_fee_fen)):
        if kind != "nothing":
            out[key] = kind
        if kind == "fee":
            out[f"{key}_fee"] = plain_amount(fee)
    if section.no_show_after_minutes != base.no_show_after_minutes:
        out["no_show_after_minutes"] = section.no_show_after_minutes
    return out

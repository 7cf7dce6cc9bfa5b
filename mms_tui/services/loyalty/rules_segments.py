"""The ``segments`` section of the rules document (分群): the thresholds of the RFM segments the segments report
counts and coupon campaigns are issued to (services/loyalty/segments.py), every problem named by its place.

::

    [segments]
    new_days = 30            # joined within this many days: new
    big_spend = "3000"       # spent this much (yuan) in the last 365 days …
    big_spender_days = 60    # … and came within this many days: a big spender
    loyal_sales = 6          # this many sales in the last 365 days …
    loyal_days = 30          # … and came within this many days: loyal
    returning_days = 60      # came within this many days: returning
    at_risk_sales = 2        # not seen since returning_days after this many sales: at risk
    lost_days = 180          # not seen for more than this many days (or never): lost

A member not seen for ``lost_days`` is lost (unless new), so every "came within" limit is at most ``lost_days``,
and ``lost_days`` at most 365 (the year sales and spend are counted over).
"""

from __future__ import annotations

from typing import Any

from mms_tui.i18n import _
from mms_tui.services.base.text import plain_amount
from mms_tui.services.loyalty.rules import SegmentRules

_DAYS = ("new_days", "big_spender_days", "loyal_days", "returning_days", "lost_days")
_SALES = ("loyal_sales", "at_risk_sales")
_KEYS = ("new_days", "big_spend", "big_spender_days", "loyal_sales", "loyal_days", "returning_days", "at_risk_sales",
         "lost_days")


def parse_segments(r: Any, value: Any) -> SegmentRules:
    """``r`` is the rules reader (rules_reader._Reader): it keeps every problem with its place."""
    path = "segments"
    d = r.table(value, path, _KEYS)
    values: dict[str, Any] = {}
    for key in _DAYS:
        if key in d:
            values[key] = r.whole(d[key], f"{path}.{key}", 1, 365)
    for key in _SALES:
        if key in d:
            values[key] = r.whole(d[key], f"{path}.{key}", 1, 10_000)
    if "big_spend" in d:
        values["big_spend_fen"] = r.money(d["big_spend"], f"{path}.big_spend", positive=True)
    section = SegmentRules(**{**SegmentRules().__dict__, **values})
    for key in ("big_spender_days", "loyal_days", "returning_days"):
        if getattr(section, key) > section.lost_days:
            r.problem(f"{path}.{key}", _("must be at most lost_days ({days}): a member not seen for that long is "
                                         "lost").format(days=section.lost_days))
    return section


def segments_to_dict(section: SegmentRules) -> dict[str, Any]:
    """The section as plain values, leaving out what is at its default."""
    base = SegmentRules()
    out: dict[str, Any] = {}
    for key, v in section.__dict__.items():
        if v != getattr(base, key):
            if key == "big_spend_fen":
                out["big_spend"] = plain_amount(v)
            else:
                out[key] = v
    return out

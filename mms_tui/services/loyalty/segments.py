"""RFM segments of members (new, big spenders, loyal, returning, at risk, lost, idle): the segments report counts
them, and coupon campaigns are issued to them. A pure function of what a member did, with the rule shown."""

from __future__ import annotations

import datetime as dt

from mms_tui.i18n import N_

#: (segment, rule) in the order they are tested: a member falls in the first that fits
SEGMENT_RULES = (
    ("new", N_("joined in the last 30 days")),
    ("big_spenders", N_("spent ¥3,000 or more in the last 365 days and came in the last 60 days")),
    ("loyal", N_("6 or more sales in the last 365 days and came in the last 30 days")),
    ("returning", N_("came in the last 60 days")),
    ("at_risk", N_("not seen for 60–180 days after 2 or more sales")),
    ("lost", N_("not seen for more than 180 days, or never came")),
    ("idle", N_("everyone else: one visit, 60–180 days ago")),
)


def segment_of(joined: dt.date, last_seen: dt.date | None, sales: int, spend_fen: int, on: dt.date) -> str:
    """The RFM segment of one member on day ``on`` (see SEGMENT_RULES)."""
    recency = (on - last_seen).days if last_seen else None
    if (on - joined).days <= 30:
        return "new"
    if recency is not None and spend_fen >= 300_000 and recency <= 60:
        return "big_spenders"
    if recency is not None and sales >= 6 and recency <= 30:
        return "loyal"
    if recency is not None and recency <= 60:
        return "returning"
    if recency is not None and recency <= 180 and sales >= 2:
        return "at_risk"
    if recency is None or recency > 180:
        return "lost"
    return "idle"

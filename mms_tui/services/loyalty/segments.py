"""RFM segments of members (new, big spenders, loyal, returning, at risk, lost, idle): the segments report counts
them, and coupon campaigns are issued to them. A pure function of what a member did, with the rule shown; the
thresholds are the rules' ``segments`` section (:class:`~mms_tui.services.loyalty.rules.SegmentRules`), which a
manager sets (``mms rules import``)."""

from __future__ import annotations

import datetime as dt

from mms_tui.i18n import N_, _
from mms_tui.services.base.text import plain_amount
from mms_tui.services.loyalty.rules import SegmentRules

#: (segment, rule) in the order they are tested: a member falls in the first that fits; the rule is a template
#: filled with the thresholds (see :func:`segment_rules`)
SEGMENT_RULES = (
    ("new", N_("joined in the last {new_days} days")),
    ("big_spenders", N_("spent ¥{big_spend} or more in the last 365 days and came in the last {big_spender_days} "
                        "days")),
    ("loyal", N_("{loyal_sales} or more sales in the last 365 days and came in the last {loyal_days} days")),
    ("returning", N_("came in the last {returning_days} days")),
    ("at_risk", N_("not seen for {returning_days}–{lost_days} days after {at_risk_sales} or more sales")),
    ("lost", N_("not seen for more than {lost_days} days, or never came")),
    ("idle", N_("everyone else: seen {returning_days}–{lost_days} days ago, fewer than {at_risk_sales} sales")),
)

#: the segments' names, in the order they are tested
SEGMENTS = tuple(name for name, _rule in SEGMENT_RULES)


def segment_rules(terms: SegmentRules | None = None) -> tuple[tuple[str, str], ...]:
    """(segment, its rule in words with the thresholds in force) in the order they are tested."""
    t = terms or SegmentRules()
    values = {**t.__dict__, "big_spend": plain_amount(t.big_spend_fen)}
    return tuple((name, _(rule).format(**values)) for name, rule in SEGMENT_RULES)


def segment_of(joined: dt.date, last_seen: dt.date | None, sales: int, spend_fen: int, on: dt.date,
               terms: SegmentRules | None = None) -> str:
    """The RFM segment of one member on day ``on`` (see SEGMENT_RULES): ``sales`` and ``spend_fen`` over the last
    365 days, ``terms`` the thresholds (None: the defaults)."""
    t = terms or SegmentRules()
    recency = (on - last_seen).days if last_seen else None
    if (on - joined).days <= t.new_days:
        return "new"
    if recency is not None and spend_fen >= t.big_spend_fen and recency <= t.big_spender_days:
        return "big_spenders"
    if recency is not None and sales >= t.loyal_sales and recency <= t.loyal_days:
        return "loyal"
    if recency is not None and recency <= t.returning_days:
        return "returning"
    if recency is not None and recency <= t.lost_days and sales >= t.at_risk_sales:
        return "at_risk"
    if recency is None or recency > t.lost_days:
        return "lost"
    return "idle"

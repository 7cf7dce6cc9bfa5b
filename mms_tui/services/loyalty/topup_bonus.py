"""The top-up bonus (issue #6) as a pure function of the rules: the bonus (充1000送200) and the tier a top-up
reaches on a day."""

from __future__ import annotations

import datetime as dt

from mms_tui.i18n import _
from mms_tui.services.base.text import plain_amount
from mms_tui.services.loyalty.dates import day_of
from mms_tui.services.loyalty.rules import Rules, TopupBonusRule


def topup_rule(amount_fen: int, when: dt.datetime | dt.date, rules: Rules) -> TopupBonusRule | None:
    """The bonus rule a top-up reaches: the highest threshold among the rules valid that day (the larger bonus on
    a tie)."""
    day = day_of(when)
    reached = [r for r in rules.topup.bonuses if r.valid_on(day) and amount_fen >= r.threshold_fen]
    return max(reached, key=lambda r: (r.threshold_fen, r.bonus_fen), default=None)


def topup_bonus(amount_fen: int, when: dt.datetime | dt.date, rules: Rules) -> tuple[int, str]:
    """(bonus in fen, '充1000送200') for a top-up of ``amount_fen``; (0, '') when no rule is reached."""
    rule = topup_rule(amount_fen, when, rules)
    if rule is None or rule.bonus_fen == 0:
        return 0, ""
    return rule.bonus_fen, _("Top up ¥{amount}, get ¥{bonus} free").format(
        amount=plain_amount(rule.threshold_fen), bonus=plain_amount(rule.bonus_fen))


def topup_tier(amount_fen: int, when: dt.datetime | dt.date, rules: Rules) -> str | None:
    """The tier a top-up of ``amount_fen`` gives (the rule with the highest threshold reached that gives one);
    the caller upgrades only when it is above the member's tier."""
    day = day_of(when)
    reached = [r for r in rules.topup.bonuses if r.tier and r.valid_on(day) and amount_fen >= r.threshold_fen]
    best = max(reached, key=lambda r: r.threshold_fen, default=None)
    return best.tier if best is not None else None

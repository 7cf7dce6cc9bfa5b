"""What a member's card pays with (issue #6), as pure functions of the rules: which part of stored value a
payment takes (the spending order), and what points pay of a bill (the redeem rate, its step, the share and
the minimum)."""

from __future__ import annotations

from mms_tui.i18n import _
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput
from mms_tui.services.base.text import format_money
from mms_tui.services.loyalty.rules import Rules


def split_stored_value(amount_fen: int, principal_fen: int, bonus_fen: int, rules: Rules) -> tuple[int, int]:
    """(principal, bonus) a stored-value payment takes, in the rules' spending order."""
    if amount_fen > principal_fen + bonus_fen:
        raise InsufficientBalance(_("Not enough stored value: has {have}, needs {need}.").format(
            have=format_money(principal_fen + bonus_fen), need=format_money(amount_fen)))
    if rules.topup.spend_order == "bonus_first":
        bonus = min(bonus_fen, amount_fen)
        return amount_fen - bonus, bonus
    principal = min(principal_fen, amount_fen)
    return principal, amount_fen - principal


def points_for_payment(amount_fen: int, bill_total_fen: int, rules: Rules) -> int:
    """How many points pay ``amount_fen`` of a bill of ``bill_total_fen``; refuses what the rules forbid."""
    p = rules.points
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidInput(_("Each payment must be more than zero."))
    if amount_fen * p.redeem_per_yuan % 100:
        raise InvalidInput(_("Points pay in steps of {step}.").format(step=format_money(points_step_fen(rules))))
    most = bill_total_fen * p.redeem_max_share_pct // 100
    if amount_fen > most:
        raise InvalidInput(_("Points may pay at most {share} of this bill ({amount}).").format(
            share=f"{p.redeem_max_share_pct}%", amount=format_money(most)))
    points = amount_fen * p.redeem_per_yuan // 100
    if points < p.redeem_min_points:
        raise InvalidInput(_("Points pay from {n} points at a time.").format(n=p.redeem_min_points))
    return points


def points_step_fen(rules: Rules) -> int:
    """The smallest amount a whole number of points pays (1 fen at 100 points per yuan, 10 fen at 10)."""
    import math

    return 100 // math.gcd(100, rules.points.redeem_per_yuan)


def max_points_payment(bill_total_fen: int, points_held: int, rules: Rules) -> int:
    """The most of a bill the member's points may pay now (0 when below the minimum): the desk's 'all points'."""
    p = rules.points
    step = points_step_fen(rules)
    most = min(bill_total_fen * p.redeem_max_share_pct // 100, points_held * 100 // p.redeem_per_yuan)
    most -= most % step
    if most <= 0 or most * p.redeem_per_yuan // 100 < p.redeem_min_points:
        return 0
    return most

"""签到: a visit package gives up one visit; a period pass is validated. Both leave a Visit row per store.

A second check-in of the same card within the repeat window (setting ``repeat_check_in``: ten minutes for a visit
package, the same day for a pass) is refused with :class:`RepeatCheckIn`, naming when the last one was, unless it is
asked for on purpose (``again=True``): a cashier's second key press, or a second swipe, never takes a second visit
by accident. The same txid is the same check-in: a retry returns the first result, window or not.

A pass whose card type starts on first use gets its dates from its first check-in, in that check-in's
transaction; a freeze that ran out its yearly days has ended by itself (see :mod:`mms_tui.services.members.passes`) and
is recorded so before the card is checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import Card, Staff, Store, Visit
from mms_tui.services.base.config import get_config
from mms_tui.services.base.errors import CardExpired, RepeatCheckIn, WrongCardKind
from mms_tui.services.base.resolve import ensure_usable, resolve_card, resolve_store, today
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import upgrade_if_qualified
from mms_tui.services.members.passes import settle_freeze


@dataclass(frozen=True)
class CheckInResult:
    txid: str
    visit_id: int
    card_id: int
    card_no: str
    member_id: int
    kind: str
    visits_left: int
    valid_until: str | None
    #: this check-in started a pass that starts on first use
    started: bool = False


def repeat_window(kind: str) -> str | int:
    """How soon a second check-in of a card of ``kind`` asks first: minutes, or "day" (0: never asks)."""
    window = (get_config("repeat_check_in") or {}).get(kind, 0)
    return window if window == "day" else int(window or 0)


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return _("just now")
    if minutes < 60:
        return _("{n} min ago").format(n=minutes)
    return _("{h} h {m} min ago").format(h=minutes // 60, m=minutes % 60)


def last_check_in(card_id: int) -> dt.datetime | None:
    """When the card was last checked in (a reversed check-in does not count)."""
    last = (Visit.select(Visit.created_at).where((Visit.card == card_id) & (Visit.status == "ok"))
            .order_by(Visit.created_at.desc(), Visit.id.desc()).first())
    return last.created_at if last is not None else None


def _refuse_a_repeat(card: Card, kind: str, moment: dt.datetime) -> None:
    window = repeat_window(kind)
    if not window:
        return
    last = last_check_in(card.id)
    if last is None:
        return
    if isinstance(last, str):
        last = dt.datetime.fromisoformat(last)
    soon = last.date() == moment.date() if window == "day" else moment - last < dt.timedelta(minutes=window)
    if soon:
        raise RepeatCheckIn(_("Card {card} was already checked in at {time} ({ago}). Check in again?").format(
            card=card.card_no, time=last.strftime("%H:%M") if last.date() == moment.date() else str(last)[:16],
            ago=_ago((moment - last).total_seconds())), str(last))


def check_in(
    card: Card | int | str,
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
    on: dt.date | None = None,
    again: bool = False,
) -> CheckInResult:
    """Refuses lost, frozen, expired and cancelled cards, and cards that carry no visits or pass, saying why; a
    second check-in within the repeat window only when ``again``."""
    card = resolve_card(card)
    store_obj = resolve_store(store, staff)
    day = on or today()
    rules = load_rules()

    def body(tx) -> CheckInResult:
        current = settle_freeze(Card.get_by_id(card.id), day, staff=staff, store=store_obj, txid=tx.txid)
        ctype = current.card_type
        kind = ctype.kind
        if kind not in ("visits", "period"):
            raise WrongCardKind(
                _("Card {card} ({type}) is not a visit package or a pass.").format(
                    card=current.card_no, type=ctype.name
                )
            )
        try:
            ensure_usable(current, day, at=store_obj)
        except CardExpired:
            if kind == "visits" and current.valid_until is not None and current.valid_until < day:
                raise CardExpired(
                    _("Visit package {card} expired on {date}; its {n} visits left can no longer be used.").format(
                        card=current.card_no, date=current.valid_until, n=current.visits_left)
                ) from None
            raise
        if not again:  # a check-in for another day (``on``) is seen as made at this time of that day
            moment = clock.now()
            _refuse_a_repeat(current, kind, dt.datetime.combine(day, moment.time()) if day != moment.date() else moment)
        started = kind == "period" and ctype.start_on_first_use and bool(ctype.period_days) and (
            current.valid_from is None and current.valid_until is None)
        if started:
            Card.update(valid_from=day, valid_until=day + dt.timedelta(days=ctype.period_days - 1)).where(
                Card.id == current.id).execute()
        if kind == "visits":
            post(tx, [card_posting(current.id, "card.visits", -1), Posting("visits.used", "visit", 1)])
        visit = Visit.create(transaction=tx, member=current.member_id, card=current, store=store_obj, staff=staff)
        if rules.tiers.basis == "visits":  # a tier reached by visits is given at the visit that reaches it
            upgrade_if_qualified(current.member_id, staff=staff, store=store_obj, txid=tx.txid, on=day, rules=rules)
        after = Card.get_by_id(card.id)
        payload: dict = {"visits_left": after.visits_left}
        if started:
            payload.update(started=day, valid_until=after.valid_until)
        audit("card.check_in", f"card:{card.id}", staff=staff, store=store_obj, txid=tx.txid, payload=payload)
        return CheckInResult(tx.txid, visit.id, after.id, after.card_no, after.member_id, kind, after.visits_left,
                             after.valid_until.isoformat() if after.valid_until else None, started)

    return run_operation(txid=txid, kind="checkin", request={"card": card.id, "on": day}, staff=staff,
                         store=store_obj, member=card.member_id, body=body, result_type=CheckInResult)

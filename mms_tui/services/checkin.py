"""签到: a visit package gives up one visit; a period pass is validated. Both leave a Visit row per store.

A pass whose card type starts on first use gets its dates from its first check-in, in that check-in's
transaction; a freeze that ran out its yearly days has ended by itself (see :mod:`mms_tui.services.members`) and
is recorded so before the card is checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Staff, Store, Visit
from mms_tui.services.common import ensure_usable, resolve_card, resolve_store, today
from mms_tui.services.errors import CardExpired, WrongCardKind
from mms_tui.services.ledger import Posting, audit, card_posting, post, run_operation
from mms_tui.services.members import settle_freeze
from mms_tui.services.rules import load_rules
from mms_tui.services.tiers import upgrade_if_qualified


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


def check_in(
    card: Card | int | str,
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
    on: dt.date | None = None,
) -> CheckInResult:
    """Refuses lost, frozen, expired and cancelled cards, and cards that carry no visits or pass, saying why."""
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
            ensure_usable(current, day)
        except CardExpired:
            if kind == "visits" and current.valid_until is not None and current.valid_until < day:
                raise CardExpired(
                    _("Visit package {card} expired on {date}; its {n} visits left can no longer be used.").format(
                        card=current.card_no, date=current.valid_until, n=current.visits_left)
                ) from None
            raise
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

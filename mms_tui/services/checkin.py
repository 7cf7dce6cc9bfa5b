"""签到: a visit package gives up one visit; a period pass is validated. Both leave a Visit row per store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Staff, Store, Visit
from mms_tui.services.common import ensure_usable, resolve_card, resolve_store, today
from mms_tui.services.errors import WrongCardKind
from mms_tui.services.ledger import Posting, audit, card_posting, post, run_operation


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

    def body(tx) -> CheckInResult:
        current = Card.get_by_id(card.id)
        kind = current.card_type.kind
        if kind not in ("visits", "period"):
            raise WrongCardKind(
                _("Card {card} ({type}) is not a visit package or a pass.").format(
                    card=current.card_no, type=current.card_type.name
                )
            )
        ensure_usable(current, day)
        if kind == "visits":
            post(tx, [card_posting(current.id, "card.visits", -1), Posting("visits.used", "visit", 1)])
        visit = Visit.create(transaction=tx, member=current.member_id, card=current, store=store_obj, staff=staff)
        after = Card.get_by_id(card.id)
        audit("card.check_in", f"card:{card.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"visits_left": after.visits_left})
        return CheckInResult(tx.txid, visit.id, after.id, after.card_no, after.member_id, kind, after.visits_left,
                             after.valid_until.isoformat() if after.valid_until else None)

    return run_operation(txid=txid, kind="checkin", request={"card": card.id, "on": day}, staff=staff,
                         store=store_obj, member=card.member_id, body=body, result_type=CheckInResult)

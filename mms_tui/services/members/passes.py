"""Period passes and packages over time: freeze (冻结), unfreeze and renew (续卡).

* **Period passes** (月卡/季卡/年卡) run ``period_days`` from the day they are bought, or, when the card type says
  ``start_on_first_use``, from the day of their first check-in: that check-in sets ``valid_from``/``valid_until``
  in its own transaction. Until then the pass has no dates; it cannot be frozen or renewed before it starts.
* **Freeze** pauses a pass or package; unfreezing moves its end date on by the days it was frozen. A card
  type's ``max_freeze_days`` limits the days frozen per calendar year (each frozen day counts in its own year):
  a freeze is refused when none are left this year, and a freeze that uses up what is left **ends by itself** on
  the day the limit is reached — the card can be used again from that day and its end date moves on by the days
  counted, no more (the next check-in, freeze or unfreeze records it). ``max_freeze_days = 0``: never frozen.
* **Renewal** is paid like a card issue (the card type's price, a money tender). A pass that has not ended
  yet, or is frozen, continues from its old end date; one that has ended starts again on the day of renewal.

Every operation here is idempotent by txid (see :mod:`mms_tui.services.ledger.operations`); those that move value post
balanced ledger entries in the same database transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Staff, Store
from mms_tui.services.base.config import require_within_limit
from mms_tui.services.base.errors import CardCancelled, CardLost, InvalidInput, WrongCardKind
from mms_tui.services.base.resolve import ensure_usable, resolve_card, resolve_store, today
from mms_tui.services.ledger.operations import Posting, audit, post, run_operation
from mms_tui.services.members.cards import CardResult, _money_tender, card_result


@dataclass(frozen=True)
class FreezeResult(CardResult):
    #: unfreeze: the days the freeze counted (what the end date moved on by)
    frozen_days: int = 0
    #: freeze: days of the yearly limit left when it began; None: the card type has no limit
    days_left: int | None = None
    #: freeze: the day it ends by itself when the limit runs out; None: only an unfreeze ends it
    ends_on: str | None = None


def freeze_span(since: dt.date, until: dt.date, limit: int | None, year: int | None, used: int
                ) -> tuple[dt.date, int | None, int]:
    """Walk a freeze's days from ``since`` (the first day frozen) up to ``until`` (the first day usable again)
    under a limit of ``limit`` days per calendar year, ``used`` of them already gone in ``year``. Each frozen day
    counts in its own year. Returns (end, year, used): ``end`` is ``until``, or the earlier day on which the
    limit ran out and the freeze ended by itself; the days counted are ``(end - since).days``."""
    day = since
    while day < until:
        if day.year != year:
            year, used = day.year, 0
        if limit is not None and used >= limit:
            break
        used += 1
        day += dt.timedelta(days=1)
    return day, year, used


def freeze_ends_on(card: Card) -> dt.date | None:
    """The day a frozen card's freeze ends by itself under its type's yearly limit (None: not frozen, or no
    limit). Read-only: the desk shows it, and a card past it is usable again."""
    limit = card.card_type.max_freeze_days
    if card.status != "frozen" or card.frozen_since is None or limit is None:
        return None
    horizon = card.frozen_since + dt.timedelta(days=2 * 366 + 1)
    end, _year, _used = freeze_span(card.frozen_since, horizon, limit, card.freeze_year, card.freeze_days_year)
    return end if end < horizon else None


def _end_freeze(card: Card, until: dt.date, *, staff: Staff, store: Store, txid: str, automatic: bool) -> int:
    """Unfreeze ``card`` as of ``until`` (or of the day its limit ended the freeze, if earlier): active again, the
    end date moved on by the days counted, the year's freeze days recorded. Inside the caller's transaction."""
    since = card.frozen_since or until
    end, year, used = freeze_span(since, until, card.card_type.max_freeze_days, card.freeze_year,
                                  card.freeze_days_year)
    days = (end - since).days
    update: dict = {Card.status: "active", Card.frozen_since: None, Card.frozen_days_total: Card.frozen_days_total + days,
                    Card.freeze_year: year, Card.freeze_days_year: used}
    if card.valid_until is not None:
        update[Card.valid_until] = card.valid_until + dt.timedelta(days=days)
    Card.update(update).where(Card.id == card.id).execute()
    audit("card.unfreeze", f"card:{card.id}", staff=staff, store=store, txid=txid,
          payload={"on": end, "frozen_days": days, "automatic": automatic})
    return days


def settle_freeze(card: Card, day: dt.date, *, staff: Staff, store: Store, txid: str) -> Card:
    """A freeze that reached its yearly limit by ``day`` ended by itself: record that now (inside the caller's
    write transaction) and return the card as it is afterwards; any other card comes back unchanged."""
    ends = freeze_ends_on(card)
    if ends is None or ends > day:
        return card
    _end_freeze(card, ends, staff=staff, store=store, txid=txid, automatic=True)
    return Card.get_by_id(card.id)


def _not_started(card: Card) -> bool:
    """A pass that starts on first use and has not been used yet."""
    ctype = card.card_type
    return ctype.kind == "period" and ctype.start_on_first_use and card.valid_from is None and card.valid_until is None


def freeze_card(card: Card | int | str, staff: Staff, txid: str, *, on: dt.date | None = None) -> FreezeResult:
    """冻结: pause a pass or package; while frozen it cannot be used, and its end date waits. Refused when the card
    type's yearly freeze days are used up; otherwise it ends by itself when they run out (see the module)."""
    card = resolve_card(card)
    store = resolve_store(None, staff)
    day = on or today()

    def body(tx) -> FreezeResult:
        current = settle_freeze(Card.get_by_id(card.id), day, staff=staff, store=store, txid=tx.txid)
        ctype = current.card_type
        if ctype.kind not in ("period", "visits"):
            raise WrongCardKind(_("Only passes and visit packages can be frozen."))
        ensure_usable(current, day)
        if _not_started(current):
            raise InvalidInput(_("Pass {card} has not started yet (it starts at its first check-in); there is "
                                 "nothing to freeze.").format(card=current.card_no))
        limit = ctype.max_freeze_days
        days_left = None
        if limit is not None:
            used = current.freeze_days_year if current.freeze_year == day.year else 0
            days_left = max(limit - used, 0)
            if limit == 0:
                raise InvalidInput(_("Cards of type {type} cannot be frozen.").format(type=ctype.name))
            if days_left == 0:
                raise InvalidInput(
                    _("Card {card} has used all {limit} freeze days of {year}; 0 days left. It can be frozen "
                      "again from {date}.").format(card=current.card_no, limit=limit, year=day.year,
                                                   date=dt.date(day.year + 1, 1, 1).isoformat()))
        Card.update(status="frozen", frozen_since=day).where(Card.id == card.id).execute()
        ends = freeze_ends_on(Card.get_by_id(card.id))
        audit("card.freeze", f"card:{card.id}", staff=staff, store=store, txid=tx.txid,
              payload={"on": day, "days_left": days_left, "ends_on": ends})
        return FreezeResult(**dataclasses.asdict(card_result(tx.txid, current)), days_left=days_left,
                            ends_on=ends.isoformat() if ends else None)

    return run_operation(txid=txid, kind="freeze", request={"card": card.id, "on": day}, staff=staff, store=store,
                         member=card.member_id, body=body, result_type=FreezeResult)


def unfreeze_card(card: Card | int | str, staff: Staff, txid: str, *, on: dt.date | None = None) -> FreezeResult:
    """解冻: the end date moves on by the days the card was frozen (no more than its yearly limit allowed)."""
    card = resolve_card(card)
    store = resolve_store(None, staff)
    day = on or today()

    def body(tx) -> FreezeResult:
        current = Card.get_by_id(card.id)
        if current.status != "frozen":
            raise InvalidInput(_("Card {card} is not frozen.").format(card=current.card_no))
        days = _end_freeze(current, day, staff=staff, store=store, txid=tx.txid, automatic=False)
        return FreezeResult(**dataclasses.asdict(card_result(tx.txid, current)), frozen_days=days)

    return run_operation(txid=txid, kind="unfreeze", request={"card": card.id, "on": day}, staff=staff,
                         store=store, member=card.member_id, body=body, result_type=FreezeResult)


# --- passes and packages: renewal, transfer within a family ---------------------------------------------------


def _renewed_dates(card: Card, day: dt.date) -> tuple[dt.date | None, dt.date]:
    """(valid_from, valid_until) of a pass renewed on ``day``; refuses what cannot be renewed, saying why."""
    ctype = card.card_type
    if ctype.kind != "period":
        raise WrongCardKind(_("Card {card} ({type}) is not a pass; only passes are renewed.").format(
            card=card.card_no, type=ctype.name))
    if card.status == "lost" or card.replaced_by_id is not None:
        raise CardLost(_("Card {card} is reported lost and blocked.").format(card=card.card_no))
    if card.status == "cancelled":
        raise CardCancelled(_("Card {card} was cancelled.").format(card=card.card_no))
    if _not_started(card):
        raise InvalidInput(_("Pass {card} has not started yet (it starts at its first check-in); renew it once "
                             "it runs.").format(card=card.card_no))
    if card.valid_until is None or not ctype.period_days:
        raise InvalidInput(_("Pass {card} has no end date to renew from.").format(card=card.card_no))
    period = dt.timedelta(days=ctype.period_days)
    if card.status == "frozen" or card.valid_until >= day:
        return card.valid_from, card.valid_until + period
    return day, day + period - dt.timedelta(days=1)


@dataclass(frozen=True)
class RenewalQuote:
    """What renewing a pass costs and gives, before anything is paid (the renewal dialog shows it)."""

    card_no: str
    type_name: str
    price_fen: int
    valid_until: str  # now (as the desk sees it: a freeze that ran out its days has ended)
    renewed_until: str


def renewal_quote(card: Card | int | str, *, on: dt.date | None = None) -> RenewalQuote:
    day = on or today()
    current = resolve_card(card)
    ends = freeze_ends_on(current)
    if ends is not None and ends <= day and current.frozen_since is not None:  # as settle_freeze will leave it
        current.status = "active"
        if current.valid_until is not None:
            current.valid_until += dt.timedelta(days=(ends - current.frozen_since).days)
    _from, until = _renewed_dates(current, day)
    return RenewalQuote(current.card_no, current.card_type.name, current.card_type.price_fen,
                        current.valid_until.isoformat() if current.valid_until else "", until.isoformat())


def renew_pass(
    card: Card | int | str,
    staff: Staff,
    txid: str,
    *,
    tender: str = "cash",
    price_fen: int | None = None,
    store: Store | str | None = None,
    on: dt.date | None = None,
) -> CardResult:
    """续卡: another period of a pass, paid like a card issue. Continues from the old end date while the pass has
    not ended (or is frozen: its end date is still to move); starts on ``on`` (today) once it has ended."""
    card = resolve_card(card)
    store_obj = resolve_store(store, staff)
    tender = _money_tender(tender)
    day = on or today()
    if price_fen is not None and (not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen < 0):
        raise InvalidInput(_("A card price cannot be negative."))
    if price_fen is not None:
        require_within_limit(price_fen, _("A renewal price"))
    request = {"card": card.id, "tender": tender, "price": price_fen, "on": day}

    def body(tx) -> CardResult:
        current = settle_freeze(Card.get_by_id(card.id), day, staff=staff, store=store_obj, txid=tx.txid)
        ctype = current.card_type
        valid_from, valid_until = _renewed_dates(current, day)
        price = ctype.price_fen if price_fen is None else price_fen
        Card.update(valid_from=valid_from, valid_until=valid_until,
                    status="active" if current.status == "expired" else current.status).where(
            Card.id == current.id).execute()
        post(tx, [Posting(f"tender.{tender}", "fen", -price), Posting("revenue.cards", "fen", price)])
        audit("card.renew", f"card:{current.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"from_until": current.valid_until, "valid_from": valid_from, "valid_until": valid_until,
                       "price_fen": price, "tender": tender})
        return card_result(tx.txid, current, price)

    return run_operation(txid=txid, kind="renew", request=request, staff=staff, store=store_obj,
                         member=card.member_id, body=body, result_type=CardResult)

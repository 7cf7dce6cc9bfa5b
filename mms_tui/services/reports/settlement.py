"""跨店结算: what the stores of a chain owe each other for stored value loaded at one and spent at another, read
from the ledger alone (nothing entered by hand).

The rule (DESIGN.md, "Cross-store settlement"):

* Only **principal** counts: the money a member paid in (``card.principal`` entries). Bonus value (赠送) is the
  issuing store's expense and is never settled; points and visits are not money.
* Every card's principal is a queue of **lots**: each load (a top-up, a card sold with value on it, a transfer in)
  is a lot held by the store whose transaction made it. A spend takes from the oldest lots first (FIFO); a reversal
  of a load takes back that load's own lot first; a reversal of a spend puts back exactly the lots it took.
* Principal of a lot held by store A spent at store B is money A holds and B earned: **A owes B** that amount, in
  the period of the spend. A reversal of such a spend owes it back, in the period of the reversal. A spend at the
  store holding the lot owes nothing.

Rows: one per pair of stores that owe each other anything in the period (``store`` the one that pays on balance,
``owes_fen`` what it owes ``other`` before netting, ``owed_fen`` what ``other`` owes it, ``net_fen`` what it pays),
then one per store (``other`` empty: its totals over every other store; ``net_fen`` negative when it receives).
With a node (``--store``/``--region``), the pairs with one of its stores and those stores' own rows.

Only the cards with a principal entry in the period are read, each over its whole history to the period's end (its
lots at the start depend on it), one card at a time in posting order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import peewee

from mms_tui.db import database
from mms_tui.i18n import _
from mms_tui.models import Entry, Store, Transaction
from mms_tui.services.reports.period import Period, Row

PRINCIPAL = "card.principal"


@dataclass(eq=False)
class _Lot:
    store_id: int
    left: int
    tx_id: int


@dataclass
class _Card:
    lots: deque[_Lot] = field(default_factory=deque)
    #: what each spend took: transaction id → [(lot, amount)], so its reversal puts them back
    taken: dict[int, list[tuple[_Lot, int]]] = field(default_factory=dict)


#: how far a transaction's stored (UTC) moment may lie outside its store's day, as the process's zone reads it:
#: a store's zone and this process's are each within 14 hours of UTC, so two days hold every such moment
_ZONES_APART = dt.timedelta(days=2)


def owed(p: Period) -> dict[tuple[int, int], int]:
    """(holding store, earning store) → fen the first owes the second for the period's spends (gross)."""
    in_period = (Transaction.local_day >= p.start) & (Transaction.local_day <= p.end)
    # the period's transactions found by the index of their moments (a range two days wider than the stores' days
    # can be, the stores' own days then taken exactly); their entries by transaction (a CROSS JOIN keeps SQLite to
    # that order: on its own it read every entry of the ledger to find the period's, twice as long at a million)
    near = ((Transaction.created_at >= p.start_dt - _ZONES_APART) & (Transaction.created_at < p.end_dt + _ZONES_APART))
    cards = (Transaction.select(Entry.card).join(Entry, peewee.JOIN.CROSS)
             .where(near & in_period & (Entry.transaction == Transaction.id) & (Entry.account == PRINCIPAL))
             .distinct())
    rows = (Entry.select(Entry.card, Entry.amount, Transaction.id, Transaction.store, Transaction.local_day,
                         Transaction.reverses)
            .join(Transaction)
            .where((Entry.account == PRINCIPAL) & (Transaction.local_day <= p.end) & Entry.card.in_(cards))
            .order_by(Entry.card, Transaction.id, Entry.id))
    result: dict[tuple[int, int], int] = defaultdict(int)
    spends: dict[int, int] = {}  # spend transaction id → its store (for a reversal's pair)
    card_id: int | None = None
    state = _Card()
    first, last = p.start.isoformat(), p.end.isoformat()  # (SQLite hands a day back as its ISO text)
    for card, amount, tx_id, store_id, day, reverses in database.execute_sql(*rows.sql()):  # (plain rows)
        if card != card_id:
            card_id, state = card, _Card()
        counts = first <= day[:10] <= last if type(day) is str else p.start <= _day(day) <= p.end
        amount = int(amount)
        if amount > 0:
            back = state.taken.pop(reverses, None) if reverses is not None else None
            if back:
                spend_store = spends.get(reverses, store_id)
                for lot, taken in reversed(back):
                    lot.left += taken
                    if lot not in state.lots:
                        state.lots.appendleft(lot)
                    if counts and lot.store_id != spend_store:
                        result[(lot.store_id, spend_store)] -= taken
                amount -= sum(taken for _lot, taken in back)
            if amount > 0:
                state.lots.append(_Lot(store_id, amount, tx_id))
            continue
        need = -amount
        took: list[tuple[_Lot, int]] = []
        own = [lot for lot in state.lots if lot.tx_id == reverses] if reverses is not None else []
        for lot in [*own, *(lot for lot in state.lots if lot not in own)] if own else state.lots:
            if need <= 0:
                break
            part = min(lot.left, need)
            if part <= 0:
                continue
            lot.left -= part
            need -= part
            took.append((lot, part))
            if counts and lot.store_id != store_id:
                result[(lot.store_id, store_id)] += part
        if any(lot.left <= 0 for lot, _part in took):
            state.lots = deque(lot for lot in state.lots if lot.left > 0)
        state.taken[tx_id] = took
        spends[tx_id] = store_id
    return {pair: fen for pair, fen in result.items() if fen}


def _day(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def settlement(p: Period, by: str = "day") -> Iterator[Row]:
    """The pairs of stores, netted, then each store's position (see the module's rule)."""
    gross = owed(p)
    codes = {s.id: s.code for s in Store.select(Store.id, Store.code)}
    pairs: dict[tuple[int, int], tuple[int, int]] = {}
    for (a, b), fen in gross.items():
        key = (a, b) if codes.get(a, "") < codes.get(b, "") else (b, a)
        there, back = pairs.get(key, (0, 0))
        pairs[key] = (there + fen, back) if key == (a, b) else (there, back + fen)
    mine = p.holds
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows: list[Row] = []
    for (a, b), (a_owes, b_owes) in sorted(pairs.items(), key=lambda kv: (codes[kv[0][0]], codes[kv[0][1]])):
        if not (mine(a) or mine(b)):
            continue
        payer, payee, pays, gets = (a, b, a_owes, b_owes) if a_owes >= b_owes else (b, a, b_owes, a_owes)
        rows.append({"store": codes[payer], "other": codes[payee], "owes_fen": pays, "owed_fen": gets,
                     "net_fen": pays - gets})
        for store, out, into in ((a, a_owes, b_owes), (b, b_owes, a_owes)):
            totals[store][0] += out
            totals[store][1] += into
    yield from rows
    for store in sorted(totals, key=lambda s: codes[s]):
        if mine(store):
            out, into = totals[store]
            yield {"store": codes[store], "other": _("(all)"), "owes_fen": out, "owed_fen": into,
                   "net_fen": out - into}

"""``mms check``: prove the ledger and the caches agree. Read-only; returns what is wrong, empty when all holds.

Invariants:

* every transaction's entries sum to zero per unit (fen, points, visits);
* every card's cached balances equal the sum of its entries per account (cards start at zero);
* no cached balance is negative;
* every sale's total equals the sum of its lines, and its payments cover exactly its total;
* every transaction that changed something has its audit event;
* a reversal undoes exactly the entries of what it reverses (a top-up's refund: all but the part of its bonus that
  was spent before, which stays spent; money handed back through another tender than it came in by — paid by
  WeChat, given back in cash — counts as the same money; a sale refunded in part before: what the parts left);
* a partial refund (部分退款) pays out its amount, takes it off revenue and off the sale's tenders, and the parts of
  a sale never give back more through a tender than the sale took in through it; each takes back its share of the
  points the sale earned (the cumulative floor, so the parts never take back more than were earned);
* every hash chain verifies from its first link to its head, and covers every transaction and audit event (a
  rewritten, deleted or inserted row names the first link it breaks; services/chain.py);
* staff accounts and the loyalty rules hold the state their last audited event records;
* commissions (提成): every row names a line of its own operation's sale (a refund's row, a row of what it
  reversed, on the same line and staff), earned rows are not negative, the shares of a line add up to 100 %, each
  amount is what its recorded base and rate (or fixed amount, units and share) give, and what refunds took back of
  a row is never more than it earned — so each staff member's totals are the sums of sound rows;
* stock (进销存): every level's on hand and value equal the sums of its product's moves at its store, no value is
  negative, on hand at or below zero holds no value, every move has its level, a refund puts back exactly the
  quantities its operation took, a transfer's lines are what left the sending store (and, once received, what
  came in), and a posted count moved each counted product by counted − expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import peewee

from mms_tui.models import AuditEvent, Card, Entry, Payment, Sale, SaleLine, Transaction
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.ledger import results
from mms_tui.services.ledger.operations import CARD_ACCOUNTS
from mms_tui.services.ledger.tenders import MONEY_TENDERS, money_paid_for_sale, share_of_part


@dataclass(frozen=True)
class Problem:
    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


def _unbalanced() -> list[Problem]:
    total = peewee.fn.SUM(Entry.amount)
    query = (  # grouped by the transaction's number, its txid looked up only for what does not balance
        Entry.select(Entry.transaction, Entry.unit, total.alias("total"))
        .group_by(Entry.transaction, Entry.unit)
        .having(total != 0)
        .tuples()
    )
    found = list(query)
    txids = dict(Transaction.select(Transaction.id, Transaction.txid)
                 .where(Transaction.id.in_(sorted({tx for tx, _u, _s in found}))).tuples()) if found else {}
    return [Problem("unbalanced", f"tx {txids.get(tx, tx)}", f"{unit} entries sum to {s}") for tx, unit, s in found]


def _chunks(ids: list[int], size: int = 2_000):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _card_caches() -> list[Problem]:
    """The database picks out the cards whose caches differ from their entries, are negative or carry entries on an
    account cards do not have (one grouped pass, nothing else leaves it); their problems are then spelled out."""
    accounts = list(CARD_ACCOUNTS)
    sums = ", ".join(f'SUM(CASE WHEN "account" = ? THEN "amount" ELSE 0 END) AS "s{i}"' for i in range(len(accounts)))
    odd = " OR ".join(f'c."{column}" <> COALESCE(e."s{i}", 0) OR c."{column}" < 0'
                      for i, (column, _unit) in enumerate(CARD_ACCOUNTS.values()))
    suspects = [card_id for (card_id,) in fetch_rows(
        f'SELECT c."id" FROM "card" c LEFT JOIN (SELECT "card_id", {sums}, SUM(CASE WHEN "account" NOT IN '
        f'({", ".join("?" for _ in accounts)}) THEN 1 ELSE 0 END) AS "other" FROM "ledger_entry" WHERE "card_id" IS '
        f'NOT NULL GROUP BY "card_id") e ON e."card_id" = c."id" WHERE {odd} OR COALESCE(e."other", 0) > 0 '
        'ORDER BY c."id"', accounts + accounts)]
    problems = []
    for ids in _chunks(suspects):
        problems += _card_problems(ids)
    return problems


def _card_problems(ids: list[int]) -> list[Problem]:
    sums: dict[int, dict[str, int]] = {}
    query = (
        Entry.select(Entry.card, Entry.account, peewee.fn.SUM(Entry.amount))
        .where(Entry.card.in_(ids))
        .group_by(Entry.card, Entry.account)
        .tuples()
    )
    for card_id, account, total in query:
        sums.setdefault(card_id, {})[account] = int(total)
    problems = []
    columns = [Card.id, Card.card_no] + [getattr(Card, col) for col, _unit in CARD_ACCOUNTS.values()]
    for row in Card.select(*columns).where(Card.id.in_(ids)).order_by(Card.id).tuples():
        card_id, card_no, *cached = row
        entries = sums.get(card_id, {})
        for (account, (column, _unit)), value in zip(CARD_ACCOUNTS.items(), cached, strict=True):
            expected = entries.get(account, 0)
            if value != expected:
                problems.append(
                    Problem("cache", f"card {card_no}", f"{column} is {value} but its entries sum to {expected}")
                )
            if value < 0:
                problems.append(Problem("negative", f"card {card_no}", f"{column} is {value}"))
        for account in sorted(set(entries) - set(CARD_ACCOUNTS)):
            problems.append(Problem("account", f"card {card_no}", f"entries on unknown card account {account}"))
    return problems


def _sales() -> list[Problem]:
    """The database picks out the sales whose lines or payments do not give their totals (one pass, nothing else
    leaves it); their problems are then spelled out."""
    suspects = [sale_id for (sale_id,) in fetch_rows(
        'SELECT s."id" FROM "sale" s LEFT JOIN (SELECT "sale_id", SUM("line_total_fen") AS "total", '
        'SUM("list_price_fen" * "qty") AS "listed" FROM "sale_line" GROUP BY "sale_id") l ON l."sale_id" = s."id" '
        'LEFT JOIN (SELECT "sale_id", SUM("amount_fen") AS "paid" FROM "payment" GROUP BY "sale_id") p ON '
        'p."sale_id" = s."id" WHERE COALESCE(l."total", 0) <> s."total_fen" OR COALESCE(l."listed", 0) <> '
        's."subtotal_fen" OR s."subtotal_fen" - s."discount_fen" <> s."total_fen" OR COALESCE(p."paid", 0) <> '
        's."total_fen" ORDER BY s."id"')]
    problems = []
    for ids in _chunks(suspects):
        problems += _sale_problems(ids)
    return problems


def _sale_problems(ids: list[int]) -> list[Problem]:
    problems = []
    lines = {
        sale_id: (int(total), int(listed))
        for sale_id, total, listed in SaleLine.select(
            SaleLine.sale, peewee.fn.SUM(SaleLine.line_total_fen), peewee.fn.SUM(SaleLine.list_price_fen * SaleLine.qty)
        ).where(SaleLine.sale.in_(ids)).group_by(SaleLine.sale).tuples()
    }
    paid = {
        sale_id: int(total)
        for sale_id, total in Payment.select(Payment.sale, peewee.fn.SUM(Payment.amount_fen))
        .where(Payment.sale.in_(ids)).group_by(Payment.sale)
        .tuples()
    }
    for sale_id, subtotal, discount, total in Sale.select(
        Sale.id, Sale.subtotal_fen, Sale.discount_fen, Sale.total_fen
    ).where(Sale.id.in_(ids)).order_by(Sale.id).tuples():
        line_total, listed = lines.get(sale_id, (0, 0))
        if line_total != total or listed != subtotal or subtotal - discount != total:
            problems.append(Problem("sale", f"sale {sale_id}",
                                    f"total {total}, subtotal {subtotal}, discount {discount} but lines give "
                                    f"{line_total} of {listed}"))
        if paid.get(sale_id, 0) != total:
            problems.append(Problem("sale", f"sale {sale_id}", f"payments {paid.get(sale_id, 0)} ≠ total {total}"))
    return problems


def _audited() -> list[Problem]:
    """Every transaction has its audit event: kept on it (``action``, migration 30), or a row with its txid."""
    missing = (
        Transaction.select(Transaction.txid)
        .join(AuditEvent, peewee.JOIN.LEFT_OUTER, on=(AuditEvent.txid == Transaction.txid))
        .where(Transaction.action.is_null() & AuditEvent.id.is_null())
        .tuples()
    )
    return [Problem("audit", f"tx {txid}", "no audit event") for (txid,) in missing]


#: a partial refund's kind (services/money/refund.py)
PART_KIND = "refund_part"


def _partials() -> dict[str, list[tuple[int, str, dict]]]:
    """The partial refunds (部分退款), by the txid of the sale each gives back part of: (transaction id, txid,
    terms), oldest first. They are few: read whole."""
    found: dict[str, list[tuple[int, str, dict]]] = {}
    for tx_id, txid, result in (Transaction.select(Transaction.id, Transaction.txid, Transaction.result)
                                .where(Transaction.kind == PART_KIND).order_by(Transaction.id).tuples()):
        try:
            stored = results.load(result)
            terms = stored["part"]
            found.setdefault(str(stored["reversed_txid"]), []).append((tx_id, txid, dict(terms)))
        except (ValueError, KeyError, TypeError):
            found.setdefault("", []).append((tx_id, txid, {}))
    return found


def _entries_of(ids: list[int]) -> dict[int, list[tuple]]:
    entries: dict[int, list[tuple]] = {}
    for chunk in range(0, len(ids), 500):
        for tx_id, *entry in (Entry.select(Entry.transaction, Entry.account, Entry.card, Entry.unit, Entry.amount)
                              .where(Entry.transaction.in_(ids[chunk:chunk + 500])).tuples()):
            entries.setdefault(tx_id, []).append(tuple(entry))
    return entries


def _after_parts(original: list[tuple], parts: list[tuple[int, str, dict]], entries: dict[int, list[tuple]]
                 ) -> list[tuple]:
    """What a whole refund of a sale refunded in part before must move: each entry of the sale undone less what the
    parts' entries moved, its money per tender less what the parts took from that tender."""
    rest: dict[tuple, int] = {}
    for tx in [None, *[p[0] for p in parts]]:
        for a, c, u, x in original if tx is None else entries.get(tx, []):
            if a not in _MONEY:
                rest[(a, c, u)] = rest.get((a, c, u), 0) - x
    for a, c, u, x in original:
        if a in _MONEY:
            rest[(a, c, u)] = rest.get((a, c, u), 0) - x
    for _tx, _txid, terms in parts:
        for tender, fen in (terms.get("from_tenders") or {}).items():
            key = (f"tender.{tender}", None, "fen")
            rest[key] = rest.get(key, 0) - int(fen)
    return sorted((a, c, u, x) for (a, c, u), x in rest.items() if x)


def _summed(entries: list[tuple]) -> list[tuple]:
    totals: dict[tuple, int] = {}
    for a, c, u, x in entries:
        totals[(a, c, u)] = totals.get((a, c, u), 0) + x
    return sorted((a, c, u, x) for (a, c, u), x in totals.items() if x)


def _reversals() -> list[Problem]:
    problems = []
    Original = Transaction.alias()
    pairs = (Transaction.select(Transaction.id, Transaction.txid, Original.id, Original.kind, Original.txid)
             .join(Original, on=(Transaction.reverses == Original.id)).tuples())
    undoing = Transaction.select(Transaction.id).where(Transaction.reverses.is_null(False))
    undone = Transaction.select(Transaction.reverses).where(Transaction.reverses.is_null(False))
    entries: dict[int, list[tuple]] = {}  # of every reversal and what it reverses, read in one pass
    for tx_id, *entry in (Entry.select(Entry.transaction, Entry.account, Entry.card, Entry.unit, Entry.amount)
                          .where(Entry.transaction.in_(undoing) | Entry.transaction.in_(undone)).tuples()):
        entries.setdefault(tx_id, []).append(tuple(entry))
    partials = _partials()
    parts_entries = _entries_of([p[0] for parts in partials.values() for p in parts])
    for rev_id, rev_txid, orig_id, orig_kind, orig_txid in pairs:
        reversal = sorted(entries.get(rev_id, []))
        if orig_txid in partials:  # a sale refunded in part, then whole: the rest of it
            reversal = _summed(reversal)
            negated = _summed(_through(_after_parts(entries.get(orig_id, []), partials[orig_txid], parts_entries),
                                       reversal))
        else:
            negated = _through(sorted((a, c, u, -x) for a, c, u, x in entries.get(orig_id, [])), reversal)
        if reversal != negated and not _top_up_refund(orig_kind, negated, reversal):
            problems.append(Problem("reversal", f"tx {rev_txid}", "does not exactly undo what it reverses"))
    return problems


_MONEY = frozenset(f"tender.{t.value}" for t in MONEY_TENDERS)


def _through(negated: list[tuple], reversal: list[tuple]) -> list[tuple]:
    """``negated`` with its money entries moved to the one money tender ``reversal`` pays back through, when it
    pays through exactly one (a refund's ``to_tender``: paid by WeChat, handed back in cash): the same amounts."""
    tenders = {a for a, *_rest in reversal if a in _MONEY}
    if len(tenders) != 1:
        return negated
    (tender,) = tenders
    return sorted((tender if a in _MONEY else a, c, u, x) for a, c, u, x in negated)


def _partial_refunds() -> list[Problem]:
    """Each partial refund gives back part of a sale: the money it pays out is its amount, what it says it took
    from the sale's tenders, and what it takes off revenue; the parts of one sale never give back more through a
    tender than the sale took in through it."""
    problems: list[Problem] = []
    partials = _partials()
    if not partials:
        return problems
    entries = _entries_of([p[0] for parts in partials.values() for p in parts])
    sales = {txid: (tx_id, kind) for tx_id, txid, kind in Transaction.select(
        Transaction.id, Transaction.txid, Transaction.kind).where(Transaction.txid.in_(list(partials))).tuples()}
    sale_entries = _entries_of([tx_id for tx_id, _kind in sales.values()])
    for orig_txid, parts in sorted(partials.items()):
        original = sales.get(orig_txid)
        if original is None or original[1] != "checkout":
            problems += [Problem("part", f"tx {txid}", "gives back part of no sale") for _i, txid, _t in parts]
            continue
        paid: dict[str, int] = {}
        for a, _c, _u, x in sale_entries.get(original[0], []):
            if a in _MONEY:
                paid[a.removeprefix("tender.")] = paid.get(a.removeprefix("tender."), 0) - x
        taken: dict[str, int] = {}
        problems += _points_of_parts(original[0], orig_txid, sale_entries.get(original[0], []), parts, entries, paid)
        for tx_id, txid, terms in parts:
            mine = entries.get(tx_id, [])
            out = sum(x for a, _c, _u, x in mine if a in _MONEY)
            revenue = sum(x for a, _c, _u, x in mine if a in ("revenue.sales", "revenue.fees"))
            from_tenders = {str(t): int(fen) for t, fen in (terms.get("from_tenders") or {}).items()}
            amount = int(terms.get("amount_fen") or 0)
            if not 0 < amount == out == -revenue == sum(from_tenders.values()):
                problems.append(Problem("part", f"tx {txid}", f"pays out {out}, takes {-revenue} off revenue and "
                                        f"{sum(from_tenders.values())} off tenders for a part of {amount}"))
            for tender, fen in from_tenders.items():
                taken[tender] = taken.get(tender, 0) + fen
        for tender, fen in sorted(taken.items()):
            if fen > paid.get(tender, 0):
                problems.append(Problem("part", f"tx {orig_txid}", f"its parts gave back {fen} of the "
                                        f"{paid.get(tender, 0)} paid by {tender}"))
    return problems


def _points_of_parts(sale_tx_id: int, sale_txid: str, sale_entries: list[tuple], parts: list[tuple[int, str, dict]],
                     entries: dict[int, list[tuple]], paid: dict[str, int]) -> list[Problem]:
    """The points each part of a sale took back are its share of the points the sale earned on each card, as
    ``refund.part_terms`` works it out (the cumulative floor over the sale's spend or money, whichever is more) —
    never more in all than were earned; and its entries take what its terms record."""

    earned = {c: x for a, c, _u, x in sale_entries if a == "card.points" and c is not None and x > 0}
    problems: list[Problem] = []
    if not earned and not any(x for tx_id, _t, _terms in parts for a, _c, _u, x in entries.get(tx_id, [])
                              if a == "card.points"):
        return problems
    money = sum(paid.values())
    try:
        spend = results.load(Transaction.get_by_id(sale_tx_id).result, of=sale_txid).get("spend_fen")
    except ValueError:  # (a damaged record: said, and the rest of the check goes on)
        return [Problem("part", f"tx {sale_txid}", "its stored record does not read")]
    if spend is None:
        sale = Sale.get_or_none(Sale.transaction == sale_tx_id)
        spend = money_paid_for_sale(sale.id) if sale is not None else money
    of = max(int(spend), money)
    before = 0
    for tx_id, txid, terms in parts:
        amount = int(terms.get("amount_fen") or 0)
        took = {c: -x for a, c, _u, x in entries.get(tx_id, []) if a == "card.points" and c is not None and x}
        expected = {c: share for c, points in earned.items() if (share := share_of_part(points, before, amount, of))}
        recorded = {int(c): int(p) for c, p in (terms.get("points") or {}).items() if p}
        if took != expected or took != recorded:
            problems.append(Problem("part", f"tx {txid}", f"takes back points {took} (its share: {expected}; its "
                                    f"terms say {recorded})"))
        before += amount
    return problems


_BONUS_ACCOUNTS = ("card.bonus", "expense.bonus")


def _top_up_refund(kind: str, negated: list[tuple], reversal: list[tuple]) -> bool:
    """A top-up's refund undoes everything exactly except its bonus, which it takes back only as far as it was
    still on the card (services/refund.py): between none and all of it, card and expense alike."""
    if kind != "topup":
        return False
    if [e for e in reversal if e[0] not in _BONUS_ACCOUNTS] != [e for e in negated if e[0] not in _BONUS_ACCOUNTS]:
        return False
    given = {(a, c): x for a, c, _u, x in negated if a in _BONUS_ACCOUNTS}  # card.bonus −B, expense.bonus +B
    taken = {(a, c): x for a, c, _u, x in reversal if a in _BONUS_ACCOUNTS}
    if set(taken) - set(given):
        return False
    card_key = next((k for k in given if k[0] == "card.bonus"), None)
    if card_key is None:
        return not taken
    removed = taken.get(card_key, 0)
    expense = sum(x for (a, _c), x in taken.items() if a == "expense.bonus")
    return given[card_key] <= removed <= 0 and expense == -removed


def _statuses() -> list[Problem]:
    """What the chain leaves out because a refund changes it is held to the refunds the chain has: a sale is
    refunded, and a visit reversed, exactly when a refund reverses its transaction (the database picks out the rows
    where the two disagree)."""
    problems = []
    for table, done, word in (("sale", "refunded", "sale"), ("visit", "reversed", "visit")):
        for row_id, status, undone in fetch_rows(
                f'SELECT "id", "status", "undone" FROM (SELECT m."id", m."status", EXISTS (SELECT 1 FROM '
                f'"ledger_transaction" r WHERE r."reverses_id" = m."transaction_id") AS "undone" FROM "{table}" m) x '
                'WHERE ("status" = ?) <> "undone" ORDER BY "id"', (done,)):
            problems.append(Problem("status", f"{word} {row_id}", f"is {status} but was "
                                    f"{'' if undone else 'not '}refunded"))
    return problems


def _commissions() -> list[Problem]:
    from mms_tui.models import Commission

    problems = []
    Original = Transaction.alias()
    sale_tx = dict(Sale.select(Sale.id, Sale.transaction).tuples())
    line_sale = dict(SaleLine.select(SaleLine.id, SaleLine.sale).join(Commission, on=(Commission.line == SaleLine.id))
                     .distinct().tuples())
    reverses = dict(Transaction.select(Transaction.id, Original.id)
                    .join(Original, on=(Transaction.reverses == Original.id)).tuples())
    partials = _partials()  # a partial refund takes back its share of the commissions of the sale it refunds
    if partials:
        originals = dict(Transaction.select(Transaction.txid, Transaction.id)
                         .where(Transaction.txid.in_(list(partials))).tuples())
        reverses |= {tx_id: originals.get(txid) for txid, parts in partials.items() for tx_id, _t, _x in parts}
    rows = {r[0]: r for r in Commission.select(
        Commission.id, Commission.transaction, Commission.sale, Commission.line, Commission.staff,
        Commission.share_bp, Commission.base_fen, Commission.rate_bp, Commission.fixed_fen, Commission.units,
        Commission.amount_fen, Commission.rule, Commission.reverses).tuples().iterator()}
    shares: dict[tuple[int, int | None], int] = {}
    back: dict[int, list[int]] = {}
    for cid, tx, sale, line, staff, share, base, rate, fixed, units, amount, rule, rev in rows.values():
        subject = f"commission {cid}"
        if line is not None and line_sale.get(line) != sale:
            problems.append(Problem("commission", subject, f"line {line} is not a line of sale {sale}"))
        if rev is None:
            if sale is not None and sale_tx.get(sale) != tx:
                problems.append(Problem("commission", subject, f"sale {sale} is not its operation's sale"))
            if base < 0 or amount < 0:
                problems.append(Problem("commission", subject, f"earned base {base}, amount {amount} < 0"))
            if rate:
                ok = amount == base * rate // 10_000
            elif fixed:
                ok = abs(amount * 10_000 - fixed * units * share) < 10_000
            else:
                ok = amount == 0 and not rule
            if not ok:
                problems.append(Problem("commission", subject, f"amount {amount} is not what base {base}, rate "
                                        f"{rate} bp, fixed {fixed} × {units} at {share} bp give"))
            shares[(tx, line)] = shares.get((tx, line), 0) + share
            continue
        original = rows.get(rev)
        if original is None or reverses.get(tx) != original[1] or original[3] != line or original[4] != staff:
            problems.append(Problem("commission", subject, "does not take back a row of what its refund reverses"))
            continue
        if base > 0 or amount > 0:
            problems.append(Problem("commission", subject, f"a refund's base {base}, amount {amount} > 0"))
        taken = back.setdefault(rev, [0, 0])
        taken[0] -= base
        taken[1] -= amount
    for rev, (base, amount) in sorted(back.items()):
        if base > rows[rev][6] or amount > rows[rev][10]:
            problems.append(Problem("commission", f"commission {rev}", f"refunds took back base {base}, amount "
                                    f"{amount} of {rows[rev][6]}, {rows[rev][10]}"))
    for (tx, line), total in sorted(shares.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if total != 10_000:
            problems.append(Problem("commission", f"tx {tx}" + (f" line {line}" if line else ""),
                                    f"shares add up to {total} bp, not 10000"))
    return problems


def check_ledger(workers: int | None = 1) -> list[Problem]:
    """Every invariant, in order; an empty list means the books hold. ``workers``: processes that verify the hash
    chains (one per store) at once on a big database, while this one runs the other checks (None: the machine's
    cores, at most :data:`MOST_WORKERS`)."""
    from mms_tui.services.ledger.chain import verify_while

    if workers is None:
        workers = min(MOST_WORKERS, os.cpu_count() or 1)
    broken, found = verify_while(workers, _the_books)
    return [*(found or []),
            *(Problem("chain", f"chain {b.chain}" + (f" link {b.seq}" if b.seq is not None else ""), b.detail)
              if b.chain >= 0 else Problem("chain", "rows", b.detail) for b in broken)]


#: the most helper processes ``mms check`` starts by itself (more cores than that wait on the database)
MOST_WORKERS = 4


def _the_books() -> list[Problem]:
    """Every invariant but the hash chains themselves."""
    from mms_tui.services.ledger.chain import audited_state

    return [*_unbalanced(), *_card_caches(), *_sales(), *_audited(), *_reversals(), *_partial_refunds(), *_statuses(),
            *_commissions(),
            *_stock(), *(Problem("state", text.split(":", 1)[0], text.split(":", 1)[1].strip())
                         for text in audited_state())]


def _stock() -> list[Problem]:
    from mms_tui.models import StockCountLine, StockLevel, StockMove, StockTransfer, StockTransferLine

    problems: list[Problem] = []
    sums = {(store, product): (int(q or 0), int(v or 0)) for store, product, q, v in StockMove.select(
        StockMove.store, StockMove.product, peewee.fn.SUM(StockMove.qty), peewee.fn.SUM(StockMove.value_fen))
        .group_by(StockMove.store, StockMove.product).tuples()}
    for store, product, on_hand, value in StockLevel.select(StockLevel.store, StockLevel.product,
                                                            StockLevel.on_hand, StockLevel.value_fen).tuples():
        subject = f"stock {product}@{store}"
        q, v = sums.pop((store, product), (0, 0))
        if (q, v) != (on_hand, value):
            problems.append(Problem("stock", subject, f"cache {on_hand} / {value} fen ≠ moves {q} / {v} fen"))
        if value < 0 or (on_hand <= 0 and value != 0):
            problems.append(Problem("stock", subject, f"value {value} fen with {on_hand} on hand"))
    problems += [Problem("stock", f"stock {product}@{store}", "moves without a level") for store, product in sums]
    taken: dict[int, dict[int, int]] = {}
    for tx, product, qty in StockMove.select(StockMove.transaction, StockMove.product, StockMove.qty).where(
            StockMove.kind.in_(["sale", "gift", "consume"])).tuples():
        taken.setdefault(tx, {}).setdefault(product, 0)
        taken[tx][product] += qty
    back: dict[int, dict[int, int]] = {}
    reversed_of = dict(Transaction.select(Transaction.id, Transaction.reverses).where(
        Transaction.reverses.is_null(False)).tuples())
    for tx, product, qty in StockMove.select(StockMove.transaction, StockMove.product, StockMove.qty).where(
            StockMove.kind == "refund").tuples():
        back.setdefault(reversed_of.get(tx, -1), {}).setdefault(product, 0)
        back[reversed_of.get(tx, -1)][product] += qty
    for original, products in back.items():
        if {p: -q for p, q in taken.get(original, {}).items()} != products:
            problems.append(Problem("stock", f"tx {original}", "its refund does not put back what it took"))
    moved: dict[tuple[int, str], dict[int, tuple[int, int]]] = {}
    for tx, kind, product, qty, value in StockMove.select(StockMove.transaction, StockMove.kind, StockMove.product,
                                                          StockMove.qty, StockMove.value_fen).where(
            StockMove.kind.in_(["transfer_out", "transfer_in", "count"])).tuples():
        q, v = moved.setdefault((tx, kind), {}).get(product, (0, 0))
        moved[(tx, kind)][product] = (q + qty, v + value)
    lines: dict[int, dict[int, tuple[int, int]]] = {}
    for transfer, product, qty, value in StockTransferLine.select(
            StockTransferLine.transfer, StockTransferLine.product, StockTransferLine.qty,
            StockTransferLine.value_fen).tuples():
        lines.setdefault(transfer, {})[product] = (qty, value)
    for t in StockTransfer.select():
        sent = {p: (-q, -v) for p, (q, v) in moved.get((t.sent_id, "transfer_out"), {}).items()}
        if sent != lines.get(t.id, {}):
            problems.append(Problem("stock", f"transfer {t.id}", "its lines are not what left the sending store"))
        if t.status == "received":
            came = {p: q for p, (q, _v) in moved.get((t.received_id, "transfer_in"), {}).items()}
            if came != {p: q for p, (q, _v) in lines.get(t.id, {}).items()}:
                problems.append(Problem("stock", f"transfer {t.id}", "what came in is not its lines"))
    from mms_tui.models import StockCount

    for count_id, tx in StockCount.select(StockCount.id, StockCount.posted).where(
            StockCount.status == "posted").tuples():
        want = {p: c - e for p, c, e in StockCountLine.select(StockCountLine.product, StockCountLine.counted,
                                                               StockCountLine.expected)
                .where(StockCountLine.count == count_id).tuples() if c != e}
        got = {p: q for p, (q, _v) in moved.get((tx, "count"), {}).items()}
        if want != got:
            problems.append(Problem("stock", f"count {count_id}", "its moves are not counted − expected"))
    return problems


def check_anchors(kept: dict) -> list[Problem]:
    """Kept chain heads (``mms check --anchor``, saved elsewhere) still stand in their chains."""
    from mms_tui.services.ledger.chain import check_anchors as anchors

    return [Problem("anchor", f"chain {b.chain}" + (f" link {b.seq}" if b.seq is not None else ""), b.detail)
            for b in anchors(kept)]

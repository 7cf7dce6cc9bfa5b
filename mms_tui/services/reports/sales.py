"""Reports of money taken: turnover by tender and category, top-ups, staff, products, and shifts (交班)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.i18n import _
from mms_tui.models import (
    Entry,
    Payment,
    Product,
    Sale,
    SaleLine,
    ServiceItem,
    Staff,
    Transaction,
)
from mms_tui.services.base.resolve import as_date
from mms_tui.services.ledger import results
from mms_tui.services.reports.period import TENDER_COLUMNS, Period, Row, bucket, count_if, sum_if


def _categories() -> list[str]:
    """The categories a sale line is likely to carry: the catalogue's, and none ("")."""
    found = {c for (c,) in Product.select(Product.category).distinct().tuples()}
    found |= {c for (c,) in ServiceItem.select(ServiceItem.category).distinct().tuples()}
    return sorted(found | {""})


def turnover(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales per day (week, month) by tender and by category (one ``<category>_fen`` column each, after the
    tenders); a refund counts, negatively, on the day it was made.

    A sale is always its checkout's transaction, so the sales are the period's checkout transactions; tenders and
    the catalogue's categories are columns of one pass each (a line of a category the catalogue no longer has
    takes a second, sorted pass). Refunds are few and are summed per day and tender or category directly.
    """
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    categories: set[str] = set()
    day = Transaction.local_day
    sold = p.kind_filter("checkout")

    def add_category(r: dict[str, int], category: str, amount: object, sign: int = 1) -> None:
        category = category or _("uncategorised")
        categories.add(category)
        r[f"category:{category}"] += sign * int(amount)  # type: ignore[call-overload]

    for created, count, total in (
        Sale.select(day, peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .join(Transaction).where(sold).group_by(day).tuples()
    ):
        r = rows[bucket(as_date(created), by)]
        r["sales"] += int(count)
        r["sales_fen"] += int(total)
    for created, *amounts in (
        Payment.select(day, *[sum_if(Payment.tender == t, Payment.amount_fen) for t in TENDER_COLUMNS])
        .join(Sale).join(Transaction).where(sold).group_by(day).tuples()
    ):
        r = rows[bucket(as_date(created), by)]
        for tender, amount in zip(TENDER_COLUMNS, amounts, strict=True):
            r[f"{tender}_fen"] += int(amount or 0)
    known = _categories()
    others = False
    for created, *amounts, unknown in (
        SaleLine.select(day, *[sum_if(SaleLine.category == c, SaleLine.line_total_fen) for c in known],
                        count_if(SaleLine.category.not_in(known)))
        .join(Sale).join(Transaction).where(sold).group_by(day).tuples()
    ):
        r = rows[bucket(as_date(created), by)]
        for category, amount in zip(known, amounts, strict=True):
            if amount is not None:  # NULL: no line of it that day
                add_category(r, category, amount)
        others = others or bool(unknown)
    if others:
        for created, category, amount in (
            SaleLine.select(day, SaleLine.category, peewee.fn.SUM(SaleLine.line_total_fen))
            .join(Sale).join(Transaction).where(sold & SaleLine.category.not_in(known))
            .group_by(day, SaleLine.category).tuples()
        ):
            add_category(rows[bucket(as_date(created), by)], category, amount)
    refunded = p.kind_filter("refund")
    gives_back = Sale.transaction == Transaction.reverses  # the refund's original sale
    for created, count, total in (
        Transaction.select(day, peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .join(Sale, on=gives_back).where(refunded).group_by(day).tuples()
    ):
        r = rows[bucket(as_date(created), by)]
        r["refunds"] += int(count)
        r["refunds_fen"] += int(total)
    for created, tender, amount in (
        Transaction.select(day, Payment.tender, peewee.fn.SUM(Payment.amount_fen))
        .join(Sale, on=gives_back).join(Payment, on=(Payment.sale == Sale.id))
        .where(refunded).group_by(day, Payment.tender).tuples()
    ):
        rows[bucket(as_date(created), by)][f"{tender}_fen"] -= int(amount)
    for created, category, amount in (
        Transaction.select(day, SaleLine.category, peewee.fn.SUM(SaleLine.line_total_fen))
        .join(Sale, on=gives_back).join(SaleLine, on=(SaleLine.sale == Sale.id))
        .where(refunded).group_by(day, SaleLine.category).tuples()
    ):
        add_category(rows[bucket(as_date(created), by)], category, amount, -1)
    for created, _store, count, fen, tenders, by_category in partial_refund_moves(p, Transaction.local_day):
        r = rows[bucket(as_date(created), by)]
        r["refunds"] += count
        r["refunds_fen"] += fen
        for tender, amount in tenders.items():
            r[f"{tender}_fen"] -= amount
        for category, amount in by_category.items():
            add_category(r, category, amount, -1)
    for key in sorted(rows):
        r = rows[key]
        yield {
            "period": key,
            "sale_count": r["sales"],
            "sales_fen": r["sales_fen"],
            "refund_count": r["refunds"],
            "refunds_fen": r["refunds_fen"],
            "net_fen": r["sales_fen"] - r["refunds_fen"],
            **{f"{t}_fen": r[f"{t}_fen"] for t in TENDER_COLUMNS},
            **{f"{c}_fen": r[f"category:{c}"] for c in sorted(categories)},
        }


def partial_refund_moves(p: Period, by: peewee.Node
                         ) -> Iterator[tuple[object, int | None, int, int, dict[str, int], dict[str, int]]]:
    """What partial refunds (部分退款) change in the period's turnover, grouped by nothing but yielded one by one
    (they are few): (by, store, refunds, fen given back, fen per tender of the sale, fen per category). A partial
    refund in the period counts as a refund of its amount, off the tenders it came from and the categories of its
    lines; a whole refund in the period of a sale refunded in part before counted the whole sale, so the parts
    it did not give again are counted back (no refund, a negative amount)."""
    parts: dict[str, list[dict]] = defaultdict(list)
    for txid, result in (Transaction.select(Transaction.txid, Transaction.result)
                         .where(Transaction.kind == "refund_part").tuples()):
        stored = results.load(result, of=txid)
        parts[str(stored.get("reversed_txid"))].append(stored.get("part") or {})
    if not parts:
        return
    for created, store, txid, result in (Transaction.select(by, Transaction.store, Transaction.txid, Transaction.result)
                                         .where(p.kind_filter("refund_part")).tuples()):
        part = results.load(result, of=txid).get("part") or {}
        yield (created, store, 1, int(part.get("amount_fen", 0)), dict(part.get("from_tenders") or {}),
               dict(part.get("categories") or {}))
    Original = Transaction.alias()
    for created, store, txid in (Transaction.select(by, Transaction.store, Original.txid)
                                 .join(Original, on=(Transaction.reverses == Original.id))
                                 .where(p.kind_filter("refund") & Original.txid.in_(list(parts))).tuples()):
        tenders: dict[str, int] = defaultdict(int)
        categories: dict[str, int] = defaultdict(int)
        for part in parts[txid]:
            for tender, fen in (part.get("from_tenders") or {}).items():
                tenders[tender] -= int(fen)
            for category, fen in (part.get("categories") or {}).items():
                categories[category] -= int(fen)
        yield created, store, 0, -sum(int(x.get("amount_fen", 0)) for x in parts[txid]), tenders, categories


def topup_totals(p: Period, by: peewee.Node) -> peewee.ModelSelect:
    """The period's top-ups and their refunds grouped by ``by`` (the day, the store), their kind and tender:
    (by, kind, tender account, transactions, principal, bonus)."""
    Original = Transaction.alias()
    Tender = Entry.alias()  # a top-up's one tender entry says how it was paid
    return (
        Transaction.select(by, Transaction.kind, Tender.account, peewee.fn.COUNT(peewee.fn.DISTINCT(Transaction.id)),
                           sum_if(Entry.account == "card.principal", Entry.amount),
                           sum_if(Entry.account == "card.bonus", Entry.amount))
        .join(Tender, on=((Tender.transaction == Transaction.id) & Tender.account.startswith("tender.")))
        .join(Entry, on=(Entry.transaction == Transaction.id))
        .join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
        # a reversal is always a refund's
        .where(p.kind_filter("topup", "refund") & ((Transaction.kind == "topup") | (Original.kind == "topup")))
        .group_by(by, Transaction.kind, Tender.account)
        .tuples()
    )


def topups(p: Period, by: str = "day") -> Iterator[Row]:
    """Top-ups and bonus value given, per day and tender (refunded top-ups count negatively on their refund day)."""
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = topup_totals(p, Transaction.local_day)
    for created, kind, tender, count, principal, bonus in query:
        r = rows[(bucket(as_date(created), by), tender.removeprefix("tender."))]
        r["topups"] += int(count) if kind == "topup" else -int(count)
        r["principal_fen"] += int(principal or 0)
        r["bonus_fen"] += int(bonus or 0)
    for (key, tender) in sorted(rows):
        r = rows[(key, tender)]
        yield {"period": key, "tender": tender, "topup_count": r["topups"], "principal_fen": r["principal_fen"],
               "bonus_fen": r["bonus_fen"]}


def parts_given_back() -> dict[str, int]:
    """Sale txid → the money its partial refunds (部分退款) gave back, all of them (they are few: read whole)."""
    given: dict[str, int] = defaultdict(int)
    for txid, result in (Transaction.select(Transaction.txid, Transaction.result)
                         .where(Transaction.kind == "refund_part").tuples()):
        stored = results.load(result, of=txid)
        given[str(stored.get("reversed_txid"))] += int((stored.get("part") or {}).get("amount_fen", 0))
    return given


def given_back_in_part(p: Period) -> dict[int, int]:
    """Sale line id → what partial refunds (部分退款) gave back of it, for the period's paid sales (see
    :func:`lines_given_back_of`). Like a whole refund, which leaves its sale out of these reports, a part is taken off
    its sale whenever it was made."""
    given = parts_given_back()
    if not given:
        return {}
    sales = (Sale.select(Sale.id, Transaction.txid).join(Transaction)
             .where(p.kind_filter("checkout") & (Sale.status == "paid") & Transaction.txid.in_(list(given))).tuples())
    return lines_given_back_of(dict(sales), given)


def lines_given_back_of(sales: dict[int, str], given: dict[str, int]) -> dict[int, int]:
    """Sale line id → what the partial refunds of ``sales`` (sale id → its txid) gave back of it: each sale's parts
    together (``given``: :func:`parts_given_back`) spread over its lines by their totals, as ``refund.part_terms``
    spreads them one part after another (cumulatively, so the sum of the parts' shares is the share of their sum)."""
    from mms_tui.services.money.commissions import allocate

    back: dict[int, int] = {}
    for sale_id, txid in sales.items():
        lines = list(SaleLine.select(SaleLine.id, SaleLine.line_total_fen).where(SaleLine.sale == sale_id)
                     .order_by(SaleLine.id).tuples())
        for (line_id, _total), fen in zip(lines, allocate(given.get(txid, 0), [max(t, 0) for _i, t in lines]),
                                          strict=True):
            if fen:
                back[line_id] = fen
    return back


def part_line_shares(part_tx_ids: set[int]) -> dict[int, dict[int, int]]:
    """Partial refund transaction id → {sale line id: fen it gave back of that line}, for the parts asked: each
    part's amount over its sale's lines by their totals, after the sale's earlier parts — the spread
    ``refund.part_terms`` made (``allocate`` up to the parts before and up to this one)."""
    if not part_tx_ids:
        return {}
    from mms_tui.services.money.commissions import allocate

    of_sale: dict[str, list[tuple[int, int]]] = defaultdict(list)  # sale txid → (part tx id, amount), in order
    for tx_id, txid, result in (Transaction.select(Transaction.id, Transaction.txid, Transaction.result)
                                .where(Transaction.kind == "refund_part").order_by(Transaction.id).tuples()):
        stored = results.load(result, of=txid)
        of_sale[str(stored.get("reversed_txid"))].append(
            (tx_id, int((stored.get("part") or {}).get("amount_fen", 0))))
    wanted = [txid for txid, parts in of_sale.items() if any(tx_id in part_tx_ids for tx_id, _a in parts)]
    shares: dict[int, dict[int, int]] = {}
    for sale_id, txid in (Sale.select(Sale.id, Transaction.txid).join(Transaction)
                          .where(Transaction.txid.in_(wanted)).tuples()):
        lines = list(SaleLine.select(SaleLine.id, SaleLine.line_total_fen).where(SaleLine.sale == sale_id)
                     .order_by(SaleLine.id).tuples())
        weights = [max(total, 0) for _i, total in lines]
        before = 0
        for tx_id, amount in of_sale[txid]:
            was, upto = allocate(before, weights), allocate(before + amount, weights)
            if tx_id in part_tx_ids:
                shares[tx_id] = {line_id: b - a for (line_id, _t), a, b in zip(lines, was, upto, strict=True)}
            before += amount
    return shares


def _lines_given_back(p: Period, *fields: peewee.Node) -> Iterator[tuple]:
    """(``fields``…, fen given back in part) for each sale line of the period a partial refund gave money back of."""
    back = given_back_in_part(p)
    ids = list(back)
    for chunk in range(0, len(ids), 500):
        for line_id, *values in (SaleLine.select(SaleLine.id, *fields).join(Sale).switch(Sale).join(Staff)
                                 .where(SaleLine.id.in_(ids[chunk:chunk + 500])).tuples()):
            yield (*values, back[line_id])


def staff(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales and services per staff member (refunded sales left out, partial refunds taken off)."""
    query = (
        SaleLine.select(Staff.code, Staff.name, SaleLine.service.is_null(False), peewee.fn.SUM(SaleLine.qty),
                        peewee.fn.SUM(SaleLine.line_total_fen), peewee.fn.COUNT(peewee.fn.DISTINCT(Sale.id)))
        .join(Sale).join(Transaction).switch(Sale).join(Staff)
        .where(p.kind_filter("checkout") & (Sale.status == "paid"))
        .group_by(Staff.code, Staff.name, SaleLine.service.is_null(False))
        .tuples()
    )
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, name, is_service, qty, total, sales in query:
        r = rows[(code, name)]
        r["sales"] = max(r["sales"], int(sales))
        r["services" if is_service else "products"] += int(qty)
        r["revenue_fen"] += int(total)
    for code, name, fen in _lines_given_back(p, Staff.code, Staff.name):
        rows[(code, name)]["revenue_fen"] -= fen
    for (code, name), r in sorted(rows.items(), key=lambda kv: (-kv[1]["revenue_fen"], kv[0])):
        yield {"staff": code, "name": name, "services": r["services"], "products": r["products"],
               "revenue_fen": r["revenue_fen"]}


def products(p: Period, by: str = "day") -> Iterator[Row]:
    """Best sellers and services by revenue (refunded sales left out, partial refunds taken off)."""
    is_service = SaleLine.service.is_null(False)
    revenue = peewee.fn.SUM(SaleLine.line_total_fen)
    query = (
        SaleLine.select(SaleLine.code, SaleLine.name, SaleLine.category, is_service, peewee.fn.SUM(SaleLine.qty),
                        revenue)
        .join(Sale).join(Transaction)
        .where(p.kind_filter("checkout") & (Sale.status == "paid"))
        .group_by(SaleLine.code, SaleLine.name, SaleLine.category, is_service)
        .order_by(revenue.desc(), SaleLine.code, SaleLine.name, SaleLine.category, is_service)
        .tuples()
    )
    rows = {(code, name, category, bool(service)): [int(qty), int(total)]
            for code, name, category, service, qty, total in query}
    for code, name, category, service, fen in _lines_given_back(p, SaleLine.code, SaleLine.name, SaleLine.category,
                                                                 is_service):
        rows.setdefault((code, name, category, bool(service)), [0, 0])[1] -= fen  # (a sale made between the reads)
    # by revenue after the parts; a tie keeps the database's order (sorted is stable)
    for (code, name, category, service), (qty, total) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        yield {"code": code, "name": name, "category": category, "kind": "service" if service else "product",
               "qty": qty, "revenue_fen": total}


def shifts(p: Period, by: str = "day") -> Iterator[Row]:
    """Shifts opened in the period, oldest first: who, when, the money per tender the ledger says the drawer took,
    and at close the cash expected (with the float), counted, and over (+) or short (−) over all tenders."""
    from mms_tui.models import Shift
    from mms_tui.services.ledger.tenders import MONEY_TENDERS
    from mms_tui.services.money.shifts import shift_summary

    query = p.of_stores(Shift.select().where(p.during(Shift.opened_at, Shift.store)),
                        Shift.store)
    for shift in query.order_by(Shift.opened_at, Shift.id):
        summary = shift_summary(shift)
        net = summary.net
        yield {"store": summary.store_code, "staff": summary.staff_code, "name": summary.staff_name,
               "opened_at": summary.opened_at, "closed_at": summary.closed_at or "",
               **{f"{t}_fen": net[t] for t in MONEY_TENDERS}, "float_fen": summary.float_fen,
               "cash_expected_fen": summary.expected.get("cash", 0),
               "cash_counted_fen": summary.counted.get("cash") if summary.closed else None,
               "over_short_fen": summary.over_short_fen if summary.closed else None}

"""Tamper evidence (#15): edits made straight to the database, behind the services' back, are caught by mms check.

Each attack the issue names is made by hand and caught; then 1,000 random single-row edits and deletions of a demo
database's protected rows, each caught (deletions of the newest rows against an anchor taken before them).
"""

from __future__ import annotations

import json
import random

import pytest

from mms_tui.db import database, write_transaction
from mms_tui.models import AuditEvent, Card, ChainHead, ChainLink, Entry, Payment, Sale, Staff, Transaction
from mms_tui.services.ledger.chain import heads
from mms_tui.services.ledger.check import check_anchors, check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.topup import top_up


@pytest.fixture
def books(desk):
    """A member with a stored-value card, a top-up, a sale; the books hold."""
    m = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    card = issue_card(m, "SV", desk.cashier, "i1", card_no="SV1").card_id
    top_up(card, 100_000, None, "cash", desk.cashier, "t1")
    checkout(m, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1")
    assert check_ledger() == []
    desk.card_id = card
    return desk


def problems() -> list[str]:
    return [str(p) for p in check_ledger()]


def test_a_rewritten_or_deleted_audit_row_is_caught(books):
    AuditEvent.update(action="card.issue_free").where(AuditEvent.action == "card.issue").execute()
    assert any("audit row" in p for p in problems())


def test_a_deleted_audit_row_is_caught(books):
    AuditEvent.delete().where(AuditEvent.action == "card.issue").execute()
    assert any("audit" in p for p in problems())


@pytest.mark.parametrize("edit", [{"action": "card.top_up_small"}, {"payload": '{"amount_fen": 1}'},
                                  {"subject": "card:999"}])
def test_a_rewritten_event_kept_on_its_transaction_is_caught(books, edit):
    """A top-up's audit event is kept on its transaction (migration 30), chained with it: an edit of it is one of
    the transaction."""
    assert Transaction.get(Transaction.txid == "t1").action == "card.top_up"
    Transaction.update(**edit).where(Transaction.txid == "t1").execute()
    assert any("tx row" in p for p in problems())


def test_an_event_kept_on_its_transaction_erased_is_caught(books):
    Transaction.update(action=None, subject=None, payload=None).where(Transaction.txid == "s1").execute()
    found = problems()
    assert any("tx row" in p for p in found) and any("no audit event" in p for p in found), found


def test_a_changed_staff_or_date_of_a_transaction_is_caught(books):
    Transaction.update(staff=books.manager.id).where(Transaction.txid == "s1").execute()
    assert any("tx row" in p for p in problems())


def test_a_balanced_edit_with_the_card_fixed_to_match_is_caught(books):
    tx = Transaction.get(Transaction.txid == "t1")
    Entry.update(amount=Entry.amount + 1_000_000).where((Entry.transaction == tx) & (Entry.account == "card.principal")
                                                       ).execute()
    Entry.update(amount=Entry.amount - 1_000_000).where((Entry.transaction == tx) & (Entry.account == "tender.cash")
                                                       ).execute()
    Card.update(principal_fen=Card.principal_fen + 1_000_000).where(Card.id == books.card_id).execute()
    found = problems()
    assert found and all("unbalanced" not in p and "cache" not in p for p in found)  # only the chain sees it
    assert any("tx row" in p for p in found)


def test_a_whole_top_up_deleted_with_its_entries_is_caught(books):
    tx = Transaction.get(Transaction.txid == "t1")
    card = Card.get_by_id(books.card_id)
    Entry.delete().where(Entry.transaction == tx).execute()
    AuditEvent.delete().where(AuditEvent.txid == "t1").execute()
    ChainLink.delete().where((ChainLink.kind == "tx") & (ChainLink.ref == tx.id)).execute()
    Transaction.delete().where(Transaction.id == tx.id).execute()
    Card.update(principal_fen=card.principal_fen - 100_000, bonus_fen=card.bonus_fen - 20_000).where(
        Card.id == card.id).execute()
    assert any("chain" in p for p in problems())


def test_a_changed_sale_tender_is_caught(books):
    Payment.update(tender="wechat").execute()
    assert any("tx row" in p for p in problems())


def test_a_cashier_made_admin_or_given_a_known_pin_is_caught(books):
    Staff.update(role="admin").where(Staff.code == "c01").execute()
    assert any("staff c01: role changed" in p for p in problems())
    Staff.update(role="cashier", pin_hash=Staff.get(Staff.code == "admin").pin_hash).where(
        Staff.code == "c01").execute()
    assert any("staff c01: pin changed" in p for p in problems())


def test_newest_rows_cut_off_with_their_links_are_caught_against_an_anchor(books, run):
    kept = json.loads(run("--db", books.target, "check", "--anchor").output)
    top_up(books.card_id, 5_000, None, "cash", books.cashier, "t-late")  # after the anchor: fine
    assert check_anchors(kept) == [] and check_ledger() == []
    # cut the sale s1 (older than the anchor) off the end, links and all, and wind its chain's head back
    for txid in ("t-late", "s1"):
        tx = Transaction.get(Transaction.txid == txid)
        for event in AuditEvent.select().where(AuditEvent.txid == txid):
            ChainLink.delete().where((ChainLink.kind == "audit") & (ChainLink.ref == event.id)).execute()
            event.delete_instance()
        ChainLink.delete().where((ChainLink.kind.in_(("tx", "op"))) & (ChainLink.ref == tx.id)).execute()
        sale = Sale.get_or_none(Sale.transaction == tx)
        if sale is not None:
            database.execute_sql('DELETE FROM "payment" WHERE "sale_id" = ?'.replace("?", database.param), (sale.id,))
            database.execute_sql('DELETE FROM "sale_line" WHERE "sale_id" = ?'.replace("?", database.param),
                                 (sale.id,))
            sale.delete_instance()
        Entry.delete().where(Entry.transaction == tx).execute()
        tx.delete_instance()
    chain = str(books.store.id)
    last = ChainLink.select().where(ChainLink.chain == int(chain)).order_by(ChainLink.seq.desc()).first()
    ChainHead.update(seq=last.seq, digest=last.digest).where(ChainHead.chain == int(chain)).execute()
    with write_transaction():  # the card made to match, so only the anchor can tell
        card = Card.get_by_id(books.card_id)
        total = {a: 0 for a in ("card.principal", "card.bonus", "card.points")}
        for e in Entry.select().where(Entry.card == card.id):
            total[e.account] = total.get(e.account, 0) + e.amount
        Card.update(principal_fen=total["card.principal"], bonus_fen=total["card.bonus"],
                    points=total["card.points"]).where(Card.id == card.id).execute()
    assert [p for p in check_ledger() if p.rule != "audit"] == []  # the chains alone hold…
    assert check_anchors(kept)  # …but not against the heads kept before
    against = run("--db", books.target, "check", "--against", "-", input=json.dumps(kept))
    assert against.exit_code == 1 and "anchor" in against.output


# --- 1,000 random edits -------------------------------------------------------------------------------------------

#: table → columns a random edit may change (the id stays; what the chain leaves out by design — replay results,
#: personal fields inside audit payloads — is not in this list, and neither are the columns that legitimately
#: change through the services without an event: login counters, card statuses and dates)
PROTECTED = {
    "ledger_transaction": ["txid", "kind", "staff_id", "store_id", "member_id", "created_at", "reverses_id",
                           "request_hash", "note", "action"],
    "ledger_entry": ["transaction_id", "account", "card_id", "unit", "amount"],
    "sale": ["transaction_id", "member_id", "store_id", "staff_id", "created_at", "subtotal_fen", "discount_fen",
             "total_fen", "change_fen", "points_earned", "status"],
    "sale_line": ["sale_id", "code", "name", "category", "qty", "list_price_fen", "unit_price_fen", "line_total_fen",
                  "discount_reason"],
    "payment": ["sale_id", "tender", "amount_fen", "card_id", "principal_fen", "bonus_fen", "points"],
    "visit": ["transaction_id", "member_id", "card_id", "store_id", "staff_id", "created_at", "status"],
    "audit_event": ["created_at", "staff_id", "store_id", "action", "subject", "txid", "payload"],
    "staff": ["code", "role", "active", "store_id", "pin_hash"],
    "card": ["principal_fen", "bonus_fen", "points", "visits_left"],
    "chain_link": ["chain", "seq", "kind", "ref", "digest"],
    "chain_head": ["seq", "digest"],
}
DELETABLE = ["ledger_transaction", "ledger_entry", "sale", "sale_line", "payment", "visit", "audit_event",
             "chain_link"]


def _changed(value, rng: random.Random, column: str, ids: dict[str, list[int]]):
    """A different value of the same kind."""
    if column == "role":
        return {"cashier": "admin", "manager": "admin", "admin": "cashier"}[value]
    if column == "status":
        return {"paid": "refunded", "refunded": "paid", "ok": "reversed", "reversed": "ok"}[value]
    if column == "unit":
        return {"fen": "pt", "pt": "visit", "visit": "fen"}[value]
    if column == "active":
        return not value
    if value is None:
        return rng.choice(ids.get(column, [1]))
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 100, -100])
    if isinstance(value, bytes | memoryview):  # a digest or fingerprint: one bit of one byte
        value = bytes(value)
        at = rng.randrange(len(value)) if value else 0
        return value[:at] + bytes([value[at] ^ 1]) + value[at + 1:] if value else b"x"
    text = str(value)
    if column == "created_at":
        return text[:-1] + ("1" if text[-1] != "1" else "2")
    return text + "x" if rng.random() < 0.5 else ("y" + text[1:] if text[:1] != "y" else "z" + text[1:])


@pytest.mark.slow
def test_a_thousand_random_edits_and_deletions_are_each_caught(sqlite_target):
    from mms_tui.services.ops.demo import seed_demo
    from mms_tui.services.ops.setup import connect, initialise

    connect(sqlite_target)
    initialise(admin_code="admin", admin_pin="1234")
    seed_demo(12, seed=3, days=40)
    assert check_ledger() == []
    kept = heads()
    rng = random.Random(15)
    param = database.param
    rows = {table: [r[0] for r in database.execute_sql(
        f'SELECT "{"chain" if table == "chain_head" else "id"}" FROM "{table}"').fetchall()] for table in PROTECTED}
    ids = {"staff_id": rows["staff"], "member_id": [r[0] for r in database.execute_sql('SELECT "id" FROM "member"')],
           "store_id": [r[0] for r in database.execute_sql('SELECT "id" FROM "store"')],
           "reverses_id": rows["ledger_transaction"], "card_id": rows["card"], "sale_id": rows["sale"],
           "transaction_id": rows["ledger_transaction"]}
    missed: list[str] = []
    trials = 0
    while trials < 1_000:
        delete = rng.random() < 0.25
        table = rng.choice(DELETABLE if delete else list(PROTECTED))
        key = "chain" if table == "chain_head" else "id"
        newest = delete and rng.random() < 0.3  # the newest row of the table: only the anchor may tell
        row_id = max(rows[table]) if newest else rng.choice(rows[table])
        database.execute_sql("BEGIN")
        try:
            if delete:
                what = f"delete {table} {row_id}"
                try:
                    database.execute_sql(f'DELETE FROM "{table}" WHERE "{key}" = {param}', (row_id,))
                except Exception:  # a foreign key keeps it: not an edit anyone can make
                    continue
            else:
                column = rng.choice(PROTECTED[table])
                (value,) = database.execute_sql(f'SELECT "{column}" FROM "{table}" WHERE "{key}" = {param}',
                                                (row_id,)).fetchone()
                new = _changed(value, rng, column, ids)
                what = f"{table} {row_id} {column}: {value!r} -> {new!r}"
                try:
                    database.execute_sql(f'UPDATE "{table}" SET "{column}" = {param} WHERE "{key}" = {param}',
                                         (new, row_id))
                except Exception:  # a constraint refuses it: the database itself guards this one
                    continue
            trials += 1
            if not check_ledger() and not check_anchors(kept):
                missed.append(what)
        finally:
            database.execute_sql("ROLLBACK")
    assert missed == [], missed[:20]
    assert check_ledger() == []


def test_a_card_type_tier_or_catalogue_price_changed_behind_the_services_is_caught(books, tmp_path):
    from mms_tui.models import CardType, Product, Tier
    from mms_tui.services.exchange.importing import import_file

    catalogue = tmp_path / "products.csv"
    catalogue.write_text("编码,名称,类型,售价\nTEA,绿茶,商品,6\n", encoding="utf-8")
    import_file("products", catalogue)
    assert check_ledger() == []
    CardType.update(price_fen=1).where(CardType.code == "V10").execute()
    Tier.update(rank=9).where(Tier.code == "GOLD").execute()
    Product.update(price_fen=1).where(Product.code == "TEA").execute()
    found = problems()
    for expected in ("card_type", "tier", "product"):
        assert any(p.startswith(f"state: {expected}") and "changed without an audited event" in p for p in found), (
            expected, found)


def _rules(found) -> set[tuple[str, str]]:
    return {(p.rule, p.subject) for p in found if p.rule != "chain"}


def test_each_rule_of_the_books_names_what_breaks_it(books):
    """The database picks out the suspect rows (#24: a grouped pass each, nothing else leaves it): each rule still
    names exactly the card, sale, transaction or row it is about."""
    from mms_tui.models import SaleLine, Visit
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.money.refund import refund

    visits = issue_card(Card.get_by_id(books.card_id).member_id, "V10", books.cashier, "i2", card_no="V1").card_id
    check_in(visits, books.cashier, "c1")
    refund("c1", books.manager, "wrong card", "u1")
    assert check_ledger() == []
    sale = Sale.get()
    visit = Visit.get()
    top_up_id = Transaction.get(Transaction.txid == "t1").id
    cases = [
        (lambda: Entry.update(amount=Entry.amount + 1).where(Entry.transaction == top_up_id, Entry.card.is_null())
         .execute(), {("unbalanced", "tx t1")}),
        (lambda: Card.update(bonus_fen=Card.bonus_fen + 5).where(Card.id == books.card_id).execute(),
         {("cache", "card SV1")}),  # (a negative cache the database's own CHECK refuses)
        (lambda: Entry.update(account="card.gold").where(Entry.transaction == top_up_id,
                                                          Entry.account == "card.principal").execute(),
         {("account", "card SV1"), ("cache", "card SV1")}),
        (lambda: SaleLine.update(line_total_fen=SaleLine.line_total_fen + 100).execute(),
         {("sale", f"sale {sale.id}")}),
        (lambda: Payment.update(amount_fen=Payment.amount_fen - 100).execute(), {("sale", f"sale {sale.id}")}),
        (lambda: Sale.update(status="refunded").execute(), {("status", f"sale {sale.id}")}),
        (lambda: Visit.update(status="done").execute(), {("status", f"visit {visit.id}")}),
        (lambda: Entry.update(amount=Entry.amount * 2).where(
            Entry.transaction == Transaction.get(Transaction.txid == "u1").id).execute(),
         {("reversal", "tx u1"), ("cache", "card V1")}),
    ]
    for tamper, expected in cases:
        with database.atomic() as held:
            tamper()
            assert _rules(check_ledger()) == expected, expected
            held.rollback()
        assert check_ledger() == []


def test_helper_processes_verifying_the_chains_find_what_one_process_finds(books, run, monkeypatch):
    """A chain's mms check verifies each store's chain in a helper process of its own (issue #24): the same answer,
    a tampered row named the same way, on SQLite and on PostgreSQL."""
    from mms_tui.services.ledger import chain
    from mms_tui.services.staff.stores import add_store

    add_store("B2", "分店", books.admin)
    m = register_member("李四", "13800138001", books.cashier, "r2").member_id
    card = issue_card(m, "SV", books.cashier, "i2", card_no="SV2", store="B2").card_id
    top_up(card, 50_000, None, "cash", books.cashier, "t2", store="B2")
    monkeypatch.setattr(chain, "PARALLEL_FROM", 0)
    answers: list = []  # what the helpers answered (None: they could not, and the check did it alone)
    helpers = chain._verify_in_helpers
    monkeypatch.setattr(chain, "_verify_in_helpers", lambda *args: answers.append(helpers(*args)) or answers[-1])
    assert len({c for (c,) in database.execute_sql('SELECT DISTINCT "chain" FROM "chain_link"')}) >= 2
    assert chain.verify(workers=2) == [] and check_ledger(workers=2) == []
    Transaction.update(staff=books.manager.id).where(Transaction.txid == "t2").execute()
    alone = chain.verify()
    assert alone and chain.verify(workers=2) == alone
    result = run("--db", books.target, "check", "--jobs", "2")
    assert result.exit_code == 1 and "tx row" in result.output
    assert len(answers) == 4 and all(broken is not None for broken, _result, _ran in answers)

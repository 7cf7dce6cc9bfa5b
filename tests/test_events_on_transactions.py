"""An operation's own audit event kept on its transaction (issue #27, migration 30).

A sale's, a check-in's and a top-up's audit event (``FOLDED_ACTIONS``: 1.46 million of the 1.56 million events at
a million members) repeated its transaction's moment, staff, store and txid in a row of its own, with six index
entries and a link of its own on the chain. The desk now keeps it on the transaction (``action``, ``subject``,
``payload``), chained with it by one ``op`` link; migration 30 moves the events already written, each link keeping its
place and digest. Every reader of the audit — the audit list, a member's data export, erasure, ``mms check`` — reads
both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from mms_tui import clock
from mms_tui.db import database, write_transaction
from mms_tui.models import AuditEvent, Card, ChainLink, Staff, Transaction
from mms_tui.models.ledger import FOLDED_ACTIONS
from mms_tui.models.migrations import LATEST, migrate
from mms_tui.services.exchange.member_document import member_document
from mms_tui.services.ledger.chain import heads, rechain, verify
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.audit import audit_events
from tests.test_compact_storage import _state, events_as_schema_29_kept_them

#: the top-up's audit event in the fixture: ¥1000 in cash, with ¥200 bonus (the rules' own)
TOP_UP = {"amount_fen": 100_000, "bonus_fen": 20_000, "rule_bonus_fen": 20_000, "tender": "cash"}


@dataclasses.dataclass
class Shop:
    desk: object
    member: int
    card: int
    package: str
    made: dict


def _links() -> list[tuple]:
    return [(c, s, k, r, bytes(d)) for c, s, k, r, d in database.execute_sql(
        'SELECT "chain", "seq", "kind", "ref", "digest" FROM "chain_link" ORDER BY 1, 2').fetchall()]


@pytest.fixture
def shop(desk, today):
    """A member with a stored-value card and a 10-visit package; a top-up, a sale and a check-in, a minute apart."""
    at = dt.datetime.combine(today, dt.time(9, 0))
    with clock.pinned(at):
        member = register_member("张三", "13800138000", desk.cashier, "r1").member_id
        card = issue_card(member, "SV", desk.cashier, "i1", card_no="SV1").card_id
        issue_card(member, "V10", desk.cashier, "i2", card_no="V1")
    made = {}
    with clock.pinned(at + dt.timedelta(minutes=1)):
        made["t1"] = top_up(card, 100_000, 20_000, "cash", desk.cashier, "t1")
    with clock.pinned(at + dt.timedelta(minutes=2)):
        made["s1"] = checkout(member, ["HAIR"], [("stored_value", 8_800, card)], desk.cashier, "s1")
    with clock.pinned(at + dt.timedelta(minutes=3)):
        made["c1"] = check_in("V1", desk.cashier, "c1")
    return Shop(desk, member, card, "V1", made)


def _audit_list(by: Staff) -> list[tuple]:
    return [(r.at, r.staff, r.store, r.action, r.subject, r.change) for r in audit_events(by)]


def test_a_sale_a_check_in_and_a_top_up_keep_their_event_on_their_transaction(shop):
    kept = {t.txid: (t.action, t.subject, json.loads(t.payload)) for t in
            Transaction.select().where(Transaction.txid.in_(("t1", "s1", "c1")))}
    assert kept["t1"] == ("card.top_up", f"card:{shop.card}", TOP_UP)
    assert kept["s1"][:2] == ("sale.checkout", f"sale:{shop.made['s1'].sale_id}")
    assert kept["s1"][2]["total_fen"] == 8_800 and kept["s1"][2]["member"] == shop.member
    assert kept["c1"] == ("card.check_in", kept["c1"][1], {"visits_left": 9})
    assert not AuditEvent.select().where(AuditEvent.action.in_(FOLDED_ACTIONS)).exists()
    assert AuditEvent.select().where(AuditEvent.action == "card.issue").count() == 2  # the other events: rows
    # one link for a transaction with its event, none of its own for the event
    ids = [t.id for t in Transaction.select().where(Transaction.txid.in_(("t1", "s1", "c1")))]
    assert sorted(k for _c, _s, k, r, _d in _links() if r in ids and k != "audit") == ["op"] * 3
    assert check_ledger() == [] and verify() == []


def test_the_audit_list_reads_the_events_kept_on_transactions_in_time_order(shop, today):
    rows = _audit_list(shop.desk.admin)
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)  # newest first, one order
    shops = [r for r in rows if r[3] in (*FOLDED_ACTIONS, "card.issue")]  # (the desk's own set-up: at the real hour)
    assert [r[3] for r in shops] == ["card.check_in", "sale.checkout", "card.top_up", "card.issue", "card.issue"]
    top = shops[2]
    assert top[1:3] == ("c01", "HQ") and top[4] == f"card:{shop.card}"
    assert top[5] == "amount_fen=100000; bonus_fen=20000; rule_bonus_fen=20000; tender=cash"
    # each filter reaches them too: a subject, a staff member, a period, a manager's own store
    assert [r.action for r in audit_events(shop.desk.admin, subject=f"card:{shop.card}")] == [
        "card.top_up", "card.issue"]
    package = Card.get(Card.card_no == shop.package).id  # (a check-in's transaction found by its visit)
    assert [r.action for r in audit_events(shop.desk.admin, subject=f"card:{package}")] == [
        "card.check_in", "card.issue"]
    assert [r.action for r in audit_events(shop.desk.admin, subject=f"sale:{shop.made['s1'].sale_id}")] == [
        "sale.checkout"]
    assert [r.action for r in audit_events(shop.desk.admin, subject=f"member:{shop.member}")] == ["member.register"]
    assert "sale.checkout" in [r.action for r in audit_events(shop.desk.admin, subject="sale")]
    for odd in ("card:²", "sale:99999999999999999999", "card:-1", "card:"):  # no row's key: nothing, no error
        assert list(audit_events(shop.desk.admin, subject=odd)) == []
    assert len([r for r in audit_events(shop.desk.admin, staff="c01") if r.action in FOLDED_ACTIONS]) == 3
    assert [r.action for r in audit_events(shop.desk.admin, start=today + dt.timedelta(days=1))] == []
    assert {r.action for r in audit_events(shop.desk.manager, start=today, end=today)} >= set(FOLDED_ACTIONS)


def test_a_members_data_export_has_the_events_kept_on_their_transactions(shop):
    document = member_document("13800138000")
    actions = [e["action"] for e in document["audit"]]
    assert set(FOLDED_ACTIONS) <= set(actions)
    at = [e["created_at"] for e in document["audit"]]
    assert at == sorted(at)
    top = next(e for e in document["audit"] if e["action"] == "card.top_up")
    assert top["txid"] == "t1" and top["payload"] == TOP_UP


def test_an_event_kept_on_a_transaction_is_scrubbed_when_the_member_is_erased(shop):
    """A payload's personal fields (left out of the chain) are emptied by erasure wherever the event is kept."""
    from mms_tui.services.members.privacy import erase_member

    with write_transaction():  # (no desk event carries one today; an older version's might)
        Transaction.update(payload=json.dumps({**TOP_UP, "name": "张三"}, ensure_ascii=False)).where(
            Transaction.txid == "t1").execute()
    assert check_ledger() == []  # (the chain leaves personal fields out)
    erased = erase_member(shop.member, shop.desk.admin, "本人要求", "e1")
    assert erased.events_scrubbed >= 1
    assert "张三" not in Transaction.get(Transaction.txid == "t1").payload
    assert check_ledger() == []  # the chain left the personal field out: it still holds


def test_migration_30_moves_the_events_with_every_link_and_digest_kept(shop):
    """The database set back to schema 29's form (the events in rows of their own, each with its link), then
    migrated: on both backends every event that may move is on its transaction, its link where it was with the
    digest it had; balances, heads, the audit list, a member's export, replays and ``mms check`` as before."""
    top_up(shop.card, 1_000, None, "cash", shop.desk.cashier, "t2")
    events_as_schema_29_kept_them(database.obj)
    # one event that may not move: a top-up whose event names another staff member than its transaction
    with write_transaction():
        AuditEvent.update(staff=shop.desk.manager.id).where(AuditEvent.txid == "t2").execute()
        rechain()
    assert check_ledger() == []
    before, links, anchored = _state(), _links(), heads()
    listed, exported = sorted(_audit_list(shop.desk.admin)), member_document("13800138000")["audit"]
    assert AuditEvent.select().where(AuditEvent.action.in_(FOLDED_ACTIONS)).count() == 4

    assert migrate() == [LATEST] == [30]
    assert _state() == before and heads() == anchored
    after = _links()
    assert [(c, s, d) for c, s, _k, _r, d in after] == [(c, s, d) for c, s, _k, _r, d in links]
    moved = {(b[2], b[3]): (a[2], a[3]) for b, a in zip(links, after, strict=True) if b[2:4] != a[2:4]}
    tx = {t.txid: t.id for t in Transaction.select()}
    assert sorted(moved.values()) == sorted(("txa", tx[txid]) for txid in ("t1", "s1", "c1"))
    assert [(e.action, e.txid) for e in AuditEvent.select().where(AuditEvent.action.in_(FOLDED_ACTIONS))] == [
        ("card.top_up", "t2")]  # the manager's stays a row of its own
    assert Transaction.get(Transaction.txid == "t2").action is None
    assert sorted(_audit_list(shop.desk.admin)) == listed
    assert sorted(json.dumps(e, sort_keys=True) for e in member_document("13800138000")["audit"]) == sorted(
        json.dumps(e, sort_keys=True) for e in exported)
    assert check_ledger() == [] and verify() == []

    # a replay answers as the first time and posts nothing; what comes next is one link with its event
    assert top_up(shop.card, 100_000, 20_000, "cash", shop.desk.cashier, "t1") == shop.made["t1"]
    assert _links() == after and _state() == before
    top_up(shop.card, 5_000, None, "cash", shop.desk.cashier, "t3")
    assert _links()[-1][2] == "op" and len(_links()) == len(after) + 1
    assert check_ledger() == [] and verify() == []
    # an edit of a moved event is caught where its link now points
    with write_transaction():
        Transaction.update(payload='{"amount_fen": 1}').where(Transaction.txid == "t1").execute()
    assert any("audit event on the tx row" in str(p) for p in check_ledger())


def test_an_event_moved_by_migration_30_and_then_lost_is_named(shop):
    events_as_schema_29_kept_them(database.obj)
    migrate()
    with write_transaction():
        Transaction.update(action=None, subject=None, payload=None).where(Transaction.txid == "c1").execute()
    found = [str(p) for p in check_ledger()]
    assert any("audit event on the tx row" in p for p in found) and any("no audit event" in p for p in found)
    assert ChainLink.select().where(ChainLink.kind == "txa").count() == 3

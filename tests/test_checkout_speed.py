"""The checkout's hot path stays short: how many SQL statements a quote and a checkout run, the written-out inserts
storing what the ORM would (the written-out reads: tests/test_library_guards.py), and the rules read once per
change. Counts, not timings (timings are the benchmark's: ``scripts/bench.py``). Real SQLite file and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from mms_tui.db import database
from mms_tui.models import (
    AuditEvent,
    Card,
    Config,
    Payment,
    Sale,
    ServiceItem,
)
from mms_tui.services.base.errors import InvalidInput, UnknownItem
from mms_tui.services.base.sql import insert_model
from mms_tui.services.loyalty.rules import default_rules
from mms_tui.services.loyalty.rules_store import CONFIG_KEY, load_rules, save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.topup import top_up

#: ceilings for a two-line quote, then its checkout paid with points and stored value (as the desk sends it).
#: Before the written-out SQL: 14 and 36 statements. Then 5 and 21, six of them tiers.apply_spend's; the checkout
#: now also reads the operation and balance limits (2) and chains what it wrote (8: the head, the transaction with
#: its entries and sale read back as the verifier reads them, one insert of the links, the head moved on; #15).
QUOTE_MAX = 6
#: 31, and one read of the bill's stock (services/stock/sales.py), and one of the member's consent to balance notices
#: (services/messages/outbox.py: a member who said yes costs two more, the card's balance and the message)
CHECKOUT_MAX = 33


@pytest.fixture
def statements(monkeypatch):
    """Every statement the connection runs from now on, in order (the ORM's and the written-out ones alike)."""
    seen: list[str] = []
    obj = database.obj
    run = obj.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return run(sql, params, *args, **kwargs)

    monkeypatch.setattr(obj, "execute_sql", counting)
    return seen


def _member_with_points(desk) -> tuple[int, int]:
    """A member with a stored-value card holding money and points (points come from an earlier sale)."""
    member = register_member("张三", "13800138000", desk.cashier, "reg-1").member_id
    card = issue_card(member, "SV", desk.cashier, "issue-1", card_no="1001").card_id
    top_up(card, 100_000, 0, "cash", desk.manager, "topup-1")
    checkout(member, ["SPA"], [("stored_value", quote(member, ["SPA"]).total_fen, card)], desk.cashier, "earn-1")
    assert Card.get_by_id(card).points >= 100
    return member, card


def test_a_quote_and_its_checkout_run_few_statements(desk, statements):
    member, card = _member_with_points(desk)
    lines = ["HAIR", "6920000000012"]  # a service by code, a product by barcode

    statements.clear()
    total = quote(member, lines).total_fen
    quoted = len(statements)
    statements.clear()
    result = checkout(member, lines, [("points", 100, card), ("stored_value", total - 100, card)], desk.cashier,
                      "speed-1")
    sold = len(statements)

    assert quoted <= QUOTE_MAX, statements
    from mms_tui.db import is_sqlite

    assert sold <= CHECKOUT_MAX + (0 if is_sqlite() else 1), statements  # PostgreSQL: the member's row locked first
    # and it did the whole job: both lines, both tenders, points earned
    assert result.total_fen == total and result.points_redeemed == 100 and result.points_earned > 0
    assert [p.tender for p in Payment.select().where(Payment.sale == result.sale_id).order_by(Payment.id)] == [
        "points", "stored_value"]


def test_a_retried_checkout_answers_from_its_first_result_in_three_statements(desk, statements):
    member, card = _member_with_points(desk)
    total = quote(member, ["HAIR"]).total_fen
    first = checkout(member, ["HAIR"], [("stored_value", total, card)], desk.cashier, "speed-2")

    statements.clear()
    again = checkout(member, ["HAIR"], [("stored_value", total, card)], desk.cashier, "speed-2")

    assert again == first
    assert len(statements) <= 3, statements  # the member, the store, the txid
    assert Sale.select().where(Sale.member == member).count() == 2  # the earlier one and this one, once


def test_a_tender_takes_its_card_by_id_or_number_and_never_another_members(desk):
    member, card = _member_with_points(desk)
    other = register_member("李四", "13900139000", desk.cashier, "reg-2").member_id
    other_card = issue_card(other, "SV", desk.cashier, "issue-2", card_no="2002").card_id
    top_up(other_card, 10_000, 0, "cash", desk.cashier, "topup-2")
    total = quote(member, ["WATER"]).total_fen

    by_number = checkout(member, ["WATER"], [("stored_value", total, "1001")], desk.cashier, "card-1")
    assert by_number.payments[0]["card"] == card
    for ref in ("2002", other_card):
        with pytest.raises(InvalidInput, match="belongs to another member"):
            checkout(member, ["WATER"], [("stored_value", total, ref)], desk.cashier, f"card-{ref}")
    assert Card.get_by_id(other_card).principal_fen == 10_000


def test_a_cart_is_read_in_one_statement_and_refused_at_its_first_wrong_line(desk, statements):
    from mms_tui.services.money.items import cart_lines

    statements.clear()
    cart = cart_lines(["HAIR", ("WATER", 2), "6901234567892", "SPA"])
    assert len(statements) == 1
    assert [(c.kind, c.code, c.qty) for c in cart] == [
        ("service", "HAIR", 1), ("product", "WATER", 2), ("product", "SHAMPOO", 1), ("service", "SPA", 1)]

    with pytest.raises(UnknownItem):
        cart_lines(["NOPE", ("HAIR", 0)])  # the unknown item comes first
    with pytest.raises(InvalidInput):
        cart_lines([("HAIR", 0), "NOPE"])  # the bad quantity comes first
    ServiceItem.update(active=False).where(ServiceItem.code == "HAIR").execute()
    with pytest.raises(UnknownItem):
        cart_lines(["HAIR"])


def test_written_out_inserts_store_what_create_stores(desk):
    values = {"action": "test.event", "subject": "member:1", "staff": desk.cashier, "store": desk.store,
              "payload": json.dumps({"a": 1})}
    made = insert_model(AuditEvent, **values)
    created = AuditEvent.create(**values)
    assert made.__data__ == {**created.__data__, "id": made.id, "created_at": made.created_at}
    assert not made.is_dirty()

    def stored(event_id: int) -> dict:
        row = AuditEvent.get_by_id(event_id).__data__
        return {k: v for k, v in row.items() if k not in ("id", "created_at")}

    assert stored(made.id) == stored(created.id)
    assert AuditEvent.get_by_id(made.id).created_at == made.created_at


def test_rules_are_parsed_once_and_a_change_saved_anywhere_is_in_force_at_the_next_read(desk):
    save_rules({"points": {"redeem_per_yuan": 200}}, desk.manager)
    first = load_rules()
    assert first.points.redeem_per_yuan == 200
    assert load_rules() is first  # the same text: not parsed again

    # another desk (process) saves new rules: the next read here sees them
    row = Config.get(Config.key == CONFIG_KEY)
    document = json.loads(row.value)
    document["points"]["redeem_per_yuan"] = 300
    Config.update(value=json.dumps(document)).where(Config.key == CONFIG_KEY).execute()
    assert load_rules().points.redeem_per_yuan == 300

    Config.delete().where(Config.key == CONFIG_KEY).execute()
    assert load_rules() == default_rules()

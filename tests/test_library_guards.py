"""Where the product leans on a library's internals, a test says at once when a new release moved them.

* ``services/common.py``'s :func:`row_model` makes Peewee model instances by filling ``__data__``, ``_dirty`` and
  ``__rel__`` itself (the desk's hot paths read rows written out in SQL, BENCHMARKS.md). Peewee's major version
  is pinned in pyproject.toml; within it, every model's instances read that way must be the ones ``Model.get``
  makes, field by field, on a real SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict

import peewee

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.models import (
    ALL_MODELS,
    Card,
    CardType,
    Coupon,
    Member,
    Product,
    ServiceItem,
    Staff,
    Store,
    Tier,
    TierPrice,
    Transaction,
)
from mms_tui.services.checkin import check_in
from mms_tui.services.checkout import checkout
from mms_tui.services.common import columns, fetch_model, fetch_rows, row_model, set_config
from mms_tui.services.errors import WrongPin
from mms_tui.services.members import (
    freeze_card,
    issue_card,
    register_member,
    replace_card,
    report_lost,
    set_family,
    unfreeze_card,
)
from mms_tui.services.refund import refund
from mms_tui.services.shifts import close_shift, open_shift
from mms_tui.services.staff import authenticate, create_staff
from mms_tui.services.topup import top_up

# --- row_model: the instances Model.get makes ------------------------------------------------------------------


def a_varied_shop(desk) -> None:
    """Rows in every table, with the nullable columns both empty and filled somewhere: members with and without
    birthdays and families, cards of every kind (frozen, lost and replaced, with dates), sales, refunds, visits,
    coupons used and unused, a closed shift, a staff account with a wrong PIN behind it."""
    c, m = desk.cashier, desk.manager
    zhang = register_member("张三", "13800138000", c, "g-r1", gender="M", birthday="1990-02-28",
                            notes="对花粉过敏").member_id
    li = register_member("李四", "13900139000", c, "g-r2").member_id
    set_family(li, "13800138000", c, "g-f1")
    sv = issue_card(zhang, "SV", c, "g-i1", card_no="00012345", reader_uid="0A1B2C3D4E",
                    barcode="MMS00012345").card_id
    top_up(sv, 100_000, 20_000, "wechat", m, "g-t1")
    package = issue_card(zhang, "V10", c, "g-i2", card_no="00077777").card_id
    check_in(package, c, "g-v1")
    check_in(package, c, "g-v2", again=True)
    refund("g-v2", m, "pressed twice", "g-rf1")
    CardType.update(max_freeze_days=30).where(CardType.code == "M1").execute()
    with clock.pinned(clock.now() - dt.timedelta(days=3)):
        issue_card(li, "M1", c, "g-i3", card_no="00066666")
        freeze_card("00066666", c, "g-fz1")
    unfreeze_card("00066666", c, "g-uf1")  # three days counted, in this year
    freeze_card("00066666", c, "g-fz2")
    report_lost(issue_card(li, "SV", c, "g-i4", card_no="00055555").card_id, c, "g-l1")
    replace_card("00055555", "00055556", c, "g-rp1")
    checkout(zhang, ["HAIR", ("WATER", 2)], [("stored_value", 9_400, sv)], c, "g-s1")
    checkout(None, ["SPA"], [("cash", 50_000)], c, "g-s2")  # ¥2 change
    refund("g-s2", m, "unhappy", "g-rf2")
    Member.update(fees_paid_until=dt.date(2030, 1, 1)).where(Member.id == zhang).execute()
    # what an import from an older system leaves: a member and a card of no store, an item without a barcode
    wang = register_member("王五", "13700137000", c, "g-r3").member_id
    Member.update(home_store=None).where(Member.id == wang).execute()
    Card.update(store=None).where(Card.id == issue_card(wang, "PT", c, "g-i5").card_id).execute()
    Product.create(code="GIFT", name="赠品", category="", price_fen=0)
    ServiceItem.update(duration_minutes=45, barcode="2000000000015").where(ServiceItem.code == "HAIR").execute()
    Store.create(code="BR1", name="分店", parent=desk.store)
    create_staff("a02", "IT 小王", "admin", "4321", store=None)
    Coupon.create(code="C-USED", promotion="SPRING", member=zhang, reason="manual", issued_by=m, store=desk.store,
                  valid_from=dt.date(2026, 1, 1), valid_until=dt.date(2026, 12, 31),
                  used_at=dt.datetime(2026, 3, 4, 5, 6, 7, 890_000),
                  transaction=Transaction.get(Transaction.txid == "g-s1"))
    Coupon.create(code="C-OPEN", promotion="SPRING")
    gold = Tier.get(Tier.code == "GOLD")
    TierPrice.create(tier=gold, product=Product.get(Product.code == "WATER"), price_fen=250)
    TierPrice.create(tier=gold, service=ServiceItem.get(ServiceItem.code == "HAIR"), price_fen=6_600)
    Product.update(active=False).where(Product.code == "SHAMPOO").execute()
    with write_transaction():
        set_config("shift_float_fen", 20_000)
    open_shift(c, "HQ")
    close_shift(c, {"cash": 0}, "g-close1")
    open_shift(c, "HQ")
    authenticate("m01", "2345")
    with contextlib.suppress(WrongPin):
        authenticate("c01", "9999")
    Staff.update(locked_until=dt.datetime(2026, 5, 6, 7, 8, 9)).where(Staff.code == "admin").execute()


def field_values(obj: peewee.Model) -> dict[str, tuple[type, object]]:
    """Each field as the model answers it (foreign keys: the id they hold), with its Python type: 1 and True,
    or "2026-01-02" and a date, must not pass for each other."""
    values = {}
    for f in type(obj)._meta.sorted_fields:
        value = getattr(obj, f.object_id_name if isinstance(f, peewee.ForeignKeyField) else f.name)
        values[f.name] = (type(value), value)
    return values


def test_written_out_reads_give_the_instances_model_get_gives(desk):
    a_varied_shop(desk)
    filled: dict[type, set[str]] = defaultdict(set)
    empty: dict[type, set[str]] = defaultdict(set)
    for model in ALL_MODELS:
        pk = model._meta.primary_key
        keys = [k for (k,) in model.select(pk).order_by(pk).tuples()]
        assert keys, f"{model.__name__}: no rows to compare"
        for key in keys:
            slow = model.get(pk == key)
            fast = fetch_model(model, f'"t"."{pk.column_name}" = ?', (key,))
            where = (model.__name__, key)
            assert type(fast) is model, where
            # what Model.__init__ leaves on an instance: nothing more, nothing less, nothing dirty
            assert set(vars(fast)) == set(vars(slow)), where
            assert fast.__data__ == slow.__data__, where
            assert field_values(fast) == field_values(slow), where
            assert fast.__rel__ == slow.__rel__ == {}, where
            assert not fast.is_dirty() and fast.dirty_fields == [], where
            assert fast == slow and fast.get_id() == slow.get_id(), where
            for f in model._meta.sorted_fields:
                (filled if fast.__data__[f.name] is not None else empty)[model].add(f.name)
            # a foreign key reads its row as the ORM's instance does
            for f in model._meta.refs:
                if fast.__data__[f.name] is not None:
                    assert getattr(fast, f.name) == getattr(slow, f.name), (*where, f.name)
    # the shop exercised every column: each holds a value somewhere, and each nullable one is empty somewhere
    never_filled = {m.__name__: names for m in ALL_MODELS
                    if (names := {f.name for f in m._meta.sorted_fields} - filled[m])}
    never_empty = {m.__name__: names for m in ALL_MODELS
                   if (names := {f.name for f in m._meta.sorted_fields if f.null} - empty[m])}
    assert (never_filled, never_empty) == ({}, {})


def test_a_joined_row_reads_each_model_from_its_own_columns(desk):
    """The checkout reads a card with its card type (and a member with its tier) from one row: ``start``."""
    a_varied_shop(desk)
    card_cols = len(Card._meta.sorted_fields)
    rows = fetch_rows(f'SELECT {columns(Card, "c")}, {columns(CardType, "k")} FROM "card" AS "c" '
                      'JOIN "card_type" AS "k" ON "k"."id" = "c"."card_type_id" ORDER BY "c"."id"')
    assert len(rows) == Card.select().count() >= 5
    for row in rows:
        card, kind = row_model(Card, row), row_model(CardType, row, card_cols)
        assert card.__data__ == Card.get_by_id(card.id).__data__
        assert kind.__data__ == CardType.get_by_id(card.card_type_id).__data__
        assert not card.is_dirty() and not kind.is_dirty()


def test_an_instance_read_written_out_saves_as_one_from_the_orm(desk):
    """Changed and saved, an instance read by ``row_model`` writes what the ORM's instance writes."""
    a_varied_shop(desk)
    fast = fetch_model(Member, '"t"."phone" = ?', ("13800138000",))
    slow = Member.get(Member.phone == "13900139000")
    for member in (fast, slow):
        member.notes = "改过"
        assert member.dirty_fields == [Member.notes]
        member.save()
        assert not member.is_dirty()
        assert Member.get_by_id(member.id).__data__ == member.__data__

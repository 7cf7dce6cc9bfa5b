"""Where the product leans on a library's internals, a test says at once when a new release moved them.

* ``services/common.py``'s :func:`row_model` makes Peewee model instances by filling ``__data__``, ``_dirty`` and
  ``__rel__`` itself (the desk's hot paths read rows written out in SQL, BENCHMARKS.md). Peewee's major version
  is pinned in pyproject.toml; within it, every model's instances read that way must be the ones ``Model.get``
  makes, field by field, on a real SQLite file and on PostgreSQL.
* ``widgets/footer.py`` keeps Textual's private ``FooterKey`` widgets and reads ``_bindings_ready`` to change
  the key row in place. On every screen and dialog of the real app, driven by keys, the keys it shows (and whether
  each is enabled) must be those Textual's own ``Footer`` shows for the same screen at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import inspect
import pkgutil
from collections import defaultdict

import peewee
from textual.app import App
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

import mms_tui.screens
from mms_tui import clock
from mms_tui.app import create_app
from mms_tui.db import write_transaction
from mms_tui.devices.protocols import Read
from mms_tui.i18n import _
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
    Transaction,
)
from mms_tui.screens.dialog import OperationDialog
from mms_tui.screens.manage import ManageListScreen
from mms_tui.screens.manage_form import ManageForm
from mms_tui.services.base.config import set_config
from mms_tui.services.base.errors import WrongPin
from mms_tui.services.base.sql import columns, fetch_model, fetch_rows, row_model
from mms_tui.services.catalogue.prices import set_price
from mms_tui.services.members.cards import issue_card, replace_card, report_lost
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.family import set_family
from mms_tui.services.members.passes import freeze_card, unfreeze_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.money.shifts import close_shift, open_shift
from mms_tui.services.money.topup import top_up
from mms_tui.services.staff.accounts import authenticate, create_staff
from mms_tui.settings import Settings
from mms_tui.widgets.footer import Footer
from tests.test_tui import login, settle

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
    top_up(sv, 100_000, 20_000, "wechat", m, "g-t1", salesperson="c01")
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
    checkout(zhang, ["HAIR", ("WATER", 2)], [("stored_value", 9_400, sv)], c, "g-s1",
             performers={"WATER": ["c01"], "HAIR": [("m01", 6000), ("c01", 4000)]}, approver=desk.manager)
    from mms_tui.services.money.ratings import rate_service

    rate_service("g-s1", "m01", 5, c)  # the member's rating of the service (服务评价)
    checkout(None, ["SPA"], [("cash", 50_000)], c, "g-s2", performers={"SPA": ["m01"]},
             approver=desk.manager)  # ¥2 change
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
    set_price(desk.manager, "WATER", 250, list_code=gold.code)
    set_price(desk.manager, "HAIR", 6_600, list_code=gold.code)
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
    # the back office's tables: tags, a shop's own field, consent taken by staff and by no one, a performer who
    # may do a service, a closed store
    from mms_tui.models import Consent
    from mms_tui.services.members.attributes import define_field, set_consent, set_field, tag_member
    from mms_tui.services.staff.admin import add_staff
    from mms_tui.services.staff.stores import add_store, close_store

    tag_member(zhang, c, ["VIP"])
    define_field(m, "GOAL", "目标", "choice", ["减脂", "增肌"])
    set_field(zhang, c, "GOAL", "增肌")
    set_consent(zhang, c, "sms", True)
    Consent.create(member=li, channel="email", given=False, staff=None)
    add_staff("t01", "李师傅", by=desk.admin, performer=True, level="高级", services=["HAIR"])
    add_store("BR2", "旧店", desk.admin, parent="HQ", time_zone="Asia/Urumqi")
    close_store("BR2", desk.admin)
    from mms_tui.services.catalogue.card_types import edit_card_type

    edit_card_type(m, "Q1", stores=("HQ",), bound=True)  # a card type sold and used at one store only
    from mms_tui.services.catalogue.prices import add_level
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.profile import update_member

    add_level(m, "DEALER", "经销商价")  # a price level, a dealer's price at one store, a member buying at it
    set_price(m, "WATER", 200, list_code="DEALER", store="HQ")
    update_member(zhang, m, new_txid(), price_level="DEALER")
    # attendance: punches by card and by PIN, a correction (superseding, with a reason) and one that takes a punch
    # away, a week with days off and an exception for a day off
    from mms_tui.services.staff import attendance

    with clock.pinned(dt.datetime(2026, 11, 16, 9, 7)):
        first = attendance.punch_by_card("STAFF001", "HQ", "g-p1")
        attendance.punch_by_pin("m01", "2345", "HQ", "g-p2")
    attendance.correct_punch(first.punch_id, m, "打卡机慢了", "g-p3", at="2026-11-16 09:00")
    with clock.pinned(dt.datetime(2026, 11, 16, 18, 2)):
        out = attendance.punch_by_card("STAFF001", "HQ", "g-p4")
    attendance.correct_punch(out.punch_id, m, "刷错", "g-p5", void=True)
    attendance.set_week("c01", attendance.parse_week(["mon-fri=09:00-18:00"]), m)
    attendance.set_exception("c01", dt.date(2026, 11, 20), attendance.parse_shift("off"), m, "调休")
    attendance.set_exception("c01", dt.date(2026, 11, 21), attendance.parse_shift("10:00-14:00"), m)
    # bookings (at 8:00 the day after tomorrow): a room for SPA and a booking in it, a member's weekly booking,
    # one moved, a walk-in's cancelled, a late cancellation's fee paid on a bill, an arrival paid and tied to its
    # sale; a class type, a timetable line in the room, its session, a place cancelled and the waitlisted member
    # promoted, then checked in at the door
    from mms_tui.models import Booking
    from mms_tui.services.bookings import appointments as ap
    from mms_tui.services.bookings.classes import (
        add_class_type,
        add_session,
        add_slot,
        book_class,
        cancel_class,
        class_check_in,
        generate_sessions,
    )
    from mms_tui.services.bookings.rooms import add_room
    from mms_tui.services.loyalty.rules_files import rules_from_text
    from mms_tui.services.loyalty.rules_store import save_rules

    day = clock.today() + dt.timedelta(days=2)
    with clock.pinned(dt.datetime.combine(day, dt.time(8))):
        save_rules(rules_from_text('[bookings]\nlate_cancel = "fee"\nlate_cancel_fee = "20"', "toml"), m)
        add_room("R1", "理疗室", "HQ", m)
        ap.set_service_rooms(m, "SPA", ["R1"])
        add_staff("t02", "王技师", by=desk.admin, performer=True, services=["SPA"])
        ap.book(wang, ["SPA"], c, "g-b0", start=dt.datetime.combine(day, dt.time(15)), staff="t02")
        weekly = ap.book(zhang, ["HAIR"], c, "g-b1", start=dt.datetime.combine(day, dt.time(10)), staff="t01",
                         note="老位置", weeks=2)
        ap.move(weekly.booking_ids[1], c, "g-b1m", start=dt.datetime.combine(day + dt.timedelta(days=8),
                                                                               dt.time(10)))
        walk_in = ap.book(None, ["HAIR"], c, "g-b2", start=dt.datetime.combine(day, dt.time(11)), staff="t01",
                          guest_name="路人", guest_phone="13600136000")
        ap.cancel(walk_in.booking_ids[0], c, "不来了", "g-b3")
        late = ap.book(li, ["HAIR"], c, "g-b4", start=dt.datetime.combine(day, dt.time(12)), staff="t01")
        ap.cancel(late.booking_ids[0], c, "临时有事", "g-b5")
        checkout(li, ["WATER"], [("cash", 2_300)], c, "g-s3", fees=["booking"])
        arrival = ap.arrive(weekly.booking_ids[0], c, "g-b6")
        paid = checkout(zhang, arrival.lines, [("cash", 8_800)], c, "g-s4", performers=arrival.performers)
        ap.link_sale(weekly.booking_ids[0], paid.txid)
        # what the member-messaging issue writes once it sends a reminder
        Booking.update(reminded_at=clock.now()).where(Booking.txid == "g-b0").execute()
        add_class_type("YOGA", "瑜伽", 60, 1, m)
        add_slot("HQ", "YOGA", day.isoweekday(), "19:00", "t01", m, room="R1")
        add_slot("HQ", "YOGA", day.isoweekday(), "07:00", "t01", m)  # in no room
        add_session("HQ", "YOGA", dt.datetime.combine(day, dt.time(21)), "t01", m)  # a one-off, on no line
        session = next(s for s in generate_sessions("HQ", day, day, m).created if s.room == "R1")
        book_class(zhang, session.id, c, "g-c1")
        issue_card(li, "V10", c, "g-i6", card_no="00088888")
        book_class(li, session.id, c, "g-c2", card="00088888")  # the one place is taken: the waitlist
        cancel_class("g-c1", c, "加班", "g-c3")  # late: its fee on 张三's bill; 李四 moves up
        checkout(zhang, ["WATER"], [("cash", 2_300)], c, "g-s5", fees=["booking"])
    with clock.pinned(dt.datetime.combine(day, dt.time(18, 50))):
        class_check_in("00088888", "HQ", c, "g-c4")
    # stock: two suppliers (one with contact details), a receipt from one and one from no supplier, a service that
    # consumes a product sold, a threshold set and one not, a transfer received and one in transit, a count posted
    # and one still open
    from mms_tui.services.stock import counts, receiving, transfers
    from mms_tui.services.stock import settings as stock_settings
    from mms_tui.services.stock.common import StockLine

    receiving.save_supplier(m, "ACME", name="水业", contact="王经理", phone="02112345678", note="月结")
    receiving.save_supplier(m, "SELF", name="自采")
    Product.update(active=True).where(Product.code == "SHAMPOO").execute()
    stock_settings.set_unit(m, "SHAMPOO", "ml")
    stock_settings.set_consumption(m, "SPA", "SHAMPOO", 30)
    receiving.receive(c, [StockLine("WATER", 50, 120), StockLine("SHAMPOO", 1_000, 5)], "g-k1", supplier="ACME",
                      reference="DN-1")
    receiving.receive(c, [StockLine("WATER", 5, 100)], "g-k2")
    stock_settings.set_low(m, "WATER", 10)
    checkout(None, ["WATER", "SPA"], [("cash", 60_000)], c, "g-k3")
    t1 = transfers.send_transfer(m, [StockLine("WATER", 5)], "BR1", "g-k4", note="周末")
    transfers.receive_transfer(m, t1.transfer_id, "g-k5")
    transfers.send_transfer(m, [StockLine("WATER", 2)], "BR1", "g-k6")
    sheet = counts.open_count(c, note="十一月")
    counts.count_item(c, sheet, "WATER", 40, add=False, reason="破损")
    counts.post_count(c, sheet, "g-k7", approver=m)
    counts.count_item(c, counts.open_count(c), "6920000000012")
    Product.update(active=False).where(Product.code == "SHAMPOO").execute()

    # messages: a template a manager saved and one that came in with no one's name; a campaign of a store and one
    # of none; a message of each, tried and not; a member bound to WeChat
    from mms_tui.models import Campaign, Message, MessageTemplate
    from mms_tui.services.messages.outbox import enqueue
    from mms_tui.services.messages.templates import save_template

    save_template(m, "balance", "email", "zh", "{name} {amount}", subject="提醒")
    MessageTemplate.create(trigger="birthday", channel="sms", lang="en", body="Happy birthday {name}")
    Member.update(wechat_openid="oABC-123_x").where(Member.id == zhang).execute()
    one = Campaign.create(name="周末", channel="sms", audience="tag:VIP", body="{name}", store=desk.store, staff=m)
    Campaign.create(name="all", channel="email", audience="segment:lost", body="{name}", staff=m)
    enqueue(zhang, "campaign", "g-m1", {"name": "张三"}, store_id=desk.store.id, channel="sms", campaign_id=one.id)
    enqueue(zhang, "birthday", "g-m2", {"name": "张三"})
    Message.update(state="sent", attempted_at=Message.created_at, sent_channel="sms", address="13800138000",
                   text="张三", sms_parts=1, provider_id="biz-1", delivery="delivered").where(
        Message.key == "g-m1").execute()
    # service tickets: one from the desk, answered and closed; one from an email, with no one on it yet
    from mms_tui.services.messages.tickets import add_note, close_ticket, from_email, open_ticket

    asked = open_ticket(c, zhang, "complaint", "水温太低", "太凉了")
    add_note(m, asked.id, "已调高水温", answer=True)
    close_ticket(m, asked.id, "满意")
    Member.update(email="zs@example.com").where(Member.id == zhang).execute()
    from_email(b"From: zs@example.com\nSubject: hello\n\nhi\n")
    # prompts from a member's pattern put away at the desk (by staff), and one from before staff were recorded
    from mms_tui.models import PromptDismissal
    from mms_tui.services.loyalty.prompts import dismiss_prompts

    dismiss_prompts(zhang, ["item:HAIR:2026-11-20"], c)
    PromptDismissal.create(member=zhang, key="card:PKG1:2")
    # payment codes: a charge booked with its sale and refunded once, a declined one (tests/test_payments.py makes
    # them through the providers)
    from mms_tui.models import PayAttempt, PayRefund

    sale = Transaction.get(Transaction.txid == "g-s1")
    booked = PayAttempt.create(txid="g-s1", attempt=1, provider="wechat", out_trade_no="M" + "1" * 31,
                               purpose="checkout", amount_fen=8_800, status="booked", trade_no="4200000001",
                               code_tail="6789", staff=c, store=desk.store, transaction=sale)
    PayAttempt.create(txid="g-s9", attempt=1, provider="alipay", out_trade_no="M" + "2" * 31, purpose="topup",
                      amount_fen=100, status="declined", detail="余额不足", staff=c, store=desk.store)
    PayRefund.create(attempt=booked, txid="g-rf1", out_refund_no="R" + "1" * 31, amount_fen=8_800,
                     status="refunded", refund_no="50000001", staff=m)


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
        pk = model._meta.primary_key  # (of one column, or several: the chains' links by chain and seq)
        pks = [model._meta.fields[n] for n in pk.field_names] if model._meta.composite_key else [pk]
        keys = list(model.select(*pks).order_by(*pks).tuples())
        assert keys, f"{model.__name__}: no rows to compare"
        for key in keys:
            slow = model.get(*[f == v for f, v in zip(pks, key, strict=True)])
            fast = fetch_model(model, " AND ".join(f'"t"."{f.column_name}" = ?' for f in pks), key)
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


# --- the key footer: the keys Textual's own Footer shows -------------------------------------------------------

#: a footer key as a cashier meets it: the key, its label (translated: ours translates as it draws), the action it
#: runs, whether it is disabled (drawn dim, a bell instead of the action), its tooltip
Shown = tuple[str, str, str, str, bool, bool, str | None]


def key_as_shown(key: FooterKey) -> Shown:
    return (key.key, key.key_display, _(key.description), key.action, key._disabled, key.has_class("-disabled"),
            key.tooltip)


def our_footer(screen: Screen) -> Footer | None:
    found = [w for w in screen.query(TextualFooter) if type(w) is Footer]
    assert len(found) <= 1, screen
    return found[0] if found else None


async def textuals_keys(screen: Screen, ours: Footer | None) -> list[Shown]:
    """What a stock ``textual.widgets.Footer``, set as ours is, shows on ``screen`` now: one is mounted beside ours
    (once per screen) and composed afresh from the screen's bindings, in its own message loop."""
    found = [w for w in screen.query(TextualFooter) if type(w) is TextualFooter]
    stock = found[0] if found else TextualFooter(show_command_palette=False if ours is None else ours.show_command_palette,
                                                 compact=False if ours is None else ours.compact)
    if not found:
        await screen.mount(stock)
    composed = asyncio.Event()

    async def compose_afresh() -> None:
        stock.bindings_changed(screen)  # what the screen's signal tells it: the bindings are ready to show
        await stock.recompose()
        composed.set()

    stock.call_later(compose_afresh)
    await asyncio.wait_for(composed.wait(), 5)
    return [key_as_shown(k) for k in stock.query(FooterKey)]


class FooterWatch:
    """Compares the footers after every step of a walk through the app; every difference is kept, by step."""

    def __init__(self, pilot) -> None:
        self.pilot = pilot
        self.differences: list[tuple[str, str, list[Shown], list[Shown]]] = []
        self.seen: dict[type, int] = defaultdict(int)

    async def step(self, name: str, *keys: str) -> Screen:
        if keys:
            await self.pilot.press(*keys)
        await settle(self.pilot)
        await settle(self.pilot)
        screen = self.pilot.app.screen
        ours = our_footer(screen)
        # a screen without our footer shows no keys
        shown = [] if ours is None else [key_as_shown(k) for k in ours.query(FooterKey) if k.display]
        expected = await textuals_keys(screen, ours)
        if shown != expected:
            self.differences.append((name, type(screen).__name__, shown, expected))
        self.seen[type(screen)] += 1
        return screen


def the_apps_screens() -> set[type]:
    """Every screen and dialog class the app defines (the operation dialogs' base is never shown itself)."""
    found = set()
    for info in pkgutil.iter_modules(mms_tui.screens.__path__, "mms_tui.screens."):
        module = importlib.import_module(info.name)
        found |= {obj for _name, obj in inspect.getmembers(module, inspect.isclass)
                  if issubclass(obj, Screen) and obj.__module__ == module.__name__}
    from mms_tui.screens.bookings import _BookingDialog
    from mms_tui.screens.stock import _ScanScreen

    return found - {OperationDialog, ManageForm, ManageListScreen, _BookingDialog, _ScanScreen}


def a_shop_for_every_screen(desk) -> None:
    """The regular's desk (张三: stored value 00012345 with ¥100, package 00077777) and what opens the rest of
    the dialogs: points from a sale (a gift), a pass (renewal), a family (visits to transfer), a lost card, and a
    second member with the initials zs (a list)."""
    c = desk.cashier
    zhang = Member.get(Member.phone == "13800138000").id
    checkout(zhang, ["HAIR"], [("stored_value", 8_800, "00012345")], c, "f-s1")
    issue_card(zhang, "M1", c, "f-i1", card_no="00066666")
    li = register_member("李四", "13900139000", c, "f-r1").member_id
    set_family(li, "13800138000", c, "f-f1")
    report_lost(issue_card(li, "SV", c, "f-i2", card_no="00055555").card_id, c, "f-l1")
    register_member("周山", "13912345678", c, "f-r2")  # zs: 张三 and 周山, a list
    from mms_tui.services.bookings.appointments import book
    from mms_tui.services.staff.admin import add_staff

    add_staff("p01", "王师傅", by=desk.admin, performer=True, services=["HAIR"])  # a booking for tomorrow, 10:00
    book(zhang, ["HAIR"], c, "f-b1", start=dt.datetime.combine(clock.today() + dt.timedelta(days=1), dt.time(10)),
         staff="p01")
    from mms_tui.services.messages.tickets import open_ticket

    open_ticket(c, zhang, "complaint", "水温太低", "太凉了")  # a service ticket to work from Today


async def test_every_screen_shows_the_keys_textuals_own_footer_shows(regular):
    a_shop_for_every_screen(regular)
    app = create_app(Settings(db=regular.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        watch = FooterWatch(pilot)
        step = watch.step
        await step("login")
        await login(pilot)
        await step("desk")
        await step("desk: a list of members", *"zs", "enter")
        await step("desk: nothing found", "escape", *"13600136000", "enter")
        await step("register", "f3")
        await step("desk again", "escape")
        await step("walk-in sale", "f9")
        await step("desk after the walk-in", "escape")
        await step("today", "f8")
        await step("today: shift report", "f6")
        await step("today again", "escape")
        await step("today: my commissions", "f7")
        await step("today after my commissions", "escape")
        await step("service tickets", "f4")
        await step("service tickets: an answer", "f2")
        await step("service tickets after the answer", "escape")
        await step("today after the tickets", "escape")
        await step("stores today", "f2")
        await step("today after the stores", "escape")
        await step("charts", "f8")
        await step("charts: the visits", "3")
        await step("today after the charts", "escape")
        await step("stock", "f3")
        await step("stock: receive goods", "f2")
        await step("stock: a product scanned", *"WATER", "enter")
        await step("stock: a line's quantity and cost", "f4")
        await step("stock: receiving after the line", "escape")
        await step("stock: leave without receiving?", "escape")
        await step("stock after receiving", "f10")
        await step("stock: count", "f3")
        await step("stock after the count", "escape")
        await step("today after the stock", "escape")
        await step("desk after today", "escape")
        await step("manager's area: a manager's PIN first", "f10")
        await step("manager's area", *"m01", "enter", *"2345", "enter")
        await step("staff", "1")
        await step("staff: filtered", *"m01")
        await step("staff: edit form", "f4")
        await step("staff again", "escape")
        await step("staff: reset PIN form", "f7")
        await step("staff after the reset PIN form", "escape")
        await step("staff: disable question", "up", "f6")
        await step("staff after the question", "escape")
        await step("manager's area again", "escape")
        await step("stores", "2")
        await step("stores: move form", "f7")
        await step("stores again", "escape")
        await step("stores: edit form", "f4")
        await step("manager's area after the stores", "escape", "escape")
        await step("card types", "3")
        await step("card types: add form", "f3")
        await step("manager's area after card types", "escape", "escape")
        await step("products", "4")
        await step("products: add form", "f3")
        await step("manager's area after products", "escape", "escape")
        await step("rules", "5")
        await step("manager's area after the rules", "escape")
        await step("tiers", "6")
        await step("tiers: edit form", "f4")
        await step("manager's area after tiers", "escape", "escape")
        await step("categories", "7")
        await step("categories: add form", "f3")
        await step("manager's area after categories", "escape", "escape")
        await step("price levels", "8")
        await step("price levels: add form", "f3")
        await step("manager's area after price levels", "escape", "escape")
        await step("price lists", "9")
        await step("price lists: add form", "f3")
        await step("manager's area after price lists", "escape", "escape")
        await step("member fields", "0")
        await step("member fields: add form", "f3")
        await step("manager's area after member fields", "escape", "escape")
        await step("batch top-up", "b")
        await step("manager's area after the batch top-up", "escape")
        await step("desk after the manager's area", "escape")
        app.offer_read(Read("card", "0099887766", "rdm6300"))
        await step("unknown card at the desk (no member to issue it to)")
        await step("desk after the unknown card", "escape")
        await step("clock in or out by code and PIN", "f4")
        await step("desk after the clock dialog", "escape")
        await step("who is clocked in", "f5")
        await step("desk after who is clocked in", "escape")
        await step("bookings: the day", "f6")
        await step("bookings: a free slot booked", "enter")
        await step("bookings after the booking form", "escape")
        await step("bookings: the day after", "f5")
        grid = app.screen
        grid.query_one("#bookings-grid", DataTable).cursor_coordinate = Coordinate(
            grid.grid.row_of(dt.datetime.combine(clock.today() + dt.timedelta(days=1), dt.time(10))), 1)
        for name, key in (("move", "f3"), ("cancel", "f8"), ("no-show", "f7")):
            await step(f"bookings: {name}", key)
            await step(f"bookings after {name}", "escape")
        await step("bookings: the list", "f9")
        await step("desk after the bookings", "escape")
        await step("classes: the day", "f7")
        await step("desk after the classes", "escape")
        app.offer_read(Read("card", "STAFF001", "rdm6300"))
        await step("a staff card swiped: the clock dialog")
        await step("desk after the staff card", "escape")
        app.lock_desk()
        await step("locked")
        await step("unlocked", *"0000", "enter")
        app.offer_read(Read("card", "00055555", "rdm6300"))
        await step("a lost card swiped: the warning")
        await step("desk after the warning", "escape")
        await step("desk: the search cleared", "escape")

        await step("member", *"00012345", "enter")
        await step("help", "f1")
        await step("member after help", "escape")
        await step("more", "f9")
        await step("member after more", "escape")
        app.offer_read(Read("card", "0099887766", "rdm6300"))
        await step("unknown card on a member's screen (issue it to them)")
        await step("member after the unknown card", "escape")
        for name, key in (("top up", "f4"), ("issue a card", "f6"), ("edit", "f7"), ("freeze: the question", "f8"),
                          ("lost card", "ctrl+l"), ("gift for points", "ctrl+g"), ("renew a pass", "ctrl+r"),
                          ("transfer visits", "ctrl+t"), ("family", "ctrl+f"), ("details", "ctrl+e"),
                          ("book", "ctrl+b"), ("service ticket", "ctrl+k")):
            await step(name, key)
            await step(f"member after {name}", "escape")
        await step("member: the full phone", "ctrl+o")
        await step("member: checked in", "f2")

        await step("history", "f5")
        screen = app.screen
        screen.query_one("#history", DataTable).move_cursor(
            row=next(i for i, row in enumerate(screen.rows) if row.kind == "checkout"))
        await step("history: a sale's receipt", "f6")
        await step("refund", "f8")
        await step("refund: a manager's PIN", *"不满意", "f10")
        await step("refund after the PIN asked", "escape")
        await step("history after the refund", "escape")
        await step("member after history", "escape")

        await step("checkout", "f3")
        await step("checkout: a line", *"HAIR", "enter")
        app.screen.query_one("#lines", DataTable).focus()
        await step("checkout: who served the line", "enter")
        await step("checkout: nobody chosen", "escape")
        app.screen.query_one("#code", Input).focus()
        await step("checkout: the coupon box", "f9")
        await step("checkout: the coupon box closed", "enter")
        screen = app.screen
        screen.query_one("#amount", Input).focus()
        await step("checkout: the amount box", *"10", "f4")
        await step("checkout: leave? (a line on the bill)", "escape")
        await step("checkout: stays", "escape")
        await step("checkout: a payment code", "f11")
        await step("checkout: the payment code put away", "escape")
        await step("checkout: paid", "f4", "f10")
        app.offer_read(Read("barcode", app.screen.txid, "barcode"))
        await step("the receipt's QR code scanned: the sale")
        await step("the receipt: its services to rate", "f7")
        await step("the receipt again", "escape")
        await step("the sale in the member's history", "f5")
        await step("checkout: paid, after the history", "escape")
        await step("member after the sale", "escape")
        await step("desk after the member", "escape")

        await step("today, to close the shift", "f8")
        await step("shift close", "f9")
        await step("shift closed: its report", *"1000", "f10")
        await step("logged out", "escape")
        from mms_tui.services.staff.admin import reset_pin

        reset_pin("m01", "8642", by=Staff.get(Staff.code == "admin"))
        await step("a reset PIN: a new one asked", *"m01", "enter", *"8642", "enter")
        await step("login, the new PIN put off", "escape")

    assert watch.differences == []
    assert set(watch.seen) == the_apps_screens()


class KeysScreen(Screen):
    """A screen whose keys come and go as ``state`` says (True shown, None disabled, False hidden): the paths of
    the footer no screen of the app takes today (no key of theirs is ever disabled, or hidden and shown again)."""

    def __init__(self, state: dict[str, bool | None]) -> None:
        super().__init__()
        self.state = state

    def compose(self):
        yield Label("keys")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.state.get(action, True)


async def footer_through(bindings: list[Binding], changes: list[dict[str, bool | None]]) -> list[tuple]:
    """Each change of ``state`` made on a screen with ``bindings``: (change, our keys, Textual's keys, whether our
    key widgets of before are still the ones shown)."""
    state: dict[str, bool | None] = dict(changes[0])
    screen = type("Keys", (KeysScreen,), {"BINDINGS": bindings})(state)
    app = App()
    seen = []
    async with app.run_test() as pilot:
        await app.push_screen(screen)
        for change in changes:
            state.update(change)
            ours = our_footer(screen)
            before = {(k.key, k.action): k for k in ours.query(FooterKey)}
            screen.refresh_bindings()
            await pilot.pause()
            await pilot.pause()
            after = [k for k in ours.query(FooterKey) if k.display]
            kept = all(before.get((k.key, k.action)) in (k, None) for k in after)
            seen.append((change, [key_as_shown(k) for k in after], await textuals_keys(screen, ours), kept))
    return seen


async def test_keys_disabled_hidden_and_shown_again_change_in_place_as_textual_shows_them():
    bindings = [Binding("f2", "one", "One"), Binding("f3", "two", "Two"), Binding("f4", "three", "Three"),
                Binding("f5", "four", "Four")]
    changes = [{"four": False}, {"two": None}, {"two": False}, {"two": True}, {"one": None, "three": False},
               {"one": True, "three": True}, {"four": True}]  # F5 shown for the first time: last, composed
    seen = await footer_through(bindings, changes)
    for change, ours, textuals, _kept in seen:
        assert ours == textuals, change
    # until F5 comes, the key widgets already there are changed, not made again
    assert [kept for *_rest, kept in seen] == [True] * (len(changes) - 1) + [False]


async def test_a_key_first_shown_later_takes_its_place_in_the_screens_order():
    bindings = [Binding("f2", "one", "One"), Binding("f3", "two", "Two"), Binding("f4", "three", "Three")]
    for change, ours, textuals, _kept in await footer_through(bindings, [{"two": False}, {"two": True}]):
        assert [k[0] for k in ours] == [k[0] for k in textuals], change


async def test_two_keys_of_one_action_show_once():
    bindings = [Binding("f2", "one", "One"), Binding("f5", "one", "One again")]
    for change, ours, textuals, _kept in await footer_through(bindings, [{}]):
        assert [k[0] for k in ours] == [k[0] for k in textuals], change

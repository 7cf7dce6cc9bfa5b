"""The reminders that come due by the calendar: cards and passes ending, points expiring, birthdays, coupons
issued, bookings coming up. The worker looks for them on each round (at most once an hour for the daily ones)
and writes each into the outbox under a key naming its cause, so looking twice writes nothing twice."""

from __future__ import annotations

import datetime as dt

import peewee

from mms_tui import clock
from mms_tui.db import is_sqlite, write_transaction
from mms_tui.models import Booking, BookingService, Card, CardType, Coupon, Member, ServiceItem, Staff, Store
from mms_tui.services.base.config import get_config, set_config
from mms_tui.services.base.resolve import Stores, at_stores, days_at_stores, store_zones
from mms_tui.services.loyalty.points import due_expiries, next_points_expiry
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.messages.outbox import enqueue_new, moment_text

#: a coupon issued this long ago or less still gets its message (a worker stopped for a day loses none)
COUPON_WINDOW = dt.timedelta(days=3)
DAILY = dt.timedelta(hours=1)


def _month_day(column: peewee.Node) -> peewee.Node:
    if is_sqlite():
        return peewee.fn.strftime("%m-%d", column)
    return peewee.fn.to_char(column, "MM-DD")


def _store_names() -> dict[int, str]:
    return dict(Store.select(Store.id, Store.name).tuples())


def _shop_name(names: dict[int, str]) -> str:
    root = Store.select(Store.name).where(Store.parent.is_null()).order_by(Store.id).first()
    return root.name if root else next(iter(names.values()), "")


def _at_home(query: peewee.ModelSelect, stores: Stores) -> peewee.ModelSelect:
    """``query`` kept to the members whose home is one of ``stores`` (None: every member)."""
    where = at_stores(Member.home_store, stores)
    return query if where is None else query.where(where)


def birthdays(today: dt.date, rules: Rules, stores: Stores = None) -> int:
    """The birthday greetings of ``today`` — the day of the members' home stores ``stores`` (None: everyone's)."""
    if not rules.messages.birthday:
        return 0
    names = _store_names()
    shop = _shop_name(names)
    rows = _at_home(Member.select(Member.id, Member.name, Member.home_store)
                    .where(_month_day(Member.birthday) == today.strftime("%m-%d"), Member.status == "active"),
                    stores).tuples()
    causes: list = []
    for member_id, name, store_id in rows:
        causes.append((member_id, "birthday", f"birthday:{member_id}:{today.year}",
                {"name": name, "store": names.get(store_id, shop)}, store_id))
    return enqueue_new(causes)


def cards_ending(today: dt.date, rules: Rules, stores: Stores = None) -> int:
    days = rules.messages.card_ending_days
    if not days:
        return 0
    names = _store_names()
    shop = _shop_name(names)
    rows = _at_home(Card.select(Card.id, Card.card_no, Card.valid_until, CardType.name, Member.id, Member.name,
                                Member.home_store)
                    .join(CardType).switch(Card).join(Member)
                    .where(Card.status == "active", Card.valid_until.between(today, today + dt.timedelta(days=days)),
                           Member.status == "active"), stores).tuples()
    causes: list = []
    for card_id, card_no, ends, type_name, member_id, name, store_id in rows:
        ends = ends if isinstance(ends, dt.date) else dt.date.fromisoformat(str(ends)[:10])
        causes.append((member_id, "card_ending", f"card_ending:{card_id}:{ends.isoformat()}", {
            "name": name, "store": names.get(store_id, shop), "card": card_no[-4:], "card_type": type_name,
            "ends": ends.isoformat(), "days": str((ends - today).days)}, store_id))
    return enqueue_new(causes)


def points_expiring(today: dt.date, rules: Rules, stores: Stores = None) -> int:
    days = rules.messages.points_expiring_days
    if not days or not rules.points.expire_months:
        return 0
    names = _store_names()
    shop = _shop_name(names)
    causes: list = []
    for due in due_expiries(today + dt.timedelta(days=days), rules, stores=stores):
        nxt = next_points_expiry(due.card_id, rules)
        if nxt is None or nxt.expires_on < today:
            continue
        member = Member.select(Member.name, Member.home_store, Member.status).where(Member.id == due.member_id).get()
        if member.status != "active":
            continue
        causes.append((due.member_id, "points_expiring", f"points:{due.card_id}:{nxt.expires_on.isoformat()}", {
            "name": member.name, "store": names.get(member.home_store_id, shop), "points": str(nxt.points),
            "expires": nxt.expires_on.isoformat()}, member.home_store_id))
    return enqueue_new(causes)


def coupons(now: dt.datetime, rules: Rules) -> int:
    if not rules.messages.coupon:
        return 0
    names = _store_names()
    shop = _shop_name(names)
    rows = (Coupon.select(Coupon.id, Coupon.promotion, Coupon.valid_until, Coupon.store, Member.id, Member.name,
                          Member.home_store)
            .join(Member).where(Coupon.issued_at >= now - COUPON_WINDOW, Coupon.used_at.is_null(),
                                Member.status == "active").tuples())
    promotions = {p.code: p.name for p in rules.promotions}
    causes: list = []
    for coupon_id, promotion, until, store_id, member_id, name, home in rows:
        causes.append((member_id, "coupon", f"coupon:{coupon_id}", {
            "name": name, "store": names.get(store_id or home, shop), "coupon": promotions.get(promotion, promotion),
            "expires": str(until or "")}, store_id or home))
    return enqueue_new(causes)


def bookings(now: dt.datetime, rules: Rules) -> int:
    hours = rules.messages.booking_hours
    if not hours:
        return 0
    names = _store_names()
    zones = store_zones()
    rows = (Booking.select(Booking.id, Booking.start, Booking.store, Staff.name, Member.id, Member.name)
            .join(Member).switch(Booking).join(Staff, on=(Booking.staff == Staff.id))
            .where(Booking.status == "booked", Booking.start > now, Booking.start <= now + dt.timedelta(hours=hours),
                   Member.status == "active").tuples())
    causes: list = []
    for booking_id, start, store_id, staff_name, member_id, name in rows:
        services = [s for (s,) in ServiceItem.select(ServiceItem.name).join(BookingService)
                    .where(BookingService.booking == booking_id).order_by(BookingService.position).tuples()]
        causes.append((member_id, "booking", f"booking:{booking_id}:{start.isoformat()}", {
            "name": name, "store": names.get(store_id, ""), "service": "、".join(services), "staff": staff_name,
            "time": moment_text(clock.wall_in(start, zones.get(store_id)))}, store_id))  # the store's own hour
    return enqueue_new(causes)


def write_due(rules: Rules, *, force: bool = False) -> dict[str, int]:
    """Write every reminder due now into the outbox; the daily ones at most once an hour (``force``: now), each
    store's members on their store's own day."""
    now = clock.now()
    written = {}
    with write_transaction():
        written["booking"] = bookings(now, rules)
        written["coupon"] = coupons(now, rules)
    last = get_config("message_daily_scan")
    if force or not last or now - dt.datetime.fromisoformat(last) >= DAILY:
        with write_transaction():
            written.update(birthday=0, card_ending=0, points_expiring=0)
            for today, stores in days_at_stores(now):
                written["birthday"] += birthdays(today, rules, stores)
                written["card_ending"] += cards_ending(today, rules, stores)
                written["points_expiring"] += points_expiring(today, rules, stores)
            set_config("message_daily_scan", now.isoformat(timespec="seconds"))
    return written

"""A realistic demo database: a salon-and-fitness studio with members, cards and months of history.

Everything is made through the same services the desk uses (so ``mms check`` holds), then each operation's
timestamps are moved back to the moment it is supposed to have happened. Deterministic for a given seed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from mms_tui import clock
from mms_tui.db import database, is_sqlite, write_transaction
from mms_tui.models import (
    AuditEvent,
    Card,
    CardType,
    Consent,
    Member,
    Product,
    Sale,
    ServiceItem,
    Staff,
    StockMove,
    Store,
    Transaction,
    Visit,
)
from mms_tui.services.base.config import get_config, set_config
from mms_tui.services.base.errors import DomainError
from mms_tui.services.catalogue.categories import ensure_categories
from mms_tui.services.ledger.chain import STATE_COLUMNS, rechain, record_states, row_states
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.ledger.tenders import Tender
from mms_tui.services.members.cards import issue_card, report_lost
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.passes import freeze_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.topup import top_up
from mms_tui.services.ops.setup import initialise
from mms_tui.services.staff.accounts import create_staff

#: how demo members pay, drawn at random (in this order, so a seed keeps making the same history)
DEMO_TENDERS = (Tender.CASH, Tender.WECHAT, Tender.ALIPAY, Tender.BANK_CARD)

DEMO_ADMIN = ("admin", "店长 王芳", "1234")
DEMO_STAFF = [("m01", "经理 李强", "manager", "2345"), ("c01", "前台 小陈", "cashier", "0000")]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强文博子涵欣怡梓萱浩然一诺宇轩雨桐思远佳怡俊杰晓东晓燕海燕红梅春花秋菊冬梅玉兰"

#: (code, barcode, name, category, price_fen, kind)
CATALOG = [
    ("HAIR", None, "精剪", "美发", 8_800, "service"),
    ("WASH", None, "洗护造型", "美发", 3_800, "service"),
    ("DYE", None, "染发", "美发", 38_800, "service"),
    ("MASSAGE", None, "肩颈按摩", "理疗", 19_800, "service"),
    ("SPA", None, "全身SPA", "理疗", 49_800, "service"),
    ("PT", None, "私教课", "健身", 30_000, "service"),
    ("YOGA", None, "瑜伽团课", "健身", 12_000, "service"),
    ("SHAMPOO", "6901234567892", "洗发水 500ml", "零售", 6_800, "product"),
    ("PROTEIN", "6923456789012", "乳清蛋白粉", "零售", 29_900, "product"),
    ("WATER", "6920000000012", "矿泉水", "零售", 300, "product"),
    ("TOWEL", "6930000000014", "运动毛巾", "零售", 3_500, "product"),
    ("COLORANT", "6940000000016", "染膏", "耗材", 0, "product"),  # not sold: the hair colour (DYE) uses it
]


@dataclass(frozen=True)
class DemoResult:
    members: int
    cards: int
    sales: int
    visits: int
    admin_code: str
    admin_pin: str


def is_seeded() -> bool:
    return get_config("demo_login") is not None


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN)
    if rng.random() < 0.6:
        given += rng.choice(GIVEN)
    return rng.choice(SURNAMES) + given[: rng.choice((1, 2))]


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        phone = rng.choice(("13", "15", "17", "18", "19")) + "".join(rng.choice("0123456789") for _ in range(9))
        if phone not in used:
            used.add(phone)
            return phone


def _recorded(table: str) -> set[int]:
    """Rows of ``table`` whose state is already in the audit (the defaults `mms init` made)."""
    return {int(s.split(":", 1)[1]) for (s,) in AuditEvent.select(AuditEvent.subject).where(
        AuditEvent.subject.startswith(f"{table}:")).tuples()}


def _backdate(txid: str, when: dt.datetime) -> None:
    """Move one operation's rows to the moment it happened in the story."""
    tx = Transaction.get(Transaction.txid == txid)
    Transaction.update(created_at=when).where(Transaction.id == tx.id).execute()
    AuditEvent.update(created_at=when).where(AuditEvent.txid == txid).execute()
    Sale.update(created_at=when).where(Sale.transaction == tx.id).execute()
    Visit.update(created_at=when).where(Visit.transaction == tx.id).execute()
    StockMove.update(created_at=when).where(StockMove.transaction == tx.id).execute()


#: what the demo's stores hold when the story starts: code, unit cost (fen), at the main store and at the branch,
#: and the low-stock threshold at each (the main store's protein powder is running low)
DEMO_STOCK = [("WATER", 80, 600, 120, 50, 50), ("SHAMPOO", 3_200, 160, 40, 20, 20),
              ("PROTEIN", 18_000, 110, 25, 60, 10), ("TOWEL", 1_200, 140, 30, 10, 10),
              ("COLORANT", 5, 12_000, 0, 3_000, 0)]


def _demo_stock(store: Store, branch: Store, start: dt.datetime) -> None:
    """Suppliers and the stock both stores start the story with, the hair colour's dye, thresholds; the sales of
    the story take from it."""
    from mms_tui.services.stock import receiving
    from mms_tui.services.stock import settings as stock_settings
    from mms_tui.services.stock.common import StockLine

    manager = Staff.get(Staff.code == "m01")
    receiving.save_supplier(manager, "ACME", name="华润怡宝 配送", contact="王经理", phone="02188886666")
    receiving.save_supplier(manager, "BEAUTY", name="美丽日化", contact="刘小姐", phone="13912345678")
    stock_settings.set_unit(manager, "COLORANT", "ml")
    stock_settings.set_consumption(manager, "DYE", "COLORANT", 60)
    for where, column in ((store, 2), (branch, 3)):
        lines = [StockLine(row[0], row[column], row[1]) for row in DEMO_STOCK if row[column]]
        txid = new_txid()
        receiving.receive(manager, lines, txid, store=where, supplier="BEAUTY", reference="期初")
        _backdate(txid, start - dt.timedelta(days=1))
        for row in DEMO_STOCK:
            if row[column]:
                stock_settings.set_low(manager, row[0], row[column + 2], store=where)


def seed_demo(members: int = 200, *, seed: int = 8, days: int = 180, progress: Callable[[int], None] | None = None) -> DemoResult:
    """Fill an empty database with ``members`` members and ``days`` of history ending today."""
    initialise(admin_code=DEMO_ADMIN[0], admin_name=DEMO_ADMIN[1], admin_pin=DEMO_ADMIN[2])
    if is_sqlite():
        database.execute_sql("PRAGMA synchronous=OFF")  # seeding only; the desk's connections keep FULL
    rng = random.Random(seed)
    store = Store.select().order_by(Store.id).first()
    with write_transaction():
        ensure_categories(c[3] for c in CATALOG)
        for code, barcode, name, category, price, kind in CATALOG:
            model = ServiceItem if kind == "service" else Product
            model.create(code=code, barcode=barcode, name=name, category=category, price_fen=price)
        branch = Store.create(code="BR1", name="城西店", parent=store)
    for code, name, role, pin in DEMO_STAFF:
        create_staff(code, name, role, pin, store=store)
    staff = list(Staff.select().where(Staff.role.in_(("cashier", "manager"))))
    today = clock.today()
    start = dt.datetime.combine(today - dt.timedelta(days=days), dt.time(9, 0))
    used: set[str] = set()
    services = [c for c in CATALOG if c[5] == "service"]
    products = [c for c in CATALOG if c[5] == "product" and c[4] > 0]
    sales = visits = 0
    _demo_stock(store, branch, start)

    seeded_at = clock.now()

    def moment(day_offset: int) -> dt.datetime:
        """A time of day during opening hours, never later than now (today's history has happened already)."""
        day = start + dt.timedelta(days=min(day_offset, days))
        when = day.replace(hour=rng.randint(9, 20), minute=rng.randint(0, 59), second=rng.randint(0, 59))
        return min(when, seeded_at - dt.timedelta(minutes=rng.randint(1, 90)))

    for i in range(members):
        clerk = rng.choice(staff)
        where = store if rng.random() < 0.8 else branch
        joined = rng.randint(0, days - 5)
        birthday = None
        if rng.random() < 0.8:
            birthday = dt.date(rng.randint(1965, 2005), rng.randint(1, 12), rng.randint(1, 28))
        if i < 3:  # someone always has a birthday this week
            birthday = dt.date(1990 + i, today.month, min(today.day, 28))
        reg = register_member(_name(rng), _phone(rng, used), clerk, new_txid(), gender=rng.choice("FFM"),
                              birthday=birthday, store=where)
        when = moment(joined)
        _backdate(reg.txid, when)
        Member.update(created_at=when).where(Member.id == reg.member_id).execute()
        member_id = reg.member_id
        # every member has a stored-value card; many also hold a package or a pass
        sv = issue_card(member_id, "SV", clerk, new_txid(), price_fen=0, store=where, on=when.date())
        _backdate(sv.txid, when)
        amount = rng.choice((50_000, 100_000, 100_000, 200_000, 300_000))
        tu = top_up(sv.card_id, amount, None, rng.choice(DEMO_TENDERS), clerk,
                    new_txid(), store=where)
        _backdate(tu.txid, when)
        extra = None
        roll = rng.random()
        if roll < 0.3:
            extra = issue_card(member_id, "V10", clerk, new_txid(), tender=Tender.WECHAT, store=where, on=when.date())
        elif roll < 0.5:
            month_start = when.date() if rng.random() < 0.5 else today - dt.timedelta(days=rng.randint(20, 29))
            extra = issue_card(member_id, "M1", clerk, new_txid(), tender="alipay", store=where, on=month_start)
        elif roll < 0.6:
            extra = issue_card(member_id, "Y1", clerk, new_txid(), tender=Tender.BANK_CARD, store=where, on=when.date())
        if extra is not None:
            _backdate(extra.txid, when)
        # history: visits and sales from joining until today
        day = joined
        while True:
            day += rng.randint(6, 40)
            if day > days:
                break
            when = moment(day)
            if extra is not None and rng.random() < 0.6:
                try:
                    ci = check_in(extra.card_id, clerk, new_txid(), store=where, on=when.date())
                    _backdate(ci.txid, when)
                    visits += 1
                except DomainError:
                    pass  # package used up or pass lapsed: the story goes on without it
            lines = [(rng.choice(services)[0], 1)]
            if rng.random() < 0.3:
                lines.append((rng.choice(products)[0], rng.randint(1, 2)))
            try:
                sale = _demo_sale(member_id, sv.card_id, lines, clerk, where, rng)
            except DomainError:
                continue
            _backdate(sale, when)
            sales += 1
        if progress is not None:
            progress(i + 1)
    # a few cards in every state the desk must show
    cards = list(Card.select().where(Card.status == "active").order_by(Card.id))
    if len(cards) > 10:
        report_lost(cards[5].id, staff[0], new_txid())
        for card in cards:
            if card.card_type.kind == "period":
                try:
                    freeze_card(card.id, staff[0], new_txid())
                    break
                except DomainError:
                    continue
    _demo_bookings(store, staff[0], rng)
    _demo_transfer(store, branch)
    _demo_care(staff[0])
    set_config_demo()
    with write_transaction():  # the history above was back-dated as it was made up: chain it as it now reads
        for table in STATE_COLUMNS:  # the demo's catalogue, made directly above, recorded as it stands
            record_states(table, [i for i in row_states(table) if i not in _recorded(table)])
        rechain()
    if is_sqlite():
        database.execute_sql("PRAGMA synchronous=FULL")
    return DemoResult(Member.select().count(), Card.select().count(), sales, visits, DEMO_ADMIN[0], DEMO_ADMIN[2])


#: the demo's performers: code, name, level, the services they perform
DEMO_PERFORMERS = [("t01", "发型师 王芳", "高级", ["HAIR", "WASH", "DYE"]), ("t02", "发型师 刘洋", "技师", ["HAIR", "WASH"]),
                   ("t03", "理疗师 陈静", "技师", ["MASSAGE", "SPA"]), ("t04", "教练 赵强", "高级", ["PT", "YOGA"])]
#: service → minutes
DEMO_DURATIONS = {"HAIR": 45, "WASH": 30, "DYE": 120, "MASSAGE": 60, "SPA": 90, "PT": 60, "YOGA": 60}


def _demo_bookings(store: Store, manager: Staff, rng: random.Random) -> None:
    """Performers, a treatment room, and bookings from today on (F6), a yoga class on the timetable with its
    sessions this week and places taken (F7) — all made yesterday, as a receptionist would have."""
    from mms_tui.services.bookings.appointments import book, set_service_rooms
    from mms_tui.services.bookings.classes import add_class_type, add_slot, book_class, generate_sessions
    from mms_tui.services.bookings.rooms import add_room
    from mms_tui.services.staff.admin import add_staff

    admin = Staff.get(Staff.code == DEMO_ADMIN[0])
    with write_transaction():
        for code, minutes in DEMO_DURATIONS.items():
            ServiceItem.update(duration_minutes=minutes).where(ServiceItem.code == code).execute()
    for code, name, level, services in DEMO_PERFORMERS:
        add_staff(code, name, by=admin, performer=True, level=level, services=services, store=store.code)
    add_room("SPA1", "理疗室一", store, admin)
    add_room("STUDIO", "团课教室", store, admin)
    set_service_rooms(admin, "SPA", ["SPA1"])
    today = clock.today()
    people = [m for (m,) in Member.select(Member.id).where(Member.home_store == store.id).order_by(Member.id)
              .tuples()]
    with clock.pinned(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(18))):
        n = 0
        for offset in range(3):  # today and the next two days
            day = today + dt.timedelta(days=offset)
            for code, _name, _level, services in DEMO_PERFORMERS[:3]:
                for hour in sorted(rng.sample(range(9, 20), 5)):
                    start = dt.datetime.combine(day, dt.time(hour, rng.choice((0, 30))))
                    with contextlib.suppress(DomainError):  # a slot the random draw made twice: the demo goes on
                        book(people[n % len(people)], [rng.choice(services)], manager, new_txid(), start=start,
                             staff=code, store=store)
                    n += 1
        add_class_type("YOGA", "瑜伽团课", 60, 12, admin)
        for weekday in (1, 3, 5, 6):
            add_slot(store, "YOGA", weekday, "19:00", "t04", admin, room="STUDIO")
        made = generate_sessions(store, today, today + dt.timedelta(days=6), admin).created
        holders = [c.member_id for c in Card.select().join(CardType).where(
            (Card.status == "active") & CardType.kind.in_(("visits", "period"))).order_by(Card.id)]
        for session in made[:2]:
            for member_id in holders[:8]:
                with contextlib.suppress(DomainError):  # a pass that does not cover the day: not booked
                    book_class(member_id, session.id, manager, new_txid())


def _demo_care(clerk: Staff) -> None:
    """Who said yes to what (a third to service notices, some to marketing by SMS, a few with an email address
    and a WeChat openid) and two service tickets: an open complaint on the first member, a question answered and
    closed (``mms tickets list --all``)."""
    from mms_tui.services.messages.tickets import add_note, close_ticket, open_ticket

    ids = [m for (m,) in Member.select(Member.id).order_by(Member.id).tuples()]
    now = clock.now()
    with write_transaction():
        rows = []
        for i, member_id in enumerate(ids):
            if i % 3 == 0:
                rows.append({"member": member_id, "channel": "notices", "given": True, "at": now, "staff": clerk})
            if i % 5 < 2:
                rows.append({"member": member_id, "channel": "sms", "given": i % 10 != 1, "at": now, "staff": clerk})
            if i % 7 == 0:
                Member.update(email=f"member{member_id}@example.com").where(Member.id == member_id).execute()
                rows.append({"member": member_id, "channel": "email", "given": True, "at": now, "staff": clerk})
        if rows:
            Consent.insert_many(rows).execute()
    if len(ids) < 2:
        return
    open_ticket(clerk, ids[0], "complaint", "洗头时水温太低", "上次洗头水太凉，希望下次注意")
    question = open_ticket(clerk, ids[1], "question", "年卡能否转给家人", "想把年卡转给女儿用")
    add_note(clerk, question.id, "年卡不能转让；次卡可以在家庭成员之间转次数。", answer=True)
    close_ticket(clerk, question.id, "已答复")


def _demo_transfer(store: Store, branch: Store) -> None:
    """Water sent to the branch this morning, not received yet (``mms stock transfers --in-transit``)."""
    from mms_tui.services.stock.common import StockLine
    from mms_tui.services.stock.transfers import send_transfer

    with contextlib.suppress(DomainError):  # the story sold it all: nothing to send
        send_transfer(Staff.get(Staff.code == "m01"), [StockLine("WATER", 24)], branch, new_txid(), store=store,
                      note="周末活动")


def _demo_sale(member_id: int, card_id: int, lines: list, clerk: Staff, store: Store, rng: random.Random) -> str:
    total = quote(member_id, lines).total_fen
    balance = Card.get_by_id(card_id)
    if balance.principal_fen + balance.bonus_fen >= total and rng.random() < 0.75:
        tenders = [("stored_value", total, card_id)]
    else:
        tenders = [(rng.choice(DEMO_TENDERS), total)]
    return checkout(member_id, lines, tenders, clerk, new_txid(), store=store).txid


#: the loyalty rules a demo desk runs on from today (its history was made under the defaults): a points gift
#: catalogue (a ¥10 coupon among its gifts), member day on Wednesdays, 满300减50 for everyone, a spring coupon to
#: hand out, a birthday gift
DEMO_RULES = {
    "points": {"days": [{"name": "会员日", "weekdays": [3], "multiplier": 2}],
               "gifts": [{"code": "TOWEL", "name": "运动毛巾", "points": 800},
                         {"code": "CASH10", "name": "¥10 现金券", "points": 1000, "coupon": "CASH10",
                          "valid_days": 30},
                         {"code": "CAKE", "name": "生日蛋糕", "points": 2000}]},
    "promotions": [
        {"code": "MJ300", "name": "满300减50", "kind": "threshold", "threshold": "300", "amount": "50", "auto": True,
         "stacking": "stackable"},
        {"code": "SPRING", "name": "春季护理券", "kind": "amount", "amount": "30", "auto": False},
        {"code": "CASH10", "name": "积分兑换¥10现金券", "kind": "amount", "amount": "10", "auto": False},
    ],
    "birthday": {"window": "week", "gift": "CAKE"},
}


def set_config_demo() -> None:
    from mms_tui.services.loyalty.rules_store import save_rules

    with write_transaction():
        set_config("demo_login", {"code": DEMO_ADMIN[0], "pin": DEMO_ADMIN[2]})
    save_rules(DEMO_RULES, Staff.get(Staff.code == DEMO_ADMIN[0]))

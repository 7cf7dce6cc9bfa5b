#!/usr/bin/env python3
"""A big, consistent database for the report benchmarks: members with cards and two years of desk activity.

    python scripts/bigdb.py PATH [--members 1000000] [--days 730] [--seed 5] [--check]
    python scripts/bigdb.py postgresql://postgres@127.0.0.1/mms_chain --chain [--members 1000000] [--check]

Members and their stored-value cards (opening balances as the import's one ledger transaction) come from
``mms import members`` of a generated CSV. Two years of sales, top-ups, visit packages and passes sold, check-ins
and refunds are then simulated day by day in memory — tier discounts, split tenders with change, stored value
principal before bonus, points earned and redeemed, tier upgrades, balance floors — and written with
:func:`mms_tui.db.bulk_insert` and explicit ids, not through the per-operation services: a million operations
through ``run_operation`` would take hours. What lands is what the desk would have written: every transaction's
entries balance, card caches equal the sum of their entries, sale totals equal their lines and their payments,
every transaction has its audit event (``--check`` runs ``mms check`` to prove it).

Per 1,000,000 members (a quarter of them holding a points card instead): about 815,000 sales with 1,220,000
lines, 140,000 top-ups, 36,000 visit packages and passes with 500,000 check-ins, 1 % of sales refunded — 1.5
million transactions, 5.0 million ledger entries, 1.56 million audit events, 3.0 GB of SQLite, built in about three
minutes. Deterministic for a seed (up to the dates, which end yesterday). Build under /tmp, never in the repo.

``--chain`` (issue #24) builds a chain instead of one shop with two branches: HQ, five regions of ten stores each,
every store with its manager, four cashiers and four performers; members live in the fifty stores (some much busier
than others) and spend 15 % of the time elsewhere, so stored value crosses stores and settlement has work to do.
With a ``postgresql://`` URL the database is dropped and made again, and everything is loaded with ``COPY``
(:func:`mms_tui.db.bulk_insert`) into tables whose indexes are built once at the end, then ``ANALYZE``d. Its
members top up twice as often and buy 1.4 times as often as the one shop's (they bring no opening value): per
1,000,000 members about 1.95 million transactions, 5.7 million ledger entries, 2.0 million audit events, 6.0 GB,
built in about 26 minutes on two cores (BENCHMARKS.md, "A chain on PostgreSQL").
"""

from __future__ import annotations

import argparse
import bisect
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mms_tui.db import (
    bulk_insert,
    database,
    first_free_id,
    indexes_rebuilt_after,
    is_sqlite,
    sync_id_sequence,
    write_transaction,
)
from mms_tui.models import (
    AuditEvent,
    Card,
    CardType,
    Commission,
    Entry,
    Member,
    Payment,
    Product,
    Punch,
    RosterDay,
    Sale,
    SaleLine,
    ServiceItem,
    ServiceRating,
    Staff,
    Store,
    Tier,
    Transaction,
    Visit,
)
from mms_tui.models.base import Moment
from mms_tui.models.ledger import FOLDED_ACTIONS
from mms_tui.services.base.sql import run_sql
from mms_tui.services.base.text import discount_label
from mms_tui.services.ledger import results
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.members.cards import CardResult
from mms_tui.services.members.checkin import CheckInResult
from mms_tui.services.money.checkout import CheckoutResult
from mms_tui.services.money.refund import RefundResult
from mms_tui.services.money.topup import TopUpResult
from mms_tui.services.ops.demo import CATALOG, GIVEN, SURNAMES

#: (code, name, share of members living there)
STORES = [("HQ", "总店", 0.5), ("BJ01", "朝阳店", 0.3), ("SH01", "静安店", 0.2)]
#: a chain (--chain): regions (code, name) of CHAIN_STORES_PER_REGION stores each, under HQ
REGIONS = [("R1", "华北大区"), ("R2", "华东大区"), ("R3", "华南大区"), ("R4", "西南大区"), ("R5", "东北大区")]
CHAIN_STORES_PER_REGION = 10
CITIES = ["北京", "上海", "广州", "成都", "沈阳"]


def chain_stores() -> list[tuple[str, str, str, float]]:
    """(code, name, region code, share of members living there): fifty stores, a few big ones and a long tail."""
    rows = []
    for r, (region, _name) in enumerate(REGIONS):
        for k in range(CHAIN_STORES_PER_REGION):
            n = r * CHAIN_STORES_PER_REGION + k + 1
            rows.append((f"S{n:02d}", f"{CITIES[r]}{k + 1}号店", region, 1.0 / (1 + k) ** 0.7))
    total = sum(share for *_rest, share in rows)
    return [(code, name, region, share / total) for code, name, region, share in rows]
#: operations per day per 1,000,000 members, on an average day (weekends busier, the business growing)
SALES_PER_DAY = 1120
TOPUPS_PER_DAY = 192
ISSUES_PER_DAY = 50
#: card type code → (share of packages and passes sold, check-ins used: (fewest, most))
PACKAGES = {"V10": (0.40, (4, 10)), "V30": (0.15, (10, 30)), "M1": (0.25, (3, 12)), "Q1": (0.12, (8, 30)),
            "Y1": (0.08, (20, 80))}
MONEY_TENDERS = (("wechat", 40), ("alipay", 25), ("cash", 25), ("bank_card", 10))
SALE_REFUND_RATE = 0.01
TOPUP_REFUND_RATE = 0.005
CHECKIN_REVERSAL_RATE = 0.003
FLUSH_DAYS = 20

TX_FIELDS = ("id", "txid", "kind", "staff", "store", "member", "created_at", "local_day", "reverses", "request_hash",
             "result", "note", "action", "subject", "payload")
ENTRY_FIELDS = ("transaction", "account", "card", "unit", "amount")
AUDIT_FIELDS = ("created_at", "staff", "store", "action", "subject", "txid", "payload")
SALE_FIELDS = ("id", "transaction", "member", "store", "staff", "created_at", "subtotal_fen", "discount_fen",
               "total_fen", "change_fen", "points_earned", "status")
LINE_FIELDS = ("sale", "product", "service", "code", "name", "category", "qty", "list_price_fen",
               "unit_price_fen", "line_total_fen", "discount_reason")
PAYMENT_FIELDS = ("sale", "tender", "amount_fen", "card", "principal_fen", "bonus_fen", "points")
VISIT_FIELDS = ("id", "transaction", "member", "card", "store", "staff", "created_at", "status")
CARD_FIELDS = ("id", "card_no", "reader_uid", "barcode", "member", "card_type", "status", "principal_fen",
               "bonus_fen", "points", "visits_left", "valid_from", "valid_until", "frozen_since",
               "frozen_days_total", "store", "issued_at")
CARD_ACCOUNT_UNITS = {"card.principal": "fen", "card.bonus": "fen", "card.points": "pt", "card.visits": "visit"}

Posting = tuple[str, int | None, str, int]  # account, card id, unit, amount


@dataclass(frozen=True)
class BuildStats:
    path: str
    members: int
    cards: int
    transactions: int
    entries: int
    sales: int
    visits: int
    first_day: str
    last_day: str
    build_s: float
    size_mb: float


def _dumps(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def write_member_csv(path: Path, members: int, first_day: dt.date, store_codes: list[tuple[str, float]],
                     seed: int, balances: bool = True) -> None:
    """Members in the order they joined (so member ids follow join dates): 35 % before the two years, the rest
    evenly during them; each with a stored-value card, about half with opening value (unless not ``balances``)
    and points."""
    rng = random.Random(seed)
    phones = rng.sample(range(10**9), members)
    old = int(members * 0.35)
    codes = [c for c, _share in store_codes]
    weights = [share for _c, share in store_codes]
    last_day = dt.date.today() - dt.timedelta(days=1)
    span = (last_day - first_day).days + 1
    statuses = ("正常",) * 197 + ("挂失", "挂失", "冻结")
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["姓名", "手机", "卡号", "余额", "赠送余额", "积分", "生日", "性别", "入会日期", "门店", "状态"])
        for i in range(members):
            if i < old:
                joined = first_day - dt.timedelta(days=1095 - i * 1095 // old)
            else:
                joined = first_day + dt.timedelta(days=(i - old) * span // (members - old))
            has_value = rng.random() < 0.5 and balances
            out.writerow([
                rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)[: rng.choice((0, 1))],
                f"13{phones[i]:09d}", f"{i + 1:010d}",
                f"{rng.randint(1, 3000)}.{rng.randint(0, 99):02d}" if has_value else "",
                rng.choice(("100", "200")) if has_value and rng.random() < 0.3 else "",
                str(rng.randint(1, 3000)) if rng.random() < 0.5 else "",
                f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", rng.choice("男女"),
                joined.isoformat(), rng.choices(codes, weights)[0], rng.choice(statuses),
            ])


class _Simulation:
    """The desk's operations on in-memory balances, producing the rows the services would have written."""

    def __init__(self, rng: random.Random, first_day: dt.date, days: int, scale: float,
                 sales_per_day: float = SALES_PER_DAY, topups_per_day: float = TOPUPS_PER_DAY) -> None:
        self.rng = rng
        self.sales_per_day = sales_per_day
        self.topups_per_day = topups_per_day
        self.first_day = first_day
        self.days = days
        self.scale = scale
        levels = {level.tier: level for level in load_rules().tiers.levels}  # what each tier gives
        self.tiers = sorted(
            (t.rank, t.id, t.code, t.name, levels[t.code].price_bp if t.code in levels else 10_000,
             levels[t.code].points_pct if t.code in levels else 100,
             (levels[t.code].upgrade_at or 0) if t.code in levels else 0) for t in Tier.select()
        )
        self.tier_rank_of_id = {t[1]: i for i, t in enumerate(self.tiers)}
        self.types = {t.code: t for t in CardType.select()}
        self.catalog = [("service", s.id, s.code, s.name, s.category, s.price_fen) for s in ServiceItem.select()]
        self.catalog += [("product", p.id, p.code, p.name, p.category, p.price_fen) for p in Product.select()]
        self.cashiers: dict[int, list[int]] = defaultdict(list)
        self.managers: dict[int, int] = {}
        for staff in Staff.select():
            if staff.role == "cashier":
                self.cashiers[staff.store_id].append(staff.id)
            else:
                self.managers.setdefault(staff.store_id, staff.id)
        self.stores = sorted(self.cashiers)  # where the desks are (a chain's HQ and regions sell nothing)
        # members, in join order (ids follow join dates)
        self.member_ids: list[int] = []
        self.joined: list[int] = []  # ordinal day
        self.home: dict[int, int] = {}
        self.tier_of: dict[int, int] = {}
        for member_id, created, store_id, tier_id in Member.select(
                Member.id, Member.created_at, Member.home_store, Member.tier).order_by(Member.id).tuples().iterator():
            self.member_ids.append(member_id)
            self.joined.append((created if isinstance(created, dt.date) else dt.date.fromisoformat(created[:10]))
                               .toordinal())
            self.home[member_id] = store_id
            self.tier_of[member_id] = self.tier_rank_of_id[tier_id]
        self.spend: dict[int, int] = defaultdict(int)
        # cards: balances by id
        size = first_free_id(Card) + int(ISSUES_PER_DAY * scale * days * 1.3) + 10
        self.principal = [0] * size
        self.bonus = [0] * size
        self.points = [0] * size
        self.visits_left = [0] * size
        self.active = [False] * size
        self.card_no: dict[int, str] = {}
        #: the member's imported card: stored value, or a points card when the old system had points only
        self.member_card: dict[int, int] = {}
        self.stored_value: set[int] = set()
        sv_type = self.types["SV"].id
        for card_id, member_id, number, type_id, principal, bonus, points, visits, status in Card.select(
                Card.id, Card.member, Card.card_no, Card.card_type, Card.principal_fen, Card.bonus_fen, Card.points,
                Card.visits_left, Card.status).tuples().iterator():
            self.principal[card_id], self.bonus[card_id] = principal, bonus
            self.points[card_id], self.visits_left[card_id] = points, visits
            self.active[card_id] = status == "active"
            self.card_no[card_id] = number
            self.member_card.setdefault(member_id, card_id)
            if type_id == sv_type:
                self.stored_value.add(card_id)
        self.packages: dict[int, tuple[int, str, int, int, int]] = {}  # card → member, kind, from, until, store
        self.next_card = first_free_id(Card)
        self.next_tx = first_free_id(Transaction)
        self.next_sale = first_free_id(Sale)
        self.next_visit = first_free_id(Visit)
        self.dirty_cards: set[int] = set()
        self.refunded_sales: list[tuple[int]] = []
        self.reversed_visits: list[tuple[int]] = []
        self.schedule: dict[int, list[int]] = defaultdict(list)  # day ordinal → package cards checking in
        self.counts = defaultdict(int)
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[str, list[tuple]] = {k: [] for k in
                                             ("card", "tx", "entry", "audit", "sale", "line", "payment", "visit")}

    # -- choosing --

    def pick_member(self, day_ord: int) -> int | None:
        """Most sales come from regulars: 1 % of members bring a fifth, a sixth of them nearly half."""
        bound = bisect.bisect_right(self.joined, day_ord)
        if bound < 100:
            return None
        r = self.rng.random()
        if r < 0.2:
            k = self.rng.randrange(bound // 100) * 100
        elif r < 0.65:
            k = self.rng.randrange(bound // 6) * 6
        else:
            k = self.rng.randrange(bound)
        return self.member_ids[k]

    def store_and_staff(self, member: int | None) -> tuple[int, int]:
        store = self.home.get(member) if member is not None and self.rng.random() < 0.85 else None
        if store is None or store not in self.cashiers:
            store = self.rng.choice(self.stores)
        return store, self.rng.choice(self.cashiers[store])

    def tender(self) -> str:
        return self.rng.choices([t for t, _w in MONEY_TENDERS], [w for _t, w in MONEY_TENDERS])[0]

    # -- writing rows --

    def transaction(self, kind: str, staff: int, store: int, member: int | None, when: dt.datetime,
                    postings: list[Posting], reverses: int | None = None, note: str = "") -> tuple[int, str]:
        tx_id = self.next_tx
        self.next_tx += 1
        txid = f"{self.rng.getrandbits(128):032x}"
        self.rows["tx"].append([tx_id, txid, kind, staff, store, member, when, when.date(), reverses,
                                hashlib.sha256(txid.encode()).digest(), b"", note, None, None, None])
        for account, card, unit, amount in postings:
            if amount == 0:
                continue
            self.rows["entry"].append((tx_id, account, card, unit, amount))
            if card is not None:
                self.move(card, account, amount)
        self.counts[kind] += 1
        return tx_id, txid

    def result(self, kind: type, payload: dict) -> None:
        """The last transaction's result as the desk stores it: the result dataclass's fields in order (what the
        simulation leaves out at their defaults), packed (services/ledger/results.py)."""
        shaped = {}
        for f in dataclasses.fields(kind):
            if f.name in payload:
                shaped[f.name] = payload[f.name]
            elif f.default is not dataclasses.MISSING:
                shaped[f.name] = f.default
            else:
                shaped[f.name] = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        self.rows["tx"][-1][TX_FIELDS.index("result")] = results.pack(json.dumps(shaped, default=str, ensure_ascii=False))

    def audit(self, when: dt.datetime, staff: int, store: int, action: str, subject: str, txid: str,
              payload: dict) -> None:
        last = self.rows["tx"][-1] if self.rows["tx"] else None
        if (action in FOLDED_ACTIONS and last is not None and last[1] == txid and last[3] == staff
                and last[4] == store and last[TX_FIELDS.index("action")] is None):  # as the desk keeps it (#27)
            last[-3:] = [action, subject, _dumps(payload)]
            return
        self.rows["audit"].append((when, staff, store, action, subject, txid, _dumps(payload)))

    def move(self, card: int, account: str, amount: int) -> None:
        balances = {"card.principal": self.principal, "card.bonus": self.bonus, "card.points": self.points,
                    "card.visits": self.visits_left}[account]
        balances[card] += amount
        if balances[card] < 0:
            raise AssertionError(f"card {card} {account} below zero")
        self.dirty_cards.add(card)

    def can_take(self, postings: list[Posting]) -> bool:
        """The balance floor a reversal must respect: nothing on a card may go below zero."""
        need: dict[tuple[int, str], int] = defaultdict(int)
        for account, card, _unit, amount in postings:
            if card is not None:
                need[(card, account)] += amount
        balances = {"card.principal": self.principal, "card.bonus": self.bonus, "card.points": self.points,
                    "card.visits": self.visits_left}
        return all(balances[account][card] + amount >= 0 for (card, account), amount in need.items())

    # -- operations --

    def sale(self, when: dt.datetime, day_ord: int, later: list) -> None:
        rng = self.rng
        member = self.pick_member(day_ord) if rng.random() < 0.8 else None
        store, staff = self.store_and_staff(member)
        tier = self.tiers[self.tier_of[member]] if member is not None else None
        bp = tier[4] if tier is not None else 10000
        lines = []
        for kind, item_id, code, name, category, price in rng.sample(self.catalog, rng.choices((1, 2, 3),
                                                                                               (60, 30, 10))[0]):
            qty = 1 if kind == "service" else rng.choice((1, 1, 1, 2, 3))
            unit = price if bp >= 10000 else (price * bp + 5000) // 10000
            reason = f"{tier[3]} {discount_label(bp)}" if tier is not None and bp < 10000 else ""
            lines.append({"kind": kind, "item_id": item_id, "code": code, "name": name, "category": category,
                          "qty": qty, "list_price_fen": price, "unit_price_fen": unit, "line_total_fen": unit * qty,
                          "discount_reason": reason, "explanations": [], "net_fen": unit * qty})
        subtotal = sum(x["list_price_fen"] * x["qty"] for x in lines)
        total = sum(x["line_total_fen"] for x in lines)
        postings: list[Posting] = [("revenue.sales", None, "fen", total)]
        payments: list[dict] = []
        card = self.member_card.get(member) if member is not None else None
        card_ok = card is not None and self.active[card]  # where points go, and come from
        sv = card if card_ok and card in self.stored_value else None
        money_paid = change = redeemed = 0
        if sv is not None and self.principal[sv] + self.bonus[sv] >= total and rng.random() < 0.55:
            principal = min(self.principal[sv], total)
            postings += [("card.principal", sv, "fen", -principal), ("card.bonus", sv, "fen", principal - total)]
            payments.append({"tender": "stored_value", "amount_fen": total, "card": sv, "principal_fen": principal,
                             "bonus_fen": total - principal})
            money_paid = principal
        else:
            remaining = total
            if card_ok and self.points[card] >= 1000 and rng.random() < 0.06:
                redeemed = min(self.points[card], remaining // 2) // 100 * 100
                if redeemed:
                    postings += [("card.points", card, "pt", -redeemed), ("points.redeemed", None, "pt", redeemed),
                                 ("expense.points", None, "fen", -redeemed)]
                    payments.append({"tender": "points", "amount_fen": redeemed, "card": card, "points": redeemed})
                    remaining -= redeemed
            tender = self.tender()
            if tender == "cash":
                change = -(-remaining // 1000) * 1000 - remaining  # paid up to the next ¥10
            postings.append((f"tender.{tender}", None, "fen", -remaining))
            payments.append({"tender": tender, "amount_fen": remaining, "card": None})
            money_paid = remaining
        earned = 0
        tier_code = None
        if member is not None:
            earned = money_paid * tier[5] // 10000 if card_ok else 0
            if earned:
                postings += [("card.points", card, "pt", earned), ("points.issued", None, "pt", -earned)]
        tx_id, txid = self.transaction("checkout", staff, store, member, when, postings)
        sale_id = self.next_sale
        self.next_sale += 1
        self.rows["sale"].append((sale_id, tx_id, member, store, staff, when, subtotal, subtotal - total, total,
                                  change, earned, "paid"))
        for x in lines:
            self.rows["line"].append((sale_id, x["item_id"] if x["kind"] == "product" else None,
                                      x["item_id"] if x["kind"] == "service" else None, x["code"], x["name"],
                                      x["category"], x["qty"], x["list_price_fen"], x["unit_price_fen"],
                                      x["line_total_fen"], x["discount_reason"]))
        for p in payments:
            self.rows["payment"].append((sale_id, p["tender"], p["amount_fen"], p["card"], p.get("principal_fen", 0),
                                         p.get("bonus_fen", 0), p.get("points", 0)))
        if member is not None:
            tier_code = self.apply_spend(member, money_paid, when, staff, store, txid)
        self.result(CheckoutResult, {"txid": txid, "sale_id": sale_id, "member_id": member, "subtotal_fen": subtotal,
                     "discount_fen": subtotal - total, "total_fen": total, "change_fen": change,
                     "points_earned": earned, "points_redeemed": redeemed, "tier_code": tier_code, "lines": lines,
                     "payments": payments, "spend_fen": money_paid if member is not None else 0})
        self.audit(when, staff, store, "sale.checkout", f"sale:{sale_id}", txid,
                   {"member": member, "total_fen": total, "payments": payments})
        if rng.random() < SALE_REFUND_RATE:
            later.append((when + dt.timedelta(minutes=rng.randint(5, 180)), "checkout", tx_id, txid, member, store,
                          postings, {"sale": sale_id, "money": money_paid}))

    def apply_spend(self, member: int, money: int, when: dt.datetime, staff: int, store: int, txid: str) -> str:
        self.spend[member] += money
        rank = self.tier_of[member]
        target = max(i for i, t in enumerate(self.tiers) if t[6] <= self.spend[member]) if money > 0 else rank
        if target > rank:
            self.tier_of[member] = target
            self.audit(when, staff, store, "member.tier_up", f"member:{member}", txid,
                       {"from": self.tiers[rank][2], "to": self.tiers[target][2], "spend_fen": self.spend[member]})
            self.counts["tier_up"] += 1
        return self.tiers[self.tier_of[member]][2]

    def top_up(self, when: dt.datetime, day_ord: int, later: list) -> None:
        rng = self.rng
        for _attempt in range(4):  # a quarter hold a points card only: the next customer in the queue
            member = self.pick_member(day_ord)
            sv = self.member_card.get(member) if member is not None else None
            if sv is not None and sv in self.stored_value and self.active[sv]:
                break
        else:
            return
        store, staff = self.store_and_staff(member)
        amount = rng.choices((20_000, 50_000, 100_000, 200_000, 300_000, 500_000), (15, 30, 30, 12, 8, 5))[0]
        bonus = amount // 5 if amount >= 100_000 and rng.random() < 0.5 else 0
        tender = self.tender()
        postings: list[Posting] = [("card.principal", sv, "fen", amount), (f"tender.{tender}", None, "fen", -amount),
                                   ("card.bonus", sv, "fen", bonus), ("expense.bonus", None, "fen", -bonus)]
        tx_id, txid = self.transaction("topup", staff, store, member, when, postings)
        self.result(TopUpResult, {"txid": txid, "card_id": sv, "card_no": self.card_no[sv], "member_id": member,
                     "amount_fen": amount, "bonus_fen": bonus, "tender": tender,
                     "principal_after": self.principal[sv], "bonus_after": self.bonus[sv]})
        self.audit(when, staff, store, "card.top_up", f"card:{sv}", txid,
                   {"amount_fen": amount, "bonus_fen": bonus, "tender": tender})
        if rng.random() < TOPUP_REFUND_RATE:
            later.append((when + dt.timedelta(minutes=rng.randint(5, 120)), "topup", tx_id, txid, member, store,
                          postings, {}))

    def issue(self, when: dt.datetime, day_ord: int, last_ord: int) -> None:
        rng = self.rng
        member = self.pick_member(day_ord)
        if member is None:
            return
        store, staff = self.store_and_staff(member)
        code = rng.choices(list(PACKAGES), [share for share, _uses in PACKAGES.values()])[0]
        ctype = self.types[code]
        card = self.next_card
        self.next_card += 1
        number = f"9{card:011d}"
        days = ctype.period_days if ctype.kind == "period" else ctype.validity_days
        valid_from = day_ord if ctype.kind == "period" else None
        until = day_ord + days - 1
        self.rows["card"].append((card, number, None, None, member, ctype.id, "active", 0, 0, 0, 0,
                                  dt.date.fromordinal(day_ord) if valid_from else None, dt.date.fromordinal(until),
                                  None, 0, store, when))
        self.card_no[card] = number
        self.active[card] = True
        tender = self.tender()
        postings: list[Posting] = [(f"tender.{tender}", None, "fen", -ctype.price_fen),
                                   ("revenue.cards", None, "fen", ctype.price_fen)]
        if ctype.kind == "visits":
            postings += [("card.visits", card, "visit", ctype.visits), ("visits.issued", None, "visit", -ctype.visits)]
        _tx_id, txid = self.transaction("issue", staff, store, member, when, postings)
        self.result(CardResult, {"txid": txid, "card_id": card, "card_no": number, "member_id": member, "kind": ctype.kind,
                     "status": "active", "principal_fen": 0, "bonus_fen": 0, "points": 0,
                     "visits_left": self.visits_left[card], "valid_until": dt.date.fromordinal(until).isoformat(),
                     "price_fen": ctype.price_fen})
        self.audit(when, staff, store, "card.issue", f"card:{card}", txid,
                   {"member": member, "type": code, "price_fen": ctype.price_fen, "tender": tender})
        self.packages[card] = (member, ctype.kind, valid_from or day_ord, until, store)
        fewest, most = PACKAGES[code][1]
        last = min(until, last_ord)
        for _ in range(rng.randint(fewest, most)):
            self.schedule[rng.randint(day_ord, last)].append(card)

    def check_in(self, when: dt.datetime, day_ord: int, card: int, later: list) -> None:
        member, kind, valid_from, until, home = self.packages[card]
        if not self.active[card] or not valid_from <= day_ord <= until:
            return
        if kind == "visits" and self.visits_left[card] <= 0:
            return
        store = home if self.rng.random() < 0.9 else self.rng.choice(self.stores)
        staff = self.rng.choice(self.cashiers[store])
        postings: list[Posting] = []
        if kind == "visits":
            postings = [("card.visits", card, "visit", -1), ("visits.used", None, "visit", 1)]
        tx_id, txid = self.transaction("checkin", staff, store, member, when, postings)
        visit = self.next_visit
        self.next_visit += 1
        self.rows["visit"].append((visit, tx_id, member, card, store, staff, when, "ok"))
        self.result(CheckInResult, {"txid": txid, "visit_id": visit, "card_id": card, "card_no": self.card_no[card],
                     "member_id": member, "kind": kind, "visits_left": self.visits_left[card],
                     "valid_until": dt.date.fromordinal(until).isoformat()})
        self.audit(when, staff, store, "card.check_in", f"card:{card}", txid, {"visits_left": self.visits_left[card]})
        if self.rng.random() < CHECKIN_REVERSAL_RATE:
            later.append((when + dt.timedelta(minutes=self.rng.randint(1, 30)), "checkin", tx_id, txid, member,
                          store, postings, {"visit": visit}))

    def refund(self, when: dt.datetime, kind: str, original: int, original_txid: str, member: int | None,
               store: int, postings: list[Posting], extra: dict) -> None:
        reverse = [(account, card, unit, -amount) for account, card, unit, amount in postings]
        if not self.can_take(reverse):
            return
        staff = self.managers[store]
        reason = {"checkout": "顾客不满意", "topup": "充错卡", "checkin": "误刷"}[kind]
        _tx_id, txid = self.transaction("refund", staff, store, member, when, reverse, reverses=original,
                                        note=reason)
        money = -sum(amount for account, _card, _unit, amount in reverse if account.startswith("tender."))
        if kind == "checkout":
            self.refunded_sales.append((extra["sale"],))
            if member is not None:
                self.spend[member] -= extra["money"]
        elif kind == "checkin":
            self.reversed_visits.append((extra["visit"],))
        self.result(RefundResult, {"txid": txid, "reversed_txid": original_txid, "kind": kind, "member_id": member,
                     "money_returned_fen": money, "entries": sum(1 for p in postings if p[3])})
        self.audit(when, staff, store, "ledger.refund", f"tx:{original_txid}", txid,
                   {"reverses": original_txid, "kind": kind, "reason": reason})

    # -- the story --

    def day(self, index: int, last_ord: int) -> None:
        rng = self.rng
        day = self.first_day + dt.timedelta(days=index)
        day_ord = day.toordinal()
        busy = (0.6 + 0.8 * index / self.days) * (1.35 if day.weekday() >= 5 else 1.0) / 1.1 * self.scale

        def how_many(per_day: float) -> int:
            return int(per_day * busy * rng.uniform(0.85, 1.15) + 0.5)

        def moment() -> int:
            return int(rng.triangular(9 * 3600, 22 * 3600 - 1, 18 * 3600))

        events: list[tuple[int, int, int]] = []  # second of the day, what, card
        events += [(moment(), 0, 0) for _ in range(how_many(self.sales_per_day))]
        events += [(moment(), 1, 0) for _ in range(how_many(self.topups_per_day))]
        events += [(moment(), 2, 0) for _ in range(how_many(ISSUES_PER_DAY))]
        events += [(moment(), 3, card) for card in self.schedule.pop(day_ord, [])]
        events.sort()
        midnight = dt.datetime.combine(day, dt.time())
        later: list = []
        for second, what, card in events:
            when = midnight + dt.timedelta(seconds=second)
            if what == 0:
                self.sale(when, day_ord, later)
            elif what == 1:
                self.top_up(when, day_ord, later)
            elif what == 2:
                self.issue(when, day_ord, last_ord)
            else:
                self.check_in(when, day_ord, card, later)
        end_of_day = midnight + dt.timedelta(hours=23, minutes=59, seconds=59)
        for item in sorted(later, key=lambda x: x[0]):
            self.refund(min(item[0], end_of_day), *item[1:])

    def flush(self) -> None:
        """Parents before children: the foreign keys are checked row by row."""
        r = self.rows
        bulk_insert(Card, CARD_FIELDS, r["card"])
        bulk_insert(Transaction, TX_FIELDS, r["tx"])
        bulk_insert(Entry, ENTRY_FIELDS, r["entry"])
        bulk_insert(Sale, SALE_FIELDS, r["sale"])
        bulk_insert(SaleLine, LINE_FIELDS, r["line"])
        bulk_insert(Payment, PAYMENT_FIELDS, r["payment"])
        bulk_insert(Visit, VISIT_FIELDS, r["visit"])
        bulk_insert(AuditEvent, AUDIT_FIELDS, r["audit"])
        self.counts["entries"] += len(r["entry"])
        self._reset()

    def finish(self) -> None:
        """Caches, spend, tiers and statuses as the operations left them."""
        bulk_update("card", ("principal_fen", "bonus_fen", "points", "visits_left"),
                    [(c, self.principal[c], self.bonus[c], self.points[c], self.visits_left[c])
                     for c in sorted(self.dirty_cards)])
        bulk_update("member", ("total_spend_fen", "tier_id"),
                    [(m, spend, self.tiers[self.tier_of[m]][1]) for m, spend in sorted(self.spend.items())])
        bulk_update("sale", ("status",), [(sale, "refunded") for (sale,) in self.refunded_sales])
        bulk_update("visit", ("status",), [(visit, "reversed") for (visit,) in self.reversed_visits])


def bulk_update(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Set ``columns`` of many rows by id (each row: id, then the values): ``executemany`` on SQLite; on PostgreSQL
    a temporary table filled by ``COPY`` and one ``UPDATE … FROM`` (row-by-row updates there are a round trip
    each)."""
    if not rows:
        return
    if is_sqlite():
        sets = ", ".join(f'"{c}" = ?' for c in columns)
        database.cursor().executemany(f'UPDATE "{table}" SET {sets} WHERE id = ?',
                                      [(*row[1:], row[0]) for row in rows])
        return
    import io

    from mms_tui.db import _copy_text

    scratch = f"bulk_{table}"
    database.execute_sql(f'CREATE TEMP TABLE "{scratch}" ON COMMIT DROP AS SELECT "id", '
                         + ", ".join(f'"{c}"' for c in columns) + f' FROM "{table}" WITH NO DATA')
    text = "".join("\t".join(_copy_text(v) for v in row) + "\n" for row in rows)
    database.cursor().copy_expert(f'COPY "{scratch}" FROM STDIN', io.StringIO(text))
    sets = ", ".join(f'"{c}" = b."{c}"' for c in columns)
    database.execute_sql(f'UPDATE "{table}" t SET {sets} FROM "{scratch}" b WHERE t."id" = b."id"')


#: the last month's staff work (issue #20): performers per store, the share of service lines with an assistant, the
#: share rated by the member, and each staff member's roster (Monday to Saturday)
PERFORMERS_PER_STORE = 4
ASSISTED_RATE = 0.2
RATED_RATE = 0.2
STAFF_DAYS = 30


def staff_month(rng: random.Random, last_day: dt.date, log: Callable[[str], None]) -> dict[str, int]:
    """A month of staff at work, as the desk would have recorded it: performers (and who performs what), a roster,
    clock-ins and clock-outs (some late, a few forgotten), the performers of every service line sold in the month
    that was not refunded, with their commission (lead 10 %, assistant 5 % of their share of the line's money), and
    members' ratings of some services."""
    performers: dict[int, list[int]] = {}
    for staff_id, store_id in Staff.select(Staff.id, Staff.store).where(Staff.performer).tuples():
        performers.setdefault(store_id, []).append(staff_id)
    everyone = [(s.id, s.store_id) for s in Staff.select(Staff.id, Staff.store) if s.store_id is not None]
    RosterDay.insert_many([{"staff": sid, "weekday": wd, "start": "09:00", "end": "18:00"}
                           for sid, _store in everyone for wd in range(1, 7)]).execute()
    first = last_day - dt.timedelta(days=STAFF_DAYS - 1)
    punches, n = [], 0
    for offset in range(STAFF_DAYS):
        day = first + dt.timedelta(days=offset)
        if day.isoweekday() == 7:
            continue
        for sid, store in everyone:
            if rng.random() < 0.03:  # absent
                continue
            start = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=rng.triangular(-15, 25, -3))
            n += 1
            punches.append((sid, store, "in", start, start, "card", sid, f"bigdb-punch-{n}", False, ""))
            if rng.random() < 0.02:  # a forgotten clock-out
                continue
            end = dt.datetime.combine(day, dt.time(18)) + dt.timedelta(minutes=rng.triangular(-30, 90, 5))
            n += 1
            punches.append((sid, store, "out", end, end, "card", sid, f"bigdb-punch-{n}", False, ""))
    bulk_insert(Punch, ("staff", "store", "kind", "at", "recorded_at", "source", "recorded_by", "txid", "void",
                        "reason"), punches)
    lines = run_sql(
        'SELECT l.id, s.id, s.transaction_id, s.store_id, s.created_at, l.line_total_fen, s.staff_id '
        'FROM "sale_line" l JOIN "sale" s ON s.id = l.sale_id JOIN "ledger_transaction" t ON t.id = s.transaction_id '
        "WHERE l.service_id IS NOT NULL AND s.status = 'paid' AND t.local_day >= ?", (first,)).fetchall()
    rows, ratings = [], []
    for line_id, sale_id, tx_id, store, created, money, cashier in lines:
        created = Moment.from_db(created)
        pool = performers[store]
        lead = rng.choice(pool)
        credits = [(lead, "lead", 10_000, 1000)]
        if rng.random() < ASSISTED_RATE:
            helper = rng.choice([p for p in pool if p != lead])
            credits = [(lead, "lead", 7000, 1000), (helper, "assistant", 3000, 500)]
        for staff, role, share, rate in credits:
            base = money * share // 10_000
            rows.append((tx_id, sale_id, line_id, staff, store, created, role, share, base, rate, 0, 1,
                         base * rate // 10_000, "bigdb", "bigdb"))
        if rng.random() < RATED_RATE:
            ratings.append((line_id, lead, rng.choices((5, 4, 3, 2, 1), (55, 30, 10, 3, 2))[0], cashier, created))
    bulk_insert(Commission, ("transaction", "sale", "line", "staff", "store", "created_at", "role", "share_bp",
                             "base_fen", "rate_bp", "fixed_fen", "units", "amount_fen", "rule", "rules_version"), rows)
    bulk_insert(ServiceRating, ("line", "staff", "rating", "recorded_by", "created_at"), ratings)
    log(f"  the last {STAFF_DAYS} days' staff work: {len(punches):,} punches, {len(rows):,} commission rows, "
        f"{len(ratings):,} ratings")
    return {"punches": len(punches), "commissions": len(rows), "ratings": len(ratings)}


def _fresh_postgres(url: str) -> None:
    """Drop the database the URL names and make it again, empty (a benchmark database, never a shop's)."""
    import urllib.parse

    import psycopg2

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"give a plain database name in the URL, not {name!r}")
    admin = psycopg2.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def build(path: str | Path, members: int = 1_000_000, *, days: int = 730, seed: int = 5, check: bool = False,
          chain: bool = False, log: Callable[[str], None] = print) -> BuildStats:
    """Make the database at ``path`` (a SQLite file or a ``postgresql://`` URL, replacing one already there) and
    return what it holds; ``chain``: fifty stores in five regions instead of one shop with two branches."""
    from mms_tui.db import close_database
    from mms_tui.services.exchange.importing import import_file
    from mms_tui.services.ops.setup import connect, initialise
    from mms_tui.services.staff.accounts import create_staff

    started = time.perf_counter()
    url = "://" in str(path)
    if url:
        _fresh_postgres(str(path))
    else:
        path = Path(path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    connect(str(path))
    initialise(admin_code="admin", admin_name="店长", admin_pin="1234")
    homes: list[tuple[str, float]] = [(c, share) for c, _n, share in STORES]
    with write_transaction():
        hq = Store.select().order_by(Store.id).first()
        if chain:
            hq.kind = "hq"
            hq.save()
            regions = {code: Store.create(code=code, name=name, parent=hq, kind="region") for code, name in REGIONS}
            for code, name, region, _share in chain_stores():
                Store.create(code=code, name=name, parent=regions[region])
            homes = [(code, share) for code, _n, _r, share in chain_stores()]
        else:
            for code, name, _share in STORES[1:]:
                Store.create(code=code, name=name, parent=hq)
        for code, barcode, name, category, price, kind in CATALOG:
            model = ServiceItem if kind == "service" else Product
            model.create(code=code, barcode=barcode, name=name, category=category, price_fen=price)
    from mms_tui.services.staff.admin import add_staff

    services = [code for (code,) in ServiceItem.select(ServiceItem.code).tuples()]
    admin = Staff.get(Staff.code == "admin")
    for n, store in enumerate(Store.select().where(Store.kind != "region").order_by(Store.id)):
        if chain and store.kind == "hq":
            continue  # HQ works through the admin and the managers; it has no desk
        create_staff(f"m{n + 1:02d}", f"经理{n + 1}", "manager", "2345", store=store)
        for k in range(4):
            create_staff(f"c{n + 1}{k + 1}", f"前台{n + 1}-{k + 1}", "cashier", "0000", store=store)
        for k in range(PERFORMERS_PER_STORE):  # stylists and therapists (issue #20)
            add_staff(f"p{n + 1}{k + 1}", f"技师{n + 1}-{k + 1}", by=admin, store=store.code, performer=True,
                      level=("高级", "中级", "助理")[k % 3], services=services)
    last_day = dt.date.today() - dt.timedelta(days=1)
    first_day = last_day - dt.timedelta(days=days - 1)
    csv_path = (Path(tempfile.mkdtemp(prefix="mms-bigdb-")) / "members.csv" if url
                else Path(path).with_suffix(".members.csv"))
    log(f"writing {members:,} members to {csv_path}")
    # a chain's opening value would all be held by the store the import names: its stored value comes from top-ups
    # at its stores instead, so every lot of principal has its own store (settlement, issue #24)
    write_member_csv(csv_path, members, first_day, homes, seed, balances=not chain)
    log("importing them")
    imported = import_file("members", csv_path, store=homes[0][0])
    csv_path.unlink()
    opening = dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(8, 0))
    with write_transaction():
        # the old system's balances arrive the day before the story starts; cards were issued when members joined
        Transaction.update(created_at=opening).where(Transaction.txid == imported.txid).execute()
        AuditEvent.update(created_at=opening).where(AuditEvent.txid == imported.txid).execute()
        database.execute_sql('UPDATE "card" SET issued_at = (SELECT m.created_at FROM "member" m '
                             'WHERE m.id = "card".member_id)')
    log(f"imported in {time.perf_counter() - started:.0f} s; simulating {days} days")
    last_ord = last_day.toordinal()
    if is_sqlite():
        # a one-off load into a file nobody else has open: no journal, no fsync (the desk's connections keep theirs)
        database.execute_sql("PRAGMA journal_mode=OFF")
        database.execute_sql("PRAGMA synchronous=OFF")
        database.execute_sql("PRAGMA cache_size=-500000")
    else:  # one transaction at the end; the server keeps its fsync
        database.execute_sql("SET synchronous_commit = off")
    with write_transaction():
        # a chain's members have no opening value: they top up twice as often, and spend a little more often
        sim = _Simulation(random.Random(seed), first_day, days, members / 1_000_000,
                          sales_per_day=SALES_PER_DAY * (1.4 if chain else 1),
                          topups_per_day=TOPUPS_PER_DAY * (2 if chain else 1))
        with indexes_rebuilt_after([Transaction, Entry, AuditEvent, Sale, SaleLine, Payment, Visit]):
            for index in range(days):
                sim.day(index, last_ord)
                if index % FLUSH_DAYS == FLUSH_DAYS - 1 or index == days - 1:
                    sim.flush()
                    log(f"  day {index + 1}/{days}: {sim.next_tx - 1:,} transactions, "
                        f"{sim.counts['entries']:,} entries ({time.perf_counter() - started:.0f} s)")
            log(f"building indexes ({time.perf_counter() - started:.0f} s)")
        for model in (Card, Transaction, Sale, Visit):  # written with explicit ids
            sync_id_sequence(model)
        if not is_sqlite():  # the planner's figures for what was just loaded, before the queries below read it
            database.execute_sql("ANALYZE")
        sim.finish()
        staff_month(random.Random(seed + 1), last_day, log)
        # the history was written here directly, not through the services: chain it as mms check expects
        from mms_tui.services.ledger.chain import rechain

        log(f"chaining the history (hash chains, #15) ({time.perf_counter() - started:.0f} s)")
        rechain()
    if is_sqlite():
        database.execute_sql("PRAGMA journal_mode=WAL")
    else:
        log(f"analyze ({time.perf_counter() - started:.0f} s)")
        database.execute_sql("ANALYZE")
    if check:
        from mms_tui.services.ledger.check import check_ledger

        log(f"mms check ({time.perf_counter() - started:.0f} s)")
        problems = check_ledger()
        for problem in problems[:20]:
            log(f"  {problem}")
        if problems:
            raise SystemExit(f"mms check found {len(problems)} problems")
        log("  mms check: all invariants hold")

    def count(model: type) -> int:
        return database.execute_sql(f'SELECT COUNT(*) FROM "{model._meta.table_name}"').fetchone()[0]

    stats = BuildStats(str(path), count(Member), count(Card), count(Transaction), count(Entry), count(Sale),
                       count(Visit), first_day.isoformat(), last_day.isoformat(),
                       round(time.perf_counter() - started, 1), round(_size_bytes(path) / 1e6))
    close_database()
    return stats


def _size_bytes(path: str | Path) -> int:
    if is_sqlite():
        return Path(path).stat().st_size
    return database.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description="build a big mms database for the report benchmarks")
    parser.add_argument("path")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="run mms check on the result")
    parser.add_argument("--chain", action="store_true", help="fifty stores in five regions (issue #24)")
    args = parser.parse_args()
    stats = build(args.path, args.members, days=args.days, seed=args.seed, check=args.check, chain=args.chain,
                  log=lambda text: print(text, file=sys.stderr))
    print(json.dumps(asdict(stats), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

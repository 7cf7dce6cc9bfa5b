"""The desk search: one string (typed, scanned or swiped) → members, best match first.

Ranking, highest first:

1. ``card`` — exact card number, reader UID or printed barcode;
2. ``phone`` — the full mobile number (any spelling: ``+86 138-0013-8000``);
3. ``last4`` — exactly four digits: the last four of the phone;
4. ``phone_prefix`` — five to ten digits: the start of a phone number;
5. ``name`` — the start of the name as written (张, 张三, Alice);
6. ``initials`` — pinyin initials (张三 → ``zs``), then ``pinyin`` — full pinyin (``zhangs``).

Every path is an indexed equality or prefix range (``key >= q AND key < q || U+FFFF`` on SQLite), so a lookup
reads a handful of index pages whatever the number of members. Results are capped by ``limit``.

This is the desk's hottest path (every swipe, every keystroke search), so its SQL is written out once here and run
through peewee's connection as plain statements: building the same queries through the ORM each time cost ten
times more than the database's own work (BENCHMARKS.md, lookups).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mms_tui.db import is_sqlite
from mms_tui.models import Card
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import card_key
from mms_tui.services.base.sql import fetch_rows as _run
from mms_tui.services.base.text import (
    has_cjk,
    mask_phone,
    normalise_phone,
    normalise_query,
)

MATCH_RANK = ("card", "phone", "last4", "phone_prefix", "name", "initials", "pinyin")
_LETTERS = re.compile(r"^[a-z]+$")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class CardSummary:
    card_no: str
    kind: str
    type_name: str
    status: str
    principal_fen: int
    bonus_fen: int
    points: int
    visits_left: int
    valid_until: str | None


def card_summary(c: Card) -> CardSummary:
    return CardSummary(c.card_no, c.card_type.kind, c.card_type.name, c.status, c.principal_fen, c.bonus_fen,
                       c.points, c.visits_left, c.valid_until.isoformat() if c.valid_until else None)


@dataclass(frozen=True)
class LookupHit:
    member_id: int
    name: str
    phone_masked: str
    tier: str
    status: str
    match: str  # one of MATCH_RANK
    matched_card: str | None = None  # the card that was swiped or typed, for a card match
    cards: list[CardSummary] = field(default_factory=list)

    @property
    def stored_value_fen(self) -> int:
        return sum(c.principal_fen + c.bonus_fen for c in self.cards if c.status == "active")

    @property
    def points(self) -> int:
        return sum(c.points for c in self.cards if c.status == "active")


# --- the statements (``?`` placeholders, turned into the backend's own by :func:`_run`, common.fetch_rows) -------

#: member ids by an exact key or a prefix of one: {column} is one of the member table's search keys
EXACT_SQL = 'SELECT id FROM "member" WHERE {column} = ? ORDER BY id LIMIT ?'
PREFIX_SQL = {
    "sqlite": 'SELECT id FROM "member" WHERE {column} >= ? AND {column} < ? ORDER BY id LIMIT ?',
    "other": 'SELECT id FROM "member" WHERE {column} LIKE ? ORDER BY id LIMIT ?',
}
MEMBERS_SQL = ('SELECT m.id, m.name, m.phone, t.name, m.status FROM "member" m JOIN "tier" t ON t.id = m.tier_id '
               'WHERE m.id IN ({ids})')
CARDS_SQL = ('SELECT c.member_id, c.card_no, ct.kind, ct.name, c.status, c.principal_fen, c.bonus_fen, c.points, '
             'c.visits_left, c.valid_until FROM "card" c JOIN "card_type" ct ON ct.id = c.card_type_id '
             'WHERE c.member_id IN ({ids}) ORDER BY c.id')


def _exact(column: str, value: str, limit: int) -> list[int]:
    return [row[0] for row in _run(EXACT_SQL.format(column=column), (value, limit))]


def _prefixed(column: str, prefix: str, limit: int) -> list[int]:
    if is_sqlite():
        return [row[0] for row in _run(PREFIX_SQL["sqlite"].format(column=column), (prefix, prefix + "\uffff", limit))]
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [row[0] for row in _run(PREFIX_SQL["other"].format(column=column), (escaped + "%", limit))]


def _card(query: str, as_read: bool = False) -> tuple[int, str] | None:
    """(member id, card number) of the card ``query`` names (resolve.card_key: number, reader UID, barcode)."""
    found = card_key(query, as_read=as_read)
    return (found[1], found[2]) if found else None


def _candidates(query: str, limit: int, as_read: bool = False) -> Iterable[tuple[str, list[int], str | None]]:
    card = _card(query, as_read)
    if card is not None:
        yield "card", [card[0]], card[1]
    digits = re.sub(r"[\s\-()+]", "", query)
    if _DIGITS.match(digits):
        try:
            phone = normalise_phone(query)
        except InvalidInput:
            phone = None
        if phone is not None:
            yield "phone", _exact("phone", phone, limit), None
        elif len(digits) == 4:
            yield "last4", _exact("phone_last4", digits, limit), None
        elif 5 <= len(digits) <= 10 and digits.startswith("1"):
            yield "phone_prefix", _prefixed("phone", digits, limit), None
        return
    yield "name", _prefixed("name", query, limit), None
    lowered = query.lower().replace(" ", "")
    if not has_cjk(query) and _LETTERS.match(lowered):
        yield "initials", _prefixed("name_initials", lowered, limit), None
        yield "pinyin", _prefixed("name_pinyin", lowered, limit), None


def lookup(query: str, limit: int = 20, *, as_read: bool = False) -> list[LookupHit]:
    """Members matching ``query``, best match first, at most ``limit``. An empty query finds nothing. ``as_read``:
    the query is a serial reader's decoded UID (see :func:`~mms_tui.services.base.resolve.card_key`)."""
    query = normalise_query(query)
    if not query or limit <= 0:
        return []
    ranked: dict[int, tuple[str, str | None]] = {}
    for match, ids, card_no in _candidates(query, limit, as_read):
        for member_id in ids:
            ranked.setdefault(member_id, (match, card_no))
        if len(ranked) >= limit:
            break
    ids = list(ranked)[:limit]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    members = {row[0]: row for row in _run(MEMBERS_SQL.format(ids=marks), ids)}
    cards: dict[int, list[CardSummary]] = {i: [] for i in ids}
    for member_id, card_no, kind, type_name, status, principal, bonus, points, visits, until in _run(
            CARDS_SQL.format(ids=marks), ids):
        cards[member_id].append(CardSummary(card_no, kind, type_name, status, principal, bonus, points, visits,
                                            str(until)[:10] if until else None))
    hits = []
    for member_id in ids:
        _id, name, phone, tier, status = members[member_id]
        match, card_no = ranked[member_id]
        hits.append(LookupHit(member_id, name, mask_phone(phone), tier, status, match, card_no, cards[member_id]))
    return hits

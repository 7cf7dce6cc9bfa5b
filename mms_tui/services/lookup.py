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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import peewee

from mms_tui.db import is_sqlite
from mms_tui.models import Card, CardType, Member, Tier
from mms_tui.services.common import find_card
from mms_tui.services.errors import InvalidInput
from mms_tui.services.text import has_cjk, mask_phone, normalise_phone, normalise_query

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


def _prefix(column: peewee.Field, prefix: str) -> peewee.Expression:
    if is_sqlite():
        return (column >= prefix) & (column < prefix + "\uffff")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return peewee.Expression(column, "LIKE", escaped + "%")


def _members(where: peewee.Expression, limit: int) -> list[int]:
    return [m.id for m in Member.select(Member.id).where(where).order_by(Member.id).limit(limit)]


def _candidates(query: str, limit: int) -> Iterable[tuple[str, list[int], str | None]]:
    card = find_card(query)
    if card is not None:
        yield "card", [card.member_id], card.card_no
    digits = re.sub(r"[\s\-()+]", "", query)
    if _DIGITS.match(digits):
        try:
            phone = normalise_phone(query)
        except InvalidInput:
            phone = None
        if phone is not None:
            yield "phone", _members(Member.phone == phone, limit), None
        elif len(digits) == 4:
            yield "last4", _members(Member.phone_last4 == digits, limit), None
        elif 5 <= len(digits) <= 10 and digits.startswith("1"):
            yield "phone_prefix", _members(_prefix(Member.phone, digits), limit), None
        return
    yield "name", _members(_prefix(Member.name, query), limit), None
    lowered = query.lower().replace(" ", "")
    if not has_cjk(query) and _LETTERS.match(lowered):
        yield "initials", _members(_prefix(Member.name_initials, lowered), limit), None
        yield "pinyin", _members(_prefix(Member.name_pinyin, lowered), limit), None


def lookup(query: str, limit: int = 20) -> list[LookupHit]:
    """Members matching ``query``, best match first, at most ``limit``. An empty query finds nothing."""
    query = normalise_query(query)
    if not query or limit <= 0:
        return []
    ranked: dict[int, tuple[str, str | None]] = {}
    for match, ids, card_no in _candidates(query, limit):
        for member_id in ids:
            ranked.setdefault(member_id, (match, card_no))
        if len(ranked) >= limit:
            break
    ids = list(ranked)[:limit]
    if not ids:
        return []
    members = {
        m.id: m for m in Member.select(Member, Tier).join(Tier).where(Member.id.in_(ids))
    }
    cards: dict[int, list[CardSummary]] = {i: [] for i in ids}
    for c in Card.select(Card, CardType).join(CardType).where(Card.member.in_(ids)).order_by(Card.id):
        cards[c.member_id].append(card_summary(c))
    hits = []
    for member_id in ids:
        m = members[member_id]
        match, card_no = ranked[member_id]
        hits.append(LookupHit(m.id, m.name, mask_phone(m.phone), m.tier.name, m.status, match, card_no,
                              cards[member_id]))
    return hits

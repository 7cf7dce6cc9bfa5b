"""企业批量充值: a company pays for many members' stored-value cards at once.

A batch is a list of lines — a card (its number, or a member's phone when they hold one stored-value card), an
amount and, if the file says so, a bonus — under one **reference** (the company's transfer, invoice or contract
number) and one money tender. :func:`preview_batch` resolves every line and names every bad one at once, with the
bonus and tier the loyalty rules in force give each amount (the same rules as a top-up at the desk; a bonus the
file gives instead is a manager's decision, which the batch is anyway). :func:`post_batch` needs a manager
(permission ``topup.batch``) and writes all of it or nothing, in one database transaction: each line becomes an
ordinary top-up (kind ``topup``, in the top-ups report, refundable one by one) whose txid is
``batch-<reference>-<line>`` and whose note names the batch. So the same batch posted again changes nothing and
says so; the same lines under a new reference are refused unless the caller says ``again`` (a company billed
twice is the mistake to stop), found by the lines' fingerprint kept in the batch's audit event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mms_tui.db import retrying, write_transaction
from mms_tui.i18n import _
from mms_tui.models import AuditEvent, Card, CardType, Member, Staff, Store
from mms_tui.services.base.errors import DomainError, InvalidInput, LinesRejected
from mms_tui.services.base.resolve import ensure_usable, find_card, resolve_store
from mms_tui.services.base.text import format_money, mask_phone
from mms_tui.services.ledger.operations import audit
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.money.topup import TopUpResult, top_up, topup_offer
from mms_tui.services.staff.permissions import require

#: most lines one batch may hold (one transaction: a company's staff, not a member import)
MAX_LINES = 5_000
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class BatchRepeated(DomainError):
    """The same lines were posted before under another reference."""

    code = "batch_repeated"


@dataclass(frozen=True)
class BatchLine:
    """One line as read from the file: where it was, the card or phone, the amount and the bonus it names."""

    line: int
    key: str
    amount_fen: int
    bonus_fen: int | None = None  # None: the rules' bonus


@dataclass(frozen=True)
class BatchRow:
    """One line resolved: whose card, how much, the bonus and why, the tier it gives."""

    line: int
    card_no: str
    member_id: int
    member: str
    phone: str  # masked
    amount_fen: int
    bonus_fen: int
    rule: str  # the rule the bonus comes from ('充1000送200'), 'given in the file', or ''
    tier: str  # the tier the amount moves the member up to, or ''
    txid: str


@dataclass(frozen=True)
class BatchPreview:
    reference: str
    tender: str
    rows: tuple[BatchRow, ...]
    total_fen: int
    bonus_fen: int
    fingerprint: str
    #: the day this reference was posted before (posting it again changes nothing), and whether with these lines
    posted_on: str | None
    posted_same: bool
    #: other references these same lines were posted under, with their day
    same_lines_as: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BatchResult:
    reference: str
    posted: bool  # False: the batch was already posted, nothing changed
    rows: tuple[BatchRow, ...]
    total_fen: int
    bonus_fen: int


def check_reference(reference: str) -> str:
    text = (reference or "").strip()
    if not _REFERENCE.fullmatch(text):
        raise InvalidInput(_("A batch reference is 1 to 40 letters, digits, '-', '_' or '.', starting with a letter "
                             "or digit (the transfer or invoice number), not {value!r}.").format(value=reference))
    return text


def _check_tender(tender: str) -> str:
    if tender not in MONEY_TENDERS:
        raise InvalidInput(_("Tender must be one of {tenders}, not {value!r}.").format(
            tenders=", ".join(MONEY_TENDERS), value=tender))
    return str(tender)


def _stored_value_card(key: str) -> Card:
    """The card a line names: its number (or reader UID), else the one stored-value card of the member with
    that phone."""
    card = find_card(key)
    if card is not None:
        return card
    member = Member.get_or_none(Member.phone == key)
    if member is None:
        raise InvalidInput(_("no card or member {key}").format(key=key))
    cards = list(Card.select().join(CardType).where((Card.member == member.id) & (CardType.kind == "stored_value")
                                                    & (Card.status != "cancelled")).order_by(Card.id))
    if len(cards) != 1:
        raise InvalidInput(_("member {phone} holds {n} stored-value cards: give the card number").format(
            phone=key, n=len(cards)))
    return cards[0]


def _fingerprint(rows: Sequence[tuple[int, int, int | None]]) -> str:
    return hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()


def _problem(line: int, text: str) -> str:
    return _("line {n}: {problem}").format(n=line, problem=text.rstrip(".。"))


def preview_batch(lines: Sequence[BatchLine], reference: str, tender: str, *, store: Store | str | None = None,
                  staff: Staff | None = None, day: dt.date | None = None) -> BatchPreview:
    """Every line resolved, with the bonus and tier the rules give it today; every bad line named at once
    (InvalidInput, nothing written). ``store``: where the top-ups are made (cards sold for use only elsewhere
    are refused)."""
    reference = check_reference(reference)
    tender = _check_tender(tender)
    store_obj = resolve_store(store, staff)
    if not lines:
        raise InvalidInput(_("The batch has no lines."))
    if len(lines) > MAX_LINES:
        raise InvalidInput(_("A batch holds at most {n} lines.").format(n=MAX_LINES))
    rules = load_rules()
    rows: list[BatchRow] = []
    problems: list[str] = []
    seen: dict[int, int] = {}
    for item in lines:
        try:
            if item.amount_fen <= 0:
                raise InvalidInput(_("the amount must be more than zero"))
            if item.bonus_fen is not None and item.bonus_fen < 0:
                raise InvalidInput(_("the bonus cannot be negative"))
            card = _stored_value_card(item.key.strip())
            if card.card_type.kind != "stored_value":
                raise InvalidInput(_("card {card} is not a stored-value card").format(card=card.card_no))
            ensure_usable(card, day, at=store_obj)
            if card.id in seen:
                raise InvalidInput(_("card {card} is on line {line} too").format(card=card.card_no,
                                                                                 line=seen[card.id]))
            seen[card.id] = item.line
        except DomainError as exc:  # unknown, not stored value, frozen, expired, lost: what the desk would say
            problems.append(_problem(item.line, str(exc)))
            continue
        offer = topup_offer(item.amount_fen, day, rules)
        bonus = offer.bonus_fen if item.bonus_fen is None else item.bonus_fen
        rule = offer.explanation if item.bonus_fen is None else _("given in the file")
        member = card.member
        rows.append(BatchRow(item.line, card.card_no, member.id, member.name, mask_phone(member.phone or ""),
                             item.amount_fen, bonus, rule, offer.tier_name or "",
                             f"batch-{reference}-{item.line}"))
    if problems:
        raise LinesRejected(problems, _("Nothing was posted."))
    fingerprint = _fingerprint([(r.member_id, r.amount_fen, line.bonus_fen)
                                for r, line in zip(rows, lines, strict=True)])
    posted_on, posted_same = None, False
    same: list[tuple[str, str]] = []
    for event in AuditEvent.select().where(AuditEvent.action == "topup.batch").order_by(AuditEvent.id):
        payload = json.loads(event.payload or "{}")
        when = str(event.created_at)[:10]
        if payload.get("reference") == reference:
            posted_on, posted_same = when, payload.get("fingerprint") == fingerprint
        elif payload.get("fingerprint") == fingerprint:
            same.append((payload.get("reference", "?"), when))
    return BatchPreview(reference, tender, tuple(rows), sum(r.amount_fen for r in rows),
                        sum(r.bonus_fen for r in rows), fingerprint, posted_on, posted_same, tuple(same))


def refuse_repeats(preview: BatchPreview, again: bool) -> None:
    """Refuse a batch whose reference was posted with other lines, or whose lines were posted under another
    reference (unless ``again``): before anything is asked or written."""
    if preview.posted_on is not None and not preview.posted_same:
        raise InvalidInput(_("Batch {reference} was posted on {day} with other lines: nothing was posted. Give "
                             "this file its own reference.").format(reference=preview.reference,
                                                                    day=preview.posted_on))
    if preview.posted_on is None and preview.same_lines_as and not again:
        earlier = ", ".join(f"{ref} ({day})" for ref, day in preview.same_lines_as)
        raise BatchRepeated(_("These same lines were posted as batch {earlier}: nothing was posted. Post them "
                              "again under {reference} only if the company really paid twice (--again).").format(
            earlier=earlier, reference=preview.reference))


def post_batch(lines: Sequence[BatchLine], reference: str, tender: str, staff: Staff, *,
               store: Store | str | None = None, again: bool = False) -> BatchResult:
    """Post the batch as top-ups, all or nothing (see the module). ``again`` posts lines that were posted before
    under another reference."""
    require(staff, "topup.batch")
    store_obj = resolve_store(store, staff)
    preview = preview_batch(lines, reference, tender, store=store_obj)
    refuse_repeats(preview, again)
    bonuses = {line.line: line.bonus_fen for line in lines}
    note = _("batch {reference}").format(reference=preview.reference)

    def attempt() -> list[TopUpResult]:
        with write_transaction():
            results = [top_up(row.card_no, row.amount_fen, bonuses[row.line], preview.tender, staff, row.txid,
                              store=store_obj, note=note) for row in preview.rows]
            if preview.posted_on is None:
                audit("topup.batch", f"batch:{preview.reference}", staff=staff, store=store_obj,
                      payload={"reference": preview.reference, "tender": preview.tender,
                               "lines": len(results), "total_fen": preview.total_fen,
                               "bonus_fen": sum(r.bonus_fen for r in results), "fingerprint": preview.fingerprint,
                               "again_after": [ref for ref, _day in preview.same_lines_as] or None})
            return results

    results = retrying(attempt)
    rows = tuple(dataclasses.replace(row, bonus_fen=done.bonus_fen) for row, done in zip(preview.rows, results,
                                                                                          strict=True))
    return BatchResult(preview.reference, preview.posted_on is None, rows, preview.total_fen,
                       sum(r.bonus_fen for r in rows))


def batch_summary(result: BatchPreview | BatchResult) -> str:
    """One line: how many top-ups, the money and the bonus."""
    return _("{n} top-ups, {total} + bonus {bonus}").format(n=len(result.rows), total=format_money(result.total_fen),
                                                           bonus=format_money(result.bonus_fen))

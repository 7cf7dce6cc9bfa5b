"""The one way value changes: an idempotent operation that posts balanced entries and moves card caches.

Every desk operation runs through :func:`run_operation`:

* one short write transaction (``BEGIN IMMEDIATE`` on SQLite), retried on lock time-outs and serialization
  failures with the same txid;
* the ``txid`` (made by the terminal before it submits) is unique: the same txid with the same request returns the
  first result, the same txid with a different request raises :class:`TxidConflict`;
* :func:`post` writes the entries, checks that each unit sums to zero, and moves the card caches with conditional
  updates (``… WHERE balance + delta >= 0``) so two terminals can never both spend the last ¥50.

Every operation passes through here, so its statements are written out (:func:`~mms_tui.services.base.sql.run_sql`):
the same SQL the ORM would build, without building it each time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import peewee

from mms_tui import clock
from mms_tui.db import retrying, write_transaction
from mms_tui.i18n import _
from mms_tui.models import AuditEvent, Card, Entry, Member, Staff, Store, Transaction
from mms_tui.models.ledger import FOLDED_ACTIONS
from mms_tui.services.base.errors import (
    AlreadyDone,
    DomainError,
    InsufficientBalance,
    InvalidInput,
    TxidConflict,
)
from mms_tui.services.base.resolve import refuse_closed
from mms_tui.services.base.sql import fetch_model, insert_model, insert_rows, run_sql
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger import chain, results

R = TypeVar("R")

#: card account → (cache column, unit)
CARD_ACCOUNTS: dict[str, tuple[str, str]] = {
    "card.principal": ("principal_fen", "fen"),
    "card.bonus": ("bonus_fen", "fen"),
    "card.points": ("points", "pt"),
    "card.visits": ("visits_left", "visit"),
}


def new_txid() -> str:
    """A terminal makes this when an operation opens, before anything is submitted."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Posting:
    account: str
    unit: str
    amount: int
    card_id: int | None = None


def card_posting(card_id: int, account: str, amount: int) -> Posting:
    return Posting(account, CARD_ACCOUNTS[account][1], amount, card_id)


def fingerprint(kind: str, request: dict[str, Any]) -> str:
    canonical = json.dumps([kind, request], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(existing: Transaction, kind: str, digest: str, result_type: type[R]) -> R:
    if existing.kind != kind or chain.as_hex(existing.request_hash) != digest:
        raise TxidConflict(
            _("Operation {txid} was already submitted with different content; nothing was changed.").format(
                txid=existing.txid
            )
        )
    stored = results.load(existing.result, of=existing.txid)
    if not stored:  # (a result pruned, or a row written without one: the operation stands, done once)
        raise AlreadyDone(_("Operation {txid} was already done on {day}; nothing was changed.").format(
            txid=existing.txid, day=existing.local_day))
    return result_type(**stored)


def _check_txid(txid: str) -> str:
    if not isinstance(txid, str) or not txid.strip() or len(txid) > 64:
        raise InvalidInput(_("An operation id (txid) of 1 to 64 characters is required."))
    return txid.strip()


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else str(value)


def result_json(result: Any) -> str:
    """An operation's result as JSON text (stored packed, services/ledger/results.py): ``json.dumps(
    dataclasses.asdict(result), default=str)`` to the byte, without ``asdict`` deep-copying every list and dict of the result first."""
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return json.dumps(fields, default=_plain, ensure_ascii=False)


def _find_txid(txid: str) -> Transaction | None:
    return fetch_model(Transaction, '"t"."txid" = ?', (txid,))


def run_operation(
    *,
    txid: str,
    kind: str,
    request: dict[str, Any],
    staff: Staff,
    store: Store,
    member: Member | int | None,
    body: Callable[[Transaction], R],
    result_type: type[R],
    note: str = "",
) -> R:
    """Run ``body`` once per txid inside one write transaction; store and return its result."""
    txid = _check_txid(txid)
    digest = fingerprint(kind, request)

    def attempt() -> R:
        frame = chain.begin()
        try:
            with write_transaction():
                existing = _find_txid(txid)
                if existing is not None:
                    return _replay(existing, kind, digest, result_type)
                refuse_closed(store)  # a closed store takes no new operation; a retry above still answers
                created = clock.now()
                tx = insert_model(
                    Transaction, txid=txid, kind=kind, staff=staff, store=store, member=member,
                    request_hash=chain.as_stored(digest),
                    note=note, created_at=created,
                    local_day=clock.day_in(created, store.time_zone),  # the store's own day, in its own zone
                )
                own = _OwnEvent(txid, staff.id, store.id)
                _running().append(own)
                try:
                    result = body(tx)
                finally:
                    _running().remove(own)
                payload = results.pack(result_json(result))
                if own.event is None:
                    run_sql('UPDATE "ledger_transaction" SET "result" = ? WHERE "id" = ?', (payload, tx.id))
                    chain.link("tx", tx.id, store.id)  # the transaction, its entries, its sale or visit: chained
                else:  # the operation's own audit event kept on its transaction: one row, one link for both
                    run_sql('UPDATE "ledger_transaction" SET "result" = ?, "action" = ?, "subject" = ?, "payload" = ? '
                            'WHERE "id" = ?', (payload, *own.event, tx.id))
                    chain.link("op", tx.id, store.id)
                chain.flush(frame)
                return result
        finally:
            chain.end(frame)

    try:
        return retrying(attempt)
    except peewee.IntegrityError:
        # Another terminal committed the same txid between our check and our insert: answer as a retry would.
        existing = _find_txid(txid)
        if existing is not None:
            return _replay(existing, kind, digest, result_type)
        raise DomainError(
            _("The change clashed with another one saved at the same moment; nothing was changed. Try again.")
        ) from None


#: cache column → its conditional move: the balance changes only if it stays at or above zero and at or below the
#: card's limit (so no balance, and no sum of them, can outgrow 64-bit integers)
_CARD_UPDATES = {
    column: f'UPDATE "card" SET "{column}" = "{column}" + ? WHERE "id" = ? AND "{column}" + ? >= 0 '
            f'AND "{column}" + ? <= ?'
    for column, _unit in CARD_ACCOUNTS.values()
}
#: cache column → the key of its ceiling in the ``limits`` setting
_CEILINGS = {"principal_fen": "balance_fen", "bonus_fen": "balance_fen", "points": "points",
             "visits_left": "visits"}


def post(tx: Transaction, postings: Iterable[Posting]) -> None:
    """Write balanced entries and move the card caches in the same database transaction."""
    postings = [p for p in postings if p.amount != 0]
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p.unit] += p.amount
    unbalanced = {unit: total for unit, total in totals.items() if total != 0}
    if unbalanced:
        raise AssertionError(f"unbalanced transaction {tx.txid}: {unbalanced}")
    # Spend before credit, so a floor failure is found before anything else moves.
    ceilings = None
    for p in sorted(postings, key=lambda p: p.amount):
        if p.card_id is None:
            continue
        if ceilings is None:
            from mms_tui.services.base.config import limits

            ceilings = limits()
        column_name, _unit = CARD_ACCOUNTS[p.account]
        ceiling = ceilings[_CEILINGS[column_name]]
        changed = run_sql(_CARD_UPDATES[column_name], (p.amount, p.card_id, p.amount, p.amount, ceiling)).rowcount
        if changed != 1:
            raise _over_limit(p, column_name, ceiling) if p.amount > 0 else _insufficient(p, column_name)
    if postings:
        insert_rows(Entry, [
            {"transaction": tx.id, "account": p.account, "card": p.card_id, "unit": p.unit, "amount": p.amount}
            for p in postings
        ])


def check_postings(postings: Iterable[Posting]) -> None:
    """Refuse, as :func:`post` would, postings that would take a card below zero or above its ceiling — without
    writing anything: for an operation that must ask something irreversible of the outside world (a payment code's
    provider giving money back) before it posts."""
    ceilings = None
    held: dict[tuple[int, str], int] = {}
    for p in sorted((p for p in postings if p.amount != 0 and p.card_id is not None), key=lambda p: p.amount):
        if ceilings is None:
            from mms_tui.services.base.config import limits

            ceilings = limits()
        column_name, _unit = CARD_ACCOUNTS[p.account]
        key = (p.card_id, column_name)
        if key not in held:
            card = Card.get_or_none(Card.id == p.card_id)
            if card is None:
                raise _insufficient(p, column_name)
            held[key] = getattr(card, column_name)
        after = held[key] + p.amount
        if after < 0 or after > ceilings[_CEILINGS[column_name]]:
            raise _over_limit(p, column_name, ceilings[_CEILINGS[column_name]]) if p.amount > 0 \
                else _insufficient(p, column_name)
        held[key] = after


def _over_limit(p: Posting, column_name: str, ceiling: int) -> DomainError:
    card = Card.get_or_none(Card.id == p.card_id)
    number = card.card_no if card is not None else p.card_id
    limit = format_money(ceiling) if p.unit == "fen" else str(ceiling)
    return InvalidInput(_("Card {card} would hold more than {limit} (setting limits); nothing was changed.").format(
        card=number, limit=limit))


def _insufficient(p: Posting, column_name: str) -> DomainError:
    card = Card.get_or_none(Card.id == p.card_id)
    if card is None:
        return DomainError(_("Card no longer exists."))
    have = getattr(card, column_name)
    need = -p.amount
    if p.unit == "fen":
        what = _("stored value") if column_name == "principal_fen" else _("bonus value")
        return InsufficientBalance(
            _("Not enough {what} on card {card}: has {have}, needs {need}.").format(
                what=what, card=card.card_no, have=format_money(have), need=format_money(need)
            )
        )
    if p.unit == "pt":
        return InsufficientBalance(
            _("Not enough points on card {card}: has {have}, needs {need}.").format(
                card=card.card_no, have=have, need=need
            )
        )
    return InsufficientBalance(
        _("No visits left on card {card}: has {have}, needs {need}.").format(card=card.card_no, have=have, need=need)
    )


@dataclass(eq=False)
class _OwnEvent:
    """An operation running on this thread, and the audit event of its own it keeps on its transaction (one of
    ``FOLDED_ACTIONS``, recorded by the operation with its txid, staff and store; migration 30)."""

    txid: str
    staff_id: int
    store_id: int
    event: tuple[str, str, str] | None = None  # action, subject, payload


_threads = threading.local()


def _running() -> list[_OwnEvent]:
    """The operations running on this thread, the innermost last (an operation may run inside another)."""
    stack = getattr(_threads, "operations", None)
    if stack is None:
        stack = _threads.operations = []
    return stack


def audit(
    action: str,
    subject: str,
    *,
    staff: Staff | None,
    store: Store | None,
    txid: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Who did what to whom, in the same database transaction as the change itself (and on its store's chain).

    An operation's own event — one of ``FOLDED_ACTIONS``, with the operation's txid, staff and store, the first of
    them — is kept on its transaction and chained with it (:func:`run_operation`); any other is a row of its own."""
    text = json.dumps(payload or {}, default=str, ensure_ascii=False, sort_keys=True)
    running = _running()
    own = running[-1] if running else None
    if (own is not None and own.event is None and txid == own.txid and action in FOLDED_ACTIONS
            and staff is not None and staff.id == own.staff_id and store is not None and store.id == own.store_id):
        own.event = (action, subject, text)  # written with the operation's result, chained with its transaction
        return
    event = insert_model(AuditEvent, action=action, subject=subject, staff=staff, store=store, txid=txid, payload=text)
    store_id = store.id if store is not None else None
    staff_id = staff.id if staff is not None else None
    chain.link("audit", event.id, store_id,
               chain.audit_content(AuditEvent.created_at.db_value(event.created_at),  # as stored: UTC
                                   staff_id, store_id, action, subject, txid, text))


def record_audit(action: str, subject: str, **kwargs: Any) -> None:
    """An audit event on its own (no value moved), e.g. staff revealing a member's full phone number."""
    with write_transaction():
        audit(action, subject, **kwargs)

"""The audit list (``mms audit``): who changed what, where and when, and the change itself in short
(``before → after``), newest first — the question is nearly always "what happened lately".

An admin reads every event; a manager those at their own store, and those of no store (logins, settings) made
by its staff.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass

import peewee

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import AuditEvent, Entry, Sale, Staff, Store, Transaction, Visit
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.base.resolve import checked_day
from mms_tui.services.staff.permissions import has_role, require

#: the longest change text a row shows
CHANGE_WIDTH = 160


@dataclass(frozen=True)
class AuditRow:
    at: dt.datetime  # the store's wall time
    staff: str  # the code of who did it, "" for the program itself
    store: str
    action: str
    subject: str  # as recorded; a staff account by its code (staff:c02)
    change: str  # before → after, in short


def _short(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def describe_change(payload: dict) -> str:
    """``key: before → after`` for each field that changed; a creation lists what was made (its empty fields
    left out); an event without before and after lists its payload (never the state digest ``mms check``
    reads)."""
    before, after = payload.get("before"), payload.get("after")
    if isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        parts = [f"{key}: {_short(old[key])} → {_short(value)}" if key in old else f"{key}={_short(value)}"
                 for key, value in after.items() if old.get(key) != value and (key in old or value)]
    else:
        parts = [f"{key}={_short(value)}" for key, value in sorted(payload.items()) if key != "state"]
    text = "; ".join(parts)
    return text if len(text) <= CHANGE_WIDTH else text[:CHANGE_WIDTH - 1] + "…"


def _subject_text(subject: str) -> tuple[str, bool]:
    """``staff`` matches every staff event, ``staff:7`` or ``staff:c02`` one account, other text a subject as
    recorded: (the subject's text, whether it names a kind of subject rather than one)."""
    text = subject.strip()
    if ":" not in text:
        return text, True
    kind, key = text.split(":", 1)
    if kind == "staff" and not key.isdigit():
        found = Staff.get_or_none(Staff.code == key)
        if found is not None:
            text = f"staff:{found.id}"
    return text, False


#: the largest id a row can have (a 64-bit integer)
MAX_ID = 2**63 - 1
#: the kinds of subject an event kept on a transaction has: a sale's (sale:12), a check-in's or a top-up's (card:34)
KEPT_SUBJECTS = ("sale", "card")


def _kept_about(text: str) -> peewee.Expression | None:
    """The transactions that may keep an event about the one subject ``text``, by the indexes that find them (a
    transaction has none by subject: the sale's key, the card's entries and visits); None: no kept event is about
    it, and the transactions need not be read."""
    kind, _sep, key = text.partition(":")
    if kind not in KEPT_SUBJECTS or not (key.isascii() and key.isdigit()) or int(key) > MAX_ID:
        return None  # (no row has such an id: text no key can be, or past the largest integer a key holds)
    if kind == "sale":
        return Transaction.id.in_(Sale.select(Sale.transaction).where(Sale.id == int(key)))
    return Transaction.id.in_(Entry.select(Entry.transaction).where(Entry.card == int(key))
                              | Visit.select(Visit.transaction).where(Visit.card == int(key)))


def _filtered(query: peewee.ModelSelect, model: type[AuditEvent] | type[Transaction], actor: type[Staff], by: Staff,
              who: Staff | None, subject: tuple[str, bool] | None, start: dt.date | None,
              end: dt.date | None) -> peewee.ModelSelect | None:
    """``query`` filtered and ordered newest first; None when no row of ``model`` can be about ``subject``."""
    if who is not None:
        query = query.where(model.staff == who.id)
    if subject is not None:
        text, kind = subject
        if kind:
            if model is Transaction and text not in KEPT_SUBJECTS:
                return None
            query = query.where(model.subject.startswith(text + ":") | (model.subject == text))
        else:
            if model is Transaction:
                found = _kept_about(text)
                if found is None:
                    return None
                query = query.where(found)
            query = query.where(model.subject == text)
    if start is not None:
        query = query.where(model.created_at >= start)
    if end is not None:
        query = query.where(model.created_at < end + dt.timedelta(days=1))
    if not has_role(by, "admin"):
        query = query.where((model.store == by.store_id) | (model.store.is_null() & (actor.store == by.store_id)))
    return query.order_by(model.created_at.desc(), model.id.desc())


def audit_events(by: Staff, *, staff: str | None = None, subject: str | None = None, start: dt.date | None = None,
                 end: dt.date | None = None) -> Iterator[AuditRow]:
    """The audited events newest first, of one ``staff`` code, one ``subject``, between the store days ``start``
    and ``end`` (both included): the rows of ``audit_event`` and the events operations keep on their
    transactions (migration 30), read as two streams in the same order and merged."""
    require(by, "audit.read")
    checked_day(start)
    checked_day(end)
    if start is not None and end is not None and start > end:
        raise InvalidInput(_("--from {start} is after --to {end}.").format(start=start, end=end))
    who = None
    if staff:
        who = Staff.get_or_none(Staff.code == staff.strip())
        if who is None:
            raise NotFound(_("No staff member {code!r}.").format(code=staff))
    about = _subject_text(subject) if subject else None
    streams = []
    for model in (Transaction, AuditEvent):  # (at the same moment, an operation's own event was its last)
        actor = Staff.alias()
        query = (model.select(model.created_at, model.id, model.action, model.subject, model.payload,
                              actor.code.alias("actor_code"), Store.code.alias("store_code"))
                 .join(actor, peewee.JOIN.LEFT_OUTER, on=(model.staff == actor.id))
                 .switch(model).join(Store, peewee.JOIN.LEFT_OUTER, on=(model.store == Store.id)))
        if model is Transaction:
            query = query.where(Transaction.action.is_null(False))
        filtered = _filtered(query, model, actor, by, who, about, start, end)
        if filtered is not None:
            streams.append(filtered.objects().iterator())
    codes = dict(Staff.select(Staff.id, Staff.code).tuples())
    # (merged on the moment as stored: a store's wall time runs back an hour where summer time ends)
    for event in heapq.merge(*streams, key=lambda e: clock.to_utc(e.created_at), reverse=True):
        try:
            payload = json.loads(event.payload or "{}")
        except ValueError:
            payload = {}
        kind, _sep, key = event.subject.partition(":")
        shown = f"staff:{codes[int(key)]}" if kind == "staff" and key.isdigit() and int(key) in codes else event.subject
        yield AuditRow(event.created_at, event.actor_code or "", event.store_code or "", event.action, shown,
                       describe_change(payload if isinstance(payload, dict) else {}))

"""A person's data: the one map of where it is kept, and erasure (PIPL Art. 47).

:data:`PERSONAL_DATA` names every table and column that holds a member's personal data. ``mms export member``
(:func:`~mms_tui.services.exchange.member_document.member_document`) writes all of it, and :func:`erase_member`
anonymises all of it; a table added with a person's data is added here in the same change (a test holds every
model's personal-looking fields to this map).

Erasure anonymises rather than deletes: the member row stays (its sales, visits, cards and ledger are the shop's
books and stay exactly as they were, so ``mms check`` holds and every report's totals are unchanged), but its
name, phone, birthday, gender and notes are gone, and so are the copies kept in audit payloads and in stored
replay results (both left out of the hash chains for this reason). The audit keeps that an erasure happened, by
whom and why — not what was erased. On SQLite the erasure runs with ``secure_delete`` and ends with a checkpoint
that empties the write-ahead log, so the old values are not left in free pages or in the log, and backups made
later do not contain them. On PostgreSQL the old row versions stay in the table files until ``VACUUM`` reclaims
them (``mms`` runs one after the erasure); ``pg_dump`` backups made later do not contain them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mms_tui.db import database, is_sqlite
from mms_tui.i18n import _
from mms_tui.models import (
    AuditEvent,
    Booking,
    ClassBooking,
    Member,
    MemberFieldValue,
    MemberTag,
    Message,
    Staff,
    Store,
    Ticket,
    TicketNote,
    Transaction,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import resolve_member, resolve_store
from mms_tui.services.base.sql import fetch_rows, run_sql
from mms_tui.services.base.text import normalise_phone
from mms_tui.services.ledger import results
from mms_tui.services.ledger.chain import PERSONAL_KEYS
from mms_tui.services.ledger.operations import audit, run_operation
from mms_tui.services.staff.permissions import require

#: every place a member's personal data is kept: table → columns (a JSON column: its keys in chain.PERSONAL_KEYS)
PERSONAL_DATA: dict[str, tuple[str, ...]] = {
    "member": ("name", "phone", "phone_last4", "name_pinyin", "name_initials", "gender", "birthday", "notes",
               "address", "email", "preferences", "wechat_openid"),
    "message": ("fields", "address", "text", "reason"),  # what was (to be) sent to them: emptied on erasure
    "ticket": ("subject", "resolution"),  # what they asked or complained about: emptied on erasure
    "ticket_note": ("text",),  # what they said and were answered: emptied on erasure
    "member_tag": ("tag",),  # deleted on erasure
    "member_field_value": ("value",),  # deleted on erasure
    "booking": ("guest_name", "guest_phone", "note", "reason"),  # a member's bookings: emptied on erasure
    "class_booking": ("reason",),  # why a member's class place was cancelled: emptied on erasure
    "audit_event": ("payload",),  # member.register / member.update payloads name, phone, birthday, notes
    "ledger_transaction": ("result",),  # a registration's or an edit's stored result repeats name and phone
}

#: what an erased member is called (the phone column must stay unique: it becomes a placeholder of the id)
ERASED_NAME = "已删除会员"


@dataclass(frozen=True)
class ErasureResult:
    txid: str
    member_id: int
    events_scrubbed: int
    results_scrubbed: int


def _scrub(value: object) -> object:
    if isinstance(value, dict):
        return {k: (None if k in PERSONAL_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _scrubbed_json(text: str) -> str | None:
    """The JSON text with every personal key's value removed, or None when it holds none."""
    try:
        document = json.loads(text or "{}")
    except (TypeError, ValueError):
        return None
    clean = _scrub(document)
    return None if clean == document else json.dumps(clean, ensure_ascii=False, sort_keys=True, default=str)


def erase_member(member: Member | int | str, staff: Staff, reason: str, txid: str, *,
                 store: Store | str | None = None) -> ErasureResult:
    """Anonymise everything that identifies ``member`` (a manager's decision, with a reason), keeping the books."""
    require(staff, "erase")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("An erasure needs a reason (the request it answers)."))
    if isinstance(member, str):
        member = normalise_phone(member) or member
    m = resolve_member(member)
    if m.status == "erased":
        raise InvalidInput(_("This member's data was already erased."))
    store_obj = resolve_store(store, staff)

    def body(tx) -> ErasureResult:
        if is_sqlite():
            run_sql("PRAGMA secure_delete = ON")
        Member.update(name=ERASED_NAME, phone=f"erased-{m.id}", phone_last4="", name_pinyin="", name_initials="",
                      gender="", birthday=None, notes="", address="", email="", preferences="", wechat_openid="",
                      status="erased").where(Member.id == m.id).execute()
        MemberTag.delete().where(MemberTag.member == m.id).execute()
        MemberFieldValue.delete().where(MemberFieldValue.member == m.id).execute()
        Booking.update(guest_name="", guest_phone="", note="", reason="").where(Booking.member == m.id).execute()
        ClassBooking.update(reason="").where(ClassBooking.member == m.id).execute()
        # what waits in the outbox is not sent to someone erased; what was sent keeps only when and how
        Message.update(state="skipped").where((Message.member == m.id)
                                              & (Message.state.in_(("queued", "sending")))).execute()
        Message.update(fields="{}", address="", text="", reason="").where(Message.member == m.id).execute()
        their_tickets = Ticket.select(Ticket.id).where(Ticket.member == m.id)
        TicketNote.update(text="").where(TicketNote.ticket.in_(their_tickets)).execute()
        Ticket.update(subject="", resolution="", status="closed").where(Ticket.member == m.id).execute()
        own = [t for (t,) in fetch_rows('SELECT "txid" FROM "ledger_transaction" WHERE "member_id" = ?', (m.id,))]
        events = 0
        for event_id, payload in fetch_rows(
                'SELECT "id", "payload" FROM "audit_event" WHERE "subject" = ? ' +
                (f'OR "txid" IN ({", ".join("?" for _txid in own)})' if own else ""), (f"member:{m.id}", *own)):
            clean = _scrubbed_json(payload)
            if clean is not None:
                AuditEvent.update(payload=clean).where(AuditEvent.id == event_id).execute()
                events += 1
        for tx_id, payload in fetch_rows('SELECT "id", "payload" FROM "ledger_transaction" WHERE "member_id" = ? '
                                         'AND "payload" IS NOT NULL', (m.id,)):  # events kept on their transaction
            clean = _scrubbed_json(payload)
            if clean is not None:
                Transaction.update(payload=clean).where(Transaction.id == tx_id).execute()
                events += 1
        scrubbed = 0
        for tx_id, txid, stored in fetch_rows(
                'SELECT "id", "txid", "result" FROM "ledger_transaction" WHERE "member_id" = ?', (m.id,)):
            clean = _scrubbed_json(results.unpack(stored, of=txid))
            if clean is not None:
                Transaction.update(result=results.pack(clean)).where(Transaction.id == tx_id).execute()
                scrubbed += 1
        audit("member.erase", f"member:{m.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"reason": reason, "events_scrubbed": events, "results_scrubbed": scrubbed})
        return ErasureResult(tx.txid, m.id, events, scrubbed)

    result = run_operation(txid=txid, kind="erase", request={"member": m.id, "reason": reason}, staff=staff,
                           store=store_obj, member=m.id, body=body, result_type=ErasureResult)
    _forget_old_versions()
    return result


def _forget_old_versions() -> None:
    """After the erasure is committed: no old copy left where a backup or a disk image could find it."""
    if is_sqlite():
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        database.execute_sql("PRAGMA secure_delete = OFF")
    else:
        for table in PERSONAL_DATA:
            database.execute_sql(f'VACUUM "{table}"')

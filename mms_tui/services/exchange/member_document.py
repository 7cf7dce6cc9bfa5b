"""One member's data, everything stored about them, as a JSON document: the answer to a data-access request
(PIPL), recorded in the audit before it is written.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import IO, Any

import peewee

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import (
    AuditEvent,
    Booking,
    BookingService,
    Card,
    CardType,
    ClassBooking,
    Consent,
    Entry,
    Member,
    Message,
    Payment,
    Sale,
    SaleLine,
    Staff,
    Store,
    Ticket,
    TicketNote,
    Transaction,
    Visit,
    now,
)
from mms_tui.services.base.errors import InvalidInput, UnknownMember
from mms_tui.services.base.text import normalise_phone
from mms_tui.services.exchange.export import ExportResult, record_export
from mms_tui.services.exchange.export_formats import text_encoding_for, write_target
from mms_tui.services.exchange.export_rows import Row, iso_date, iso_moment
from mms_tui.services.members.attributes import field_values, tags_of
from mms_tui.services.staff.permissions import require


def member_document(phone: str) -> dict[str, Any]:
    """Everything stored about one member — profile, cards, transactions with entries, sales with lines and
    payments, check-ins, audit events — for a data-access request. One member's history is small enough to
    build in memory."""
    number = normalise_phone(phone)
    member = Member.get_or_none(Member.phone == number)
    if member is None:
        raise UnknownMember(_("No member has the phone number {phone}.").format(phone=number))
    stores = dict(Store.select(Store.id, Store.code).tuples())
    staff = dict(Staff.select(Staff.id, Staff.code).tuples())
    cards = list(Card.select(Card, CardType).join(CardType).where(Card.member == member.id).order_by(Card.id))
    card_ids = [c.id for c in cards]
    card_nos = {c.id: c.card_no for c in cards}
    replaced = {c.id: c.card_no for c in Card.select(Card.id, Card.card_no).where(
        Card.id.in_([c.replaced_by_id for c in cards if c.replaced_by_id]))} if cards else {}

    touching = Transaction.member == member.id
    if card_ids:
        touching |= Transaction.id.in_(Entry.select(Entry.transaction).where(Entry.card.in_(card_ids)))
    Original = Transaction.alias()
    txs = list(
        Transaction.select(Transaction, Original.txid.alias("reverses_txid"))
        .join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
        .where(touching).order_by(Transaction.id).objects()
    )
    entries: dict[int, list[Row]] = defaultdict(list)
    if txs:
        for tx_id, account, card_no, unit, amount in (
            Entry.select(Entry.transaction, Entry.account, Card.card_no, Entry.unit, Entry.amount)
            .join(Card, peewee.JOIN.LEFT_OUTER, on=(Entry.card == Card.id))
            .where(Entry.transaction.in_([t.id for t in txs])).order_by(Entry.id).tuples()
        ):
            entries[tx_id].append({"account": account, "card_no": card_no, "unit": unit, "amount": int(amount)})

    sales = list(Sale.select(Sale, Transaction.txid.alias("txid")).join(Transaction)
                 .where(Sale.member == member.id).order_by(Sale.id).objects())
    sale_ids = [s.id for s in sales]
    lines: dict[int, list[Row]] = defaultdict(list)
    payments: dict[int, list[Row]] = defaultdict(list)
    if sale_ids:
        for line in SaleLine.select().where(SaleLine.sale.in_(sale_ids)).order_by(SaleLine.id):
            lines[line.sale_id].append({
                "code": line.code, "name": line.name, "category": line.category, "qty": line.qty,
                "list_price_fen": line.list_price_fen, "unit_price_fen": line.unit_price_fen,
                "line_total_fen": line.line_total_fen, "discount_reason": line.discount_reason})
        pay_cards = Card.alias()
        for pay in (Payment.select(Payment, pay_cards.card_no.alias("card_no"))
                    .join(pay_cards, peewee.JOIN.LEFT_OUTER, on=(Payment.card == pay_cards.id))
                    .where(Payment.sale.in_(sale_ids)).order_by(Payment.id).objects()):
            payments[pay.sale_id].append({
                "tender": pay.tender, "amount_fen": pay.amount_fen, "card_no": pay.card_no,
                "principal_fen": pay.principal_fen, "bonus_fen": pay.bonus_fen, "points": pay.points})

    visits = list(Visit.select(Visit, Transaction.txid.alias("txid")).join(Transaction)
                  .where(Visit.member == member.id).order_by(Visit.id).objects())

    subjects = [f"member:{member.id}", *(f"card:{i}" for i in card_ids)]
    about = AuditEvent.subject.in_(subjects)
    if txs:
        about |= AuditEvent.txid.in_([t.txid for t in txs])
    events = sorted([*AuditEvent.select().where(about).order_by(AuditEvent.id),
                     *(t for t in txs if t.action is not None)],  # (events kept on their transaction)
                    key=lambda e: clock.to_utc(e.created_at))  # (as stored: wall time runs back in autumn)

    def payload(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return text

    return {
        "exported_at": iso_moment(now()),
        "member": {
            "name": member.name, "phone": member.phone, "gender": member.gender, "birthday": iso_date(member.birthday),
            "tier": member.tier.code, "tier_name": member.tier.name, "notes": member.notes,
            "status": member.status, "home_store": stores.get(member.home_store_id),
            "total_spend_fen": member.total_spend_fen, "joined": iso_moment(member.created_at),
            "address": member.address, "email": member.email, "preferences": member.preferences,
            "wechat_openid": member.wechat_openid,
            "tags": tags_of(member), "fields": field_values(member),
            "consent": [{"channel": c.channel, "given": c.given, "at": iso_moment(c.at)}
                        for c in Consent.select().where(Consent.member == member.id).order_by(Consent.id)],
        },
        "cards": [{
            "card_no": c.card_no, "reader_uid": c.reader_uid, "barcode": c.barcode, "card_type": c.card_type.code,
            "card_type_name": c.card_type.name, "kind": c.card_type.kind, "status": c.status,
            "principal_fen": c.principal_fen, "bonus_fen": c.bonus_fen, "points": c.points,
            "visits_left": c.visits_left, "valid_from": iso_date(c.valid_from), "valid_until": iso_date(c.valid_until),
            "frozen_since": iso_date(c.frozen_since), "frozen_days_total": c.frozen_days_total,
            "store": stores.get(c.store_id), "replaced_by": replaced.get(c.replaced_by_id),
            "issued_at": iso_moment(c.issued_at),
        } for c in cards],
        "transactions": [{
            "txid": t.txid, "kind": t.kind, "created_at": iso_moment(t.created_at), "store": stores.get(t.store_id),
            "staff": staff.get(t.staff_id), "reverses": t.reverses_txid, "note": t.note, "entries": entries[t.id],
        } for t in txs],
        "sales": [{
            "txid": s.txid, "created_at": iso_moment(s.created_at), "store": stores.get(s.store_id),
            "staff": staff.get(s.staff_id), "subtotal_fen": s.subtotal_fen, "discount_fen": s.discount_fen,
            "total_fen": s.total_fen, "change_fen": s.change_fen, "points_earned": s.points_earned,
            "status": s.status, "lines": lines[s.id], "payments": payments[s.id],
        } for s in sales],
        "visits": [{
            "txid": v.txid, "created_at": iso_moment(v.created_at), "card_no": card_nos.get(v.card_id),
            "store": stores.get(v.store_id), "staff": staff.get(v.staff_id), "status": v.status,
        } for v in visits],
        "bookings": [{
            "txid": b.txid, "store": stores.get(b.store_id), "staff": staff.get(b.staff_id),
            "start": iso_moment(b.start), "end": iso_moment(b.end), "status": b.status, "note": b.note,
            "services": [s.service.code for s in b.services.order_by(BookingService.position)],
            "reason": b.reason, "policy": b.policy,
        } for b in Booking.select().where(Booking.member == member.id).order_by(Booking.start, Booking.id)],
        "class_bookings": [{
            "txid": c.txid, "class": c.session.class_type.code, "start": iso_moment(c.session.start),
            "store": stores.get(c.session.store_id), "status": c.status, "reason": c.reason, "policy": c.policy,
        } for c in ClassBooking.select().where(ClassBooking.member == member.id).order_by(ClassBooking.id)],
        "messages": [{
            "created_at": iso_moment(m.created_at), "trigger": m.trigger, "channel": m.sent_channel or m.channel,
            "state": m.state, "to": m.address, "text": m.text, "sms_parts": m.sms_parts,
            "attempted_at": iso_moment(m.attempted_at) if m.attempted_at else None, "reason": m.reason,
        } for m in Message.select().where(Message.member == member.id).order_by(Message.id)],
        "tickets": [{
            "created_at": iso_moment(t.created_at), "kind": t.kind, "subject": t.subject, "status": t.status,
            "source": t.source, "closed_at": iso_moment(t.closed_at) if t.closed_at else None,
            "resolution": t.resolution,
            "history": [{"at": iso_moment(n.at), "kind": n.kind, "text": n.text}
                        for n in TicketNote.select().where(TicketNote.ticket == t.id).order_by(TicketNote.id)],
        } for t in Ticket.select().where(Ticket.member == member.id).order_by(Ticket.id)],
        "audit": [{
            "created_at": iso_moment(e.created_at), "action": e.action, "subject": e.subject,
            "staff": staff.get(e.staff_id), "store": stores.get(e.store_id), "txid": e.txid,
            "payload": payload(e.payload),
        } for e in events],
    }


def export_member(phone: str, target: str = "-", *, fmt: str | None = None, encoding: str | None = None,
                  stdout: IO[bytes] | None = None, viewer: Staff | None = None) -> ExportResult:
    """One member's data as a pretty JSON document (the answer to a data-access request). ``viewer``: the staff
    member asking (None: the trusted account at the machine); members are the whole chain's, so any manager may."""
    if viewer is not None:
        require(viewer, "export")
    if fmt not in (None, "json"):
        raise InvalidInput(_("One member's data is exported as JSON only."))
    text_encoding = text_encoding_for("json", encoding)
    document = member_document(phone)
    member = Member.get(Member.phone == normalise_phone(phone))
    record_export("export.member", f"member:{member.id}", {"target": target}, viewer)
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"

    def write(out: IO[bytes]) -> int:
        out.write(body.encode(text_encoding))
        return 1

    write_target(target, stdout, write)
    return ExportResult(1, target, "json")

"""客户服务与支持: a member's question, complaint or request as a ticket — recorded at the desk or from the member's
email, assigned to staff, due by a time, with its history of notes and of the answers sent to the member (an
answer goes out through the outbox, so it is sent as every message is: once, logged, by the member's channel)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from dataclasses import dataclass
from email.utils import parseaddr

import peewee

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import TICKET_KINDS, Member, Message, Staff, Store, Ticket, TicketNote
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.base.resolve import resolve_member, resolve_staff
from mms_tui.services.ledger.operations import audit
from mms_tui.services.messages.outbox import enqueue
from mms_tui.services.staff.permissions import require

#: a ticket is due this long after it is opened unless staff say otherwise (a complaint: sooner)
DUE_HOURS = {"question": 24, "complaint": 4, "request": 48}
MAX_TEXT = 2000


@dataclass(frozen=True)
class TicketLine:
    id: int
    member_id: int
    member_name: str
    kind: str
    subject: str
    status: str
    source: str
    assigned_to: str  # staff code, or ""
    due_at: dt.datetime
    created_at: dt.datetime
    first_answer_at: dt.datetime | None
    closed_at: dt.datetime | None

    @property
    def overdue(self) -> bool:
        return self.status == "open" and self.due_at < clock.now()


@dataclass(frozen=True)
class NoteLine:
    at: dt.datetime
    kind: str
    staff: str
    text: str
    message_state: str  # of an answer: the message's state (sent, queued, skipped…)


def _line(t: Ticket) -> TicketLine:
    return TicketLine(t.id, t.member_id, t.member.name, t.kind, t.subject, t.status, t.source,
                      t.assigned_to.code if t.assigned_to_id else "", t.due_at, t.created_at, t.first_answer_at,
                      t.closed_at)


def _text(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Say what the {what} is.").format(what=what))
    if len(text) > MAX_TEXT:
        raise InvalidInput(_("Keep it under {n} characters.").format(n=MAX_TEXT))
    return text


def _ticket(ticket_id: int) -> Ticket:
    found = Ticket.get_or_none(Ticket.id == ticket_id)
    if found is None:
        raise NotFound(_("No ticket {id}.").format(id=ticket_id))
    return found


def open_ticket(staff: Staff | None, member: Member | int | str, kind: str, subject: str, text: str = "", *,
                assign_to: Staff | str | None = None, due_hours: int | None = None, store: Store | None = None,
                source: str = "desk") -> TicketLine:
    """Record what the member asks; ``staff`` None: it came in by email."""
    if kind not in TICKET_KINDS:
        raise InvalidInput(_("A ticket is a question, a complaint or a request, not {value!r}.").format(value=kind))
    subject = _text(subject, _("subject"))[:200]
    m = resolve_member(member)
    assignee = resolve_staff(assign_to) if assign_to else staff
    if assignee is not None and staff is not None and assignee.id != staff.id:
        require(staff, "tickets.assign")
    hours = DUE_HOURS[kind] if due_hours is None else due_hours
    if not 0 < hours <= 24 * 30:
        raise InvalidInput(_("A ticket is due within 1 hour to 30 days."))
    now = clock.now()
    with write_transaction():
        t = Ticket.create(member=m.id, kind=kind, subject=subject, source=source,
                          store=store or (staff.store if staff is not None else None), assigned_to=assignee,
                          due_at=now + dt.timedelta(hours=hours), created_at=now, created_by=staff)
        if text.strip():
            TicketNote.create(ticket=t.id, kind="member", text=_text(text, _("ticket")), at=now, staff=staff)
        audit("ticket.open", f"ticket:{t.id}", staff=staff, store=t.store, payload={
            "member": m.id, "kind": kind, "assigned_to": assignee.code if assignee else None, "source": source})
    return _line(Ticket.get_by_id(t.id))


def add_note(staff: Staff, ticket_id: int, text: str, *, answer: bool = False) -> NoteLine:
    """A note among staff, or (``answer``) an answer sent to the member through the outbox."""
    text = _text(text, _("note"))
    now = clock.now()
    with write_transaction():
        t = _ticket(ticket_id)
        if t.status != "open":
            raise InvalidInput(_("Ticket {id} is closed.").format(id=t.id))
        note = TicketNote.create(ticket=t.id, kind="answer" if answer else "note", text=text, at=now, staff=staff)
        if answer:  # keyed by the note: two desks answering at once send two answers, each once
            store_name = t.store.name if t.store_id else ""
            key = f"ticket:{t.id}:{note.id}"
            enqueue(t.member_id, "ticket", key, {"name": t.member.name, "store": store_name, "subject": t.subject,
                                                 "text": text}, store_id=t.store_id)
            TicketNote.update(message=Message.get(Message.key == key).id).where(TicketNote.id == note.id).execute()
            if t.first_answer_at is None:
                Ticket.update(first_answer_at=now).where(Ticket.id == t.id).execute()
        audit("ticket.answer" if answer else "ticket.note", f"ticket:{t.id}", staff=staff, store=t.store,
              payload={"note": note.id})
    return NoteLine(now, note.kind, staff.code, text, "queued" if answer else "")


def assign(staff: Staff, ticket_id: int, to: Staff | str) -> TicketLine:
    require(staff, "tickets.assign")
    target = resolve_staff(to)
    with write_transaction():
        t = _ticket(ticket_id)
        Ticket.update(assigned_to=target.id).where(Ticket.id == t.id).execute()
        TicketNote.create(ticket=t.id, kind="event", text=_("assigned to {staff}").format(staff=target.code),
                          at=clock.now(), staff=staff)
        audit("ticket.assign", f"ticket:{t.id}", staff=staff, store=t.store, payload={"to": target.code})
    return _line(Ticket.get_by_id(ticket_id))


def close_ticket(staff: Staff, ticket_id: int, resolution: str) -> TicketLine:
    """Close it, saying how it was resolved (closing a closed ticket again changes nothing)."""
    resolution = _text(resolution, _("resolution"))
    with write_transaction():
        t = _ticket(ticket_id)
        if t.status == "closed":
            return _line(t)
        now = clock.now()
        Ticket.update(status="closed", closed_at=now, closed_by=staff, resolution=resolution).where(
            Ticket.id == t.id).execute()
        TicketNote.create(ticket=t.id, kind="event", text=_("closed: {how}").format(how=resolution), at=now,
                          staff=staff)
        audit("ticket.close", f"ticket:{t.id}", staff=staff, store=t.store, payload={})
    return _line(Ticket.get_by_id(ticket_id))


def tickets(*, status: str | None = "open", member: int | None = None, assigned_to: str | None = None,
            overdue: bool = False, limit: int = 200) -> list[TicketLine]:
    query = Ticket.select(Ticket, Member).join(Member).order_by(Ticket.due_at, Ticket.id).limit(limit)
    if status:
        query = query.where(Ticket.status == status)
    if member is not None:
        query = query.where(Ticket.member == member)
    if assigned_to:
        query = query.where(Ticket.assigned_to == resolve_staff(assigned_to).id)
    if overdue:
        query = query.where(Ticket.status == "open", Ticket.due_at < clock.now())
    return [_line(t) for t in query]


def open_tickets_of(member_id: int) -> list[TicketLine]:
    """The member's open tickets (the member screen shows them)."""
    return tickets(member=member_id)


def history(ticket_id: int) -> tuple[TicketLine, list[NoteLine]]:
    t = _ticket(ticket_id)
    notes = (TicketNote.select(TicketNote, Staff.id, Staff.code, Message.id, Message.state)
             .join(Staff, peewee.JOIN.LEFT_OUTER, on=(TicketNote.staff == Staff.id)).switch(TicketNote)
             .join(Message, peewee.JOIN.LEFT_OUTER, on=(TicketNote.message == Message.id))
             .where(TicketNote.ticket == t.id).order_by(TicketNote.at, TicketNote.id))
    return _line(t), [NoteLine(n.at, n.kind, n.staff.code if n.staff_id else "", n.text,
                               n.message.state if n.message_id else "") for n in notes]


def _body_text(mail: email.message.EmailMessage) -> str:
    """The plain text of an email; a body that names no charset is read as UTF-8, else GB18030 (what Chinese mail
    clients write)."""
    body = mail.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    if body.get_content_charset() is None:
        raw = body.get_payload(decode=True) or b""
        for encoding in ("utf-8", "gb18030"):
            try:
                return raw.decode(encoding).strip()
            except UnicodeDecodeError:
                continue
        return raw.decode("utf-8", "replace").strip()
    try:
        return str(body.get_content()).strip()
    except (LookupError, UnicodeDecodeError):  # a charset Python does not know, or a body not in it
        return (body.get_payload(decode=True) or b"").decode("utf-8", "replace").strip()


def from_email(raw: bytes) -> TicketLine:
    """A member's email (piped in by the mail server): a reply to an answer we sent joins that ticket; a new
    email from a member's address opens a question. An address no member has is refused."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    sender = parseaddr(str(mail.get("From", "")))[1].lower()
    if not sender:
        raise InvalidInput(_("The email has no sender."))
    member = Member.get_or_none(peewee.fn.LOWER(Member.email) == sender)
    if member is None:
        raise NotFound(_("No member has the email address {address}.").format(address=sender))
    text = _body_text(mail)
    lines = []
    for line in text.splitlines():  # the reply without the quoted answer under it
        if line.startswith(">") or (line.startswith("On ") and line.rstrip().endswith("wrote:")):
            break
        lines.append(line)
    text = "\n".join(lines).strip()[:MAX_TEXT] or _("(no text)")
    subject = str(mail.get("Subject", "")).strip() or _("(no subject)")
    ticket = None
    for ref in f"{mail.get('In-Reply-To', '')} {mail.get('References', '')}".split():
        key = ref.strip("<>").partition("@")[0].replace(".", ":")
        if key.startswith("ticket:"):
            number = key.split(":")[1]
            ticket = Ticket.get_or_none(Ticket.id == int(number)) if number.isdigit() and len(number) <= 12 else None
        if ticket is not None and ticket.member_id == member.id:
            break
        ticket = None
    if ticket is None:
        return open_ticket(None, member.id, "question", subject, text, source="email")
    with write_transaction():
        TicketNote.create(ticket=ticket.id, kind="member", text=text, at=clock.now())
        if ticket.status == "closed":  # the member wrote again: it is open again
            Ticket.update(status="open", closed_at=None, closed_by=None).where(Ticket.id == ticket.id).execute()
        audit("ticket.email", f"ticket:{ticket.id}", staff=None, store=ticket.store, payload={})
    return _line(Ticket.get_by_id(ticket.id))

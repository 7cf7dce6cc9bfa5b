"""What was sent to whom: a member's messages (``mms messages log --member``, their data-access export), the
outbox by state, and a manager's decision to send again a message whose fate is unknown."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import MESSAGE_STATES, Member, Message, Staff
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require


@dataclass(frozen=True)
class MessageLine:
    id: int
    created_at: dt.datetime
    trigger: str
    channel: str
    state: str
    address: str
    text: str
    sms_parts: int
    attempts: int
    reason: str


def _line(m: Message) -> MessageLine:
    return MessageLine(m.id, m.created_at, m.trigger, m.sent_channel or m.channel, m.state, m.address, m.text,
                       m.sms_parts, m.attempts, m.reason)


def messages_of(by: Staff, member_id: int) -> list[MessageLine]:
    """Everything written to a member, oldest first: what went, by which channel, to which address, and why not."""
    require(by, "messages.read")
    return [_line(m) for m in Message.select().where(Message.member == member_id).order_by(Message.id)]


def outbox(by: Staff, state: str | None = None, *, limit: int = 100) -> list[MessageLine]:
    """The latest messages (in ``state``), newest first."""
    require(by, "messages.read")
    if state is not None and state not in MESSAGE_STATES:
        raise InvalidInput(_("State must be one of {states}, not {value!r}.").format(
            states=", ".join(MESSAGE_STATES), value=state))
    query = Message.select().order_by(Message.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Message.state == state)
    return [_line(m) for m in query]


def send_again(staff: Staff, message_id: int) -> MessageLine:
    """A manager, having checked with the member or the provider that an unknown (or failed, or skipped) message
    did not arrive, puts it back in the outbox (its consent is checked again when it goes)."""
    require(staff, "messages.campaign")
    with write_transaction():
        m = Message.get_or_none(Message.id == message_id)
        if m is None:
            raise NotFound(_("No message {id}.").format(id=message_id))
        if m.state not in ("unknown", "failed", "skipped"):
            raise InvalidInput(_("Only a message that is unknown, failed or skipped can be sent again; {id} is "
                                 "{state}.").format(id=message_id, state=m.state))
        Message.update(state="queued", not_before=clock.now(),
                       reason=_("sent again by {staff}").format(staff=staff.code)).where(Message.id == m.id).execute()
        audit("message.send_again", f"message:{m.id}", staff=staff, store=None, payload={"was": m.state})
    return _line(Message.get_by_id(message_id))


def set_openid(staff: Staff, member: Member, openid: str) -> None:
    """Bind (or, empty, unbind) the member's WeChat openid on the shop's Official Account."""
    openid = openid.strip()
    if len(openid) > 64 or (openid and not all(c.isalnum() or c in "-_" for c in openid)):
        raise InvalidInput(_("{value!r} is not a WeChat openid.").format(value=openid))
    with write_transaction():
        Member.update(wechat_openid=openid).where(Member.id == member.id).execute()
        audit("member.wechat", f"member:{member.id}", staff=staff, store=None, payload={"bound": bool(openid)})

"""Messages to members (消息): SMS, email and WeChat service notices, from a transactional outbox (migration 21).

A :class:`Message` is written in the same database transaction as the operation that causes it (a checkout, a
top-up, a campaign's confirmation, the daily reminders), keyed so that the same cause never writes it twice; the
worker (services/messages/worker.py) sends it later and records each step. A :class:`MessageTemplate` is a
manager's wording of one trigger on one channel in one language; :class:`Campaign` is one 群发 to a segment, a tag
or a file of members.
"""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.members import Member
from mms_tui.models.org import Staff, Store

MESSAGE_CHANNELS = ("wechat", "sms", "email")
#: what causes a message: 消费提醒 after stored value moved, a card or pass ending, points expiring, a birthday, a
#: coupon issued, a booking's reminder, a campaign (群发), staff answering a member's service ticket
MESSAGE_TRIGGERS = ("balance", "card_ending", "points_expiring", "birthday", "coupon", "booking", "campaign",
                    "ticket")
#: queued: waiting (or waiting to be tried again); sending: handed to the provider, no answer recorded yet;
#: sent: the provider took it; failed: it never will be sent; unknown: the worker stopped mid-send and the
#: provider cannot be asked (never resent blindly); skipped: not sent on purpose (no consent, no address…)
MESSAGE_STATES = ("queued", "sending", "sent", "failed", "unknown", "skipped")


class MessageTemplate(BaseModel):
    """A trigger's wording on one channel in one language, edited by a manager. ``provider_code`` is the SMS
    provider's approved template code (阿里云 SMS_…, 腾讯云 template id) or the WeChat template id."""

    trigger = peewee.CharField(max_length=20)
    channel = peewee.CharField(max_length=10, constraints=[peewee.Check("channel IN ('wechat','sms','email')")])
    lang = peewee.CharField(max_length=5)
    subject = peewee.CharField(max_length=200, default="")
    body = peewee.TextField()
    provider_code = peewee.CharField(max_length=64, default="")
    active = peewee.BooleanField(default=True)
    updated_at = Moment(default=now)
    updated_by = peewee.ForeignKeyField(Staff, null=True, backref="message_templates", on_delete="RESTRICT")

    class Meta:
        indexes = ((("trigger", "channel", "lang"), True),)


class Campaign(BaseModel):
    """群发: one message to many members, previewed (count, SMS parts) and confirmed by a manager."""

    name = peewee.CharField(max_length=100)
    channel = peewee.CharField(max_length=10, constraints=[peewee.Check("channel IN ('sms','email')")])
    #: what chose the members: "segment:NAME", "tag:NAME" or "file:NAME"
    audience = peewee.CharField(max_length=200)
    subject = peewee.CharField(max_length=200, default="")
    body = peewee.TextField()
    provider_code = peewee.CharField(max_length=64, default="")
    members = peewee.IntegerField(default=0)
    sms_parts = peewee.IntegerField(default=0)
    store = peewee.ForeignKeyField(Store, null=True, backref="campaigns", on_delete="RESTRICT")
    staff = peewee.ForeignKeyField(Staff, backref="campaigns", on_delete="RESTRICT")
    created_at = Moment(default=now)


class Message(BaseModel):
    """One message to one member from the outbox. ``key`` names its cause (``balance:<txid>``,
    ``birthday:<member>:<year>``, ``campaign:<id>:<member>``…): the unique index makes a cause write it once, and
    the key is what the provider is given as its out-id / Message-ID."""

    key = peewee.CharField(max_length=120, unique=True)
    member = peewee.ForeignKeyField(Member, backref="messages", on_delete="RESTRICT")
    trigger = peewee.CharField(max_length=20)
    #: the channel it must go by (a campaign's), or empty: the member's first reachable one at send time
    channel = peewee.CharField(max_length=10, default="")
    marketing = peewee.BooleanField(default=False)
    #: the values the template is filled with (JSON object of text), fixed when the cause happened
    fields = peewee.TextField(default="{}")
    campaign = peewee.ForeignKeyField(Campaign, null=True, backref="messages", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, null=True, backref="messages", on_delete="RESTRICT")
    state = peewee.CharField(
        max_length=10, default="queued",
        constraints=[peewee.Check("state IN ('queued','sending','sent','failed','unknown','skipped')")])
    #: not to be tried before this moment (backoff after a temporary failure; quiet hours)
    not_before = Moment(default=now)
    attempts = peewee.IntegerField(default=0)
    created_at = Moment(default=now)
    #: the last attempt: when, by which channel, to which address, the text sent and its SMS parts
    attempted_at = Moment(null=True)
    sent_channel = peewee.CharField(max_length=10, default="")
    address = peewee.CharField(max_length=254, default="")
    text = peewee.TextField(default="")
    sms_parts = peewee.IntegerField(default=0)
    provider_id = peewee.CharField(max_length=100, default="")
    #: what the carrier reported for a sent SMS, where the provider reports it: "" (not asked yet), waiting,
    #: delivered, undelivered, unreported (the provider had no receipt for it)
    delivery = peewee.CharField(max_length=12, default="")
    #: why it failed, was skipped or is unknown (one line, never a secret)
    reason = peewee.TextField(default="")

    class Meta:
        indexes = ((("state", "not_before"), False), (("member", "created_at"), False),
                   (("campaign", "state"), False))


TICKET_KINDS = ("question", "complaint", "request")
TICKET_STATES = ("open", "closed")
TICKET_SOURCES = ("desk", "email")


class Ticket(BaseModel):
    """客户服务: a member's question, complaint or request, recorded at the desk or from their email, assigned to
    staff, due by a time; its notes and the answers sent are its history (:class:`TicketNote`)."""

    member = peewee.ForeignKeyField(Member, backref="tickets", on_delete="RESTRICT")
    kind = peewee.CharField(max_length=10, constraints=[peewee.Check("kind IN ('question','complaint','request')")])
    subject = peewee.CharField(max_length=200)
    status = peewee.CharField(max_length=10, default="open",
                              constraints=[peewee.Check("status IN ('open','closed')")])
    source = peewee.CharField(max_length=10, default="desk")
    store = peewee.ForeignKeyField(Store, null=True, backref="tickets", on_delete="RESTRICT")
    assigned_to = peewee.ForeignKeyField(Staff, null=True, backref="tickets_assigned", on_delete="RESTRICT")
    due_at = Moment()
    created_at = Moment(default=now)
    created_by = peewee.ForeignKeyField(Staff, null=True, backref="tickets_opened", on_delete="RESTRICT")
    #: when staff first answered the member (a reply sent), and when it was closed, by whom, how
    first_answer_at = Moment(null=True)
    closed_at = Moment(null=True)
    closed_by = peewee.ForeignKeyField(Staff, null=True, backref="tickets_closed", on_delete="RESTRICT")
    resolution = peewee.TextField(default="")

    class Meta:
        indexes = ((("status", "due_at"), False), (("member", "status"), False))


class TicketNote(BaseModel):
    """One step of a ticket's history: what the member said (``member``), a note among staff (``note``), an answer
    sent to the member (``answer``, with its message), an assignment or the close (``event``)."""

    ticket = peewee.ForeignKeyField(Ticket, backref="notes", on_delete="CASCADE")
    kind = peewee.CharField(max_length=10, constraints=[peewee.Check("kind IN ('member','note','answer','event')")])
    text = peewee.TextField()
    at = Moment(default=now)
    staff = peewee.ForeignKeyField(Staff, null=True, backref="ticket_notes", on_delete="RESTRICT")
    message = peewee.ForeignKeyField(Message, null=True, backref="ticket_notes", on_delete="RESTRICT")

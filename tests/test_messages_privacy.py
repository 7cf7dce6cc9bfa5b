"""A member's messages and service tickets are personal data (issue #23): in their data-access export, and gone
with an erasure — what waited in the outbox is not sent, what was sent keeps only when and how."""

from __future__ import annotations

from mms_tui.models import Message, Ticket, TicketNote
from mms_tui.services.exchange.member_document import member_document
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.members.attributes import set_consent
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.privacy import erase_member
from mms_tui.services.members.profile import register_member
from mms_tui.services.messages.queries import messages_of
from mms_tui.services.messages.tickets import add_note, open_ticket
from mms_tui.services.money.topup import top_up

PHONE = "13800138000"


def _member_with_messages(desk) -> int:
    m = register_member("张三", PHONE, desk.cashier, "r1").member_id
    set_consent(m, desk.cashier, "notices", True)
    card = issue_card(m, "SV", desk.cashier, "i1", card_no="00012345").card_id
    top_up(card, 10_000, 0, "cash", desk.cashier, "t1")
    ticket = open_ticket(desk.cashier, m, "complaint", "水温太低", "洗头水太凉")
    add_note(desk.cashier, ticket.id, "下次调高水温", answer=True)
    return m


def test_the_members_export_holds_their_messages_and_tickets(desk):
    _member_with_messages(desk)
    document = member_document(PHONE)
    assert [m["trigger"] for m in document["messages"]] == ["balance", "ticket"]
    (ticket,) = document["tickets"]
    assert ticket["subject"] == "水温太低"
    assert [(n["kind"], n["text"]) for n in ticket["history"]] == [("member", "洗头水太凉"), ("answer", "下次调高水温")]


def test_the_log_is_a_managers_to_read(desk):
    import pytest

    from mms_tui.services.base.errors import PermissionDenied

    m = _member_with_messages(desk)
    with pytest.raises(PermissionDenied):
        messages_of(desk.cashier, m)
    assert len(messages_of(desk.manager, m)) == 2


def test_erasure_empties_their_messages_and_tickets_and_nothing_waiting_is_sent(desk):
    m = _member_with_messages(desk)
    erase_member(m, desk.manager, "request", new_txid())
    rows = list(Message.select().where(Message.member == m))
    assert rows and all(r.state == "skipped" and r.fields == "{}" and not r.text and not r.address for r in rows)
    assert [(t.subject, t.status) for t in Ticket.select()] == [("", "closed")]
    assert {n.text for n in TicketNote.select()} == {""}

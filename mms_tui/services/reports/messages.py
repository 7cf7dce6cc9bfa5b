"""What the messages did (``messages``): per channel and trigger, how many were sent, failed, are unknown, were
skipped or still wait, and the SMS parts billed (the cost); and each campaign's results (``campaigns``): sent, and
of the members it went to, who came in or bought within the rules' ``results_days`` after it was confirmed;
and the service tickets (``tickets``) per staff member: opened, answered, closed and how fast, open and overdue
now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import peewee

from mms_tui import clock
from mms_tui.models import Campaign, Message, Sale, Staff, Ticket, Transaction, Visit
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.reports.period import Period, Row
from mms_tui.services.reports.sales import parts_given_back

_STATES = ("sent", "failed", "unknown", "skipped", "queued", "sending")


def messages(p: Period, by: str = "day") -> Iterator[Row]:
    """Messages written in the period, per channel (the one tried; else the one asked for) and trigger."""
    channel = peewee.fn.COALESCE(peewee.fn.NULLIF(Message.sent_channel, ""), peewee.fn.NULLIF(Message.channel, ""),
                                 "-")
    query = (Message.select(channel, Message.trigger, Message.state, peewee.fn.COUNT(Message.id),
                            peewee.fn.SUM(Message.sms_parts))
             .where(p.during(Message.created_at, Message.store))
             .group_by(channel, Message.trigger, Message.state))
    query = p.of_stores(query, Message.store)
    table: dict[tuple[str, str], dict[str, int]] = {}
    for ch, trigger, state, count, parts in query.tuples():
        row = table.setdefault((ch, trigger), {s: 0 for s in (*_STATES, "sms_parts")})
        row[state] += int(count)
        if state == "sent":
            row["sms_parts"] += int(parts or 0)
    for (ch, trigger), counts in sorted(table.items()):
        yield {"channel": ch, "trigger": trigger, "sent": counts["sent"], "failed": counts["failed"],
               "unknown": counts["unknown"], "skipped": counts["skipped"],
               "waiting": counts["queued"] + counts["sending"], "sms_parts": counts["sms_parts"]}


def campaigns(p: Period, by: str = "day") -> Iterator[Row]:
    """Each campaign confirmed in the period: what went, and what the members it reached did afterwards."""
    days = load_rules().messages.results_days
    query = (Campaign.select(Campaign, Staff.code).join(Staff)
             .where(p.during(Campaign.created_at, Campaign.store))
             .order_by(Campaign.created_at, Campaign.id))
    query = p.of_stores(query, Campaign.store)
    given_back = parts_given_back()
    for c in query:
        states = dict(Message.select(Message.state, peewee.fn.COUNT(Message.id))
                      .where(Message.campaign == c.id).group_by(Message.state).tuples())
        parts = Message.select(peewee.fn.SUM(Message.sms_parts)).where(
            (Message.campaign == c.id) & (Message.state == "sent")).scalar() or 0
        receipts = dict(Message.select(Message.delivery, peewee.fn.COUNT(Message.id))
                        .where((Message.campaign == c.id) & (Message.state == "sent")).group_by(Message.delivery)
                        .tuples())
        reached = Message.select(Message.member).where((Message.campaign == c.id) & (Message.state == "sent"))
        until = c.created_at + dt.timedelta(days=days)
        came = (Visit.select(peewee.fn.COUNT(Visit.member.distinct()))
                .where(Visit.member.in_(reached) & (Visit.status == "ok") & (Visit.created_at >= c.created_at)
                       & (Visit.created_at < until)).scalar() or 0)
        bought_sales = (Sale.member.in_(reached) & (Sale.status == "paid") & (Sale.created_at >= c.created_at)
                        & (Sale.created_at < until))
        bought, revenue = (Sale.select(peewee.fn.COUNT(Sale.member.distinct()), peewee.fn.SUM(Sale.total_fen))
                           .where(bought_sales).tuples()[0])
        revenue = int(revenue or 0)
        if given_back:  # what the sales kept: their partial refunds (部分退款) off, as a whole refund counts none
            revenue -= sum(given_back[txid] for (txid,) in (Sale.select(Transaction.txid).join(Transaction)
                                                             .where(bought_sales
                                                                    & Transaction.txid.in_(list(given_back)))
                                                             .tuples()))
        yield {"campaign": c.id, "name": c.name, "channel": c.channel, "at": c.created_at.isoformat(" ", "minutes"),
               "by": c.staff.code, "members": c.members, "sent": int(states.get("sent", 0)),
               "failed": int(states.get("failed", 0)), "unknown": int(states.get("unknown", 0)),
               "skipped": int(states.get("skipped", 0)),
               "waiting": int(states.get("queued", 0)) + int(states.get("sending", 0)),
               "delivered": int(receipts.get("delivered", 0)), "undelivered": int(receipts.get("undelivered", 0)),
               "sms_parts": int(parts),
               f"came_in_{days}d": int(came), f"bought_in_{days}d": int(bought or 0),
               "revenue_fen": int(revenue or 0)}


def tickets(p: Period, by: str = "day") -> Iterator[Row]:
    """Service tickets per assigned staff member: opened in the period, and of them answered and closed with the
    average hours to the first answer and to the close; open and overdue now (whenever opened)."""
    now = clock.now()
    codes = dict(Staff.select(Staff.id, Staff.code).tuples())
    table: dict[str, dict[str, float]] = {}

    def row(staff_id: int | None) -> dict[str, float]:
        return table.setdefault(codes.get(staff_id, "-") if staff_id else "-", {
            "opened": 0, "answered": 0, "hours_to_answer": 0.0, "closed": 0, "hours_to_close": 0.0, "open": 0,
            "overdue": 0})

    opened = (Ticket.select(Ticket.assigned_to, Ticket.created_at, Ticket.first_answer_at, Ticket.closed_at)
              .where(p.during(Ticket.created_at, Ticket.store)))
    for staff_id, created, answered, closed in p.of_stores(opened, Ticket.store).tuples():
        r = row(staff_id)
        r["opened"] += 1
        if answered is not None:
            r["answered"] += 1
            r["hours_to_answer"] += (answered - created).total_seconds() / 3600  # (read as store time already)
        if closed is not None:
            r["closed"] += 1
            r["hours_to_close"] += (closed - created).total_seconds() / 3600
    still = Ticket.select(Ticket.assigned_to, Ticket.due_at).where(Ticket.status == "open")
    for staff_id, due in p.of_stores(still, Ticket.store).tuples():
        r = row(staff_id)
        r["open"] += 1
        r["overdue"] += due < now
    for code, r in sorted(table.items()):
        yield {"staff": code, "opened": int(r["opened"]), "answered": int(r["answered"]),
               "avg_hours_to_answer": round(r["hours_to_answer"] / r["answered"], 1) if r["answered"] else "",
               "closed": int(r["closed"]),
               "avg_hours_to_close": round(r["hours_to_close"] / r["closed"], 1) if r["closed"] else "",
               "open_now": int(r["open"]), "overdue_now": int(r["overdue"])}

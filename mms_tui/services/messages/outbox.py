"""The outbox: a message is a row written in the same database transaction as what causes it, so a rolled-back
checkout sends nothing and a committed one is never forgotten. Its key names the cause, and the unique index on it
makes a cause write it once however often it is looked at (a retried operation, a reminder scan run twice).

What goes in is the member and the values of the moment (an amount, the balance after it, the store); the wording,
the channel and the address are chosen when it is sent (worker.py), so that the member's consent and contact
details are the ones in force then.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from mms_tui import clock
from mms_tui.models import Card, Message, Store
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.base.text import format_money
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.messages.templates import MARKETING


def enqueue(member_id: int, trigger: str, key: str, fields: Mapping[str, str], *, store_id: int | None = None,
            channel: str = "", campaign_id: int | None = None, not_before: dt.datetime | None = None) -> None:
    """Write one message into the outbox within the caller's transaction; the same key again writes nothing."""
    Message.insert(
        key=key[:120], member=member_id, trigger=trigger, channel=channel, marketing=trigger in MARKETING,
        fields=json.dumps(dict(fields), ensure_ascii=False, sort_keys=True), campaign=campaign_id, store=store_id,
        not_before=not_before or clock.now(), created_at=clock.now(),
    ).on_conflict_ignore().execute()


def enqueue_new(causes: list[tuple[int, str, str, Mapping[str, str], int | None]]) -> int:
    """Write the messages of ``causes`` — (member, trigger, key, fields, store) — whose key has none yet; how many
    were written. A scan that finds the same causes again reads their keys and writes nothing (an ignored insert
    would still take a number from PostgreSQL's sequence each time)."""
    written = 0
    for start in range(0, len(causes), 500):
        chunk = causes[start:start + 500]
        have = {k for (k,) in Message.select(Message.key).where(Message.key.in_([c[2][:120] for c in chunk])).tuples()}
        for member_id, trigger, key, fields, store_id in chunk:
            if key[:120] not in have:
                enqueue(member_id, trigger, key, fields, store_id=store_id)
                written += 1
    return written


def said_yes_to_notices(member_id: int) -> bool:
    """Whether the member's answer in force on service notices (消费提醒) is yes (one read)."""
    rows = fetch_rows('SELECT "given" FROM "consent" WHERE "member_id" = ? AND "channel" = ? ORDER BY "id" DESC '
                      "LIMIT 1", (member_id, "notices"))
    return bool(rows and rows[0][0])


def amount_text(fen: int) -> str:
    return format_money(fen, "")


def moment_text(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def balance_changed(txid: str, member_id: int | None, member_name: str, card_id: int | None, what: str,
                    amount_fen: int, store: Store, when: dt.datetime, rules: Rules) -> None:
    """消费提醒: stored value moved on the member's card (``what``: spend, topup, refund). Written only for members
    who said yes to service notices, inside the operation's transaction (money/checkout.py, topup.py, refund.py)."""
    if member_id is None or card_id is None or not amount_fen or not rules.messages.balance:
        return
    if not said_yes_to_notices(member_id):
        return
    card = Card.select(Card.card_no, Card.principal_fen, Card.bonus_fen).where(Card.id == card_id).get()
    enqueue(member_id, "balance", f"balance:{txid}:{card_id}", {
        "name": member_name, "store": store.name, "what": what, "amount": amount_text(amount_fen),
        "balance": amount_text(card.principal_fen + card.bonus_fen), "card": card.card_no[-4:],
        "time": moment_text(when)}, store_id=store.id)


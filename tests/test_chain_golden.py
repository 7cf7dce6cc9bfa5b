"""The hash chains' canonical form, frozen (issue #15): fixed rows → fixed digests.

The links in every shop's database were made by services/ledger/chain.py, and ``mms check`` verifies them by
rebuilding each row's content with the same functions. A change to how content is rebuilt — an order, a time's
text, a number's type, a key — would pass every other test (writer and verifier change together) and break every
existing chain at its next check. Here the rows are handed to the content functions as each backend returns them
(SQLite: times as text, hashes as bytes; PostgreSQL: datetimes and memoryviews), without the services, and the
digests must be the ones these rows have always had — in a database keeping its history in UTC (every database
made since migration 7) and in one whose chains were made over local times before (``history_time_zone``). A
digest below changes only on purpose, with a migration that re-links what was chained before.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mms_tui import clock
from mms_tui.services.ledger import chain

REQUEST = bytes(range(32))
#: the digests of the rows below, chained from the genesis in this order: a checkout, a check-in, an audit event;
#: by the zone the database's history is kept in
GOLDEN = {
    "UTC": ("b88e91edc29a700ad6a9764508357f6ba81422d23748d7ae56671df5e4e6cb72",
            "9a322d6747d7435feb04f8cc5b02c1339578eadad8c83dfa7783b85107c51fc9",
            "b12bd09e5ef635e369fa3077fd56b1e9964ab31e957ebb8eaa17937fc1ffee2a"),
    "Asia/Shanghai": ("17449dc184e191f27719ff85dbb5463eec5c88f4026e75e845af297708e91855",
                      "570228fb72c416afa2ddad040c5f25ecf1bfb7eb029ae6e0b8236d49a2ac619c",
                      "e2e1608548ae1cb199189c7ef6fda2a8c0cfb41e0ce7d626a1f19a6ae85416d7"),
}


#: a sale's audit event kept on its transaction (migration 30): action, subject, payload
SALE_EVENT = ("sale.checkout", "sale:7", '{"member": 17, "total_fen": 10000, "name": "张三", "payments": [{"tender": '
              '"cash", "amount_fen": 1200, "phone": "13800138000"}], "coupons": [], "note": "¥ 满100减"}')
#: the digests of a transaction with its operation's own audit event (an ``op`` link, migration 30 on), and of an
#: audit event that migration 30 moved onto its transaction (a ``txa`` link: its digest is the one its row had), each
#: chained from the genesis
GOLDEN_EVENT_ON_TX = {
    "UTC": ("74b188a4dbbbef5a0654dc143df273dcbdb8791692deaf8701c86bcb046d70ee",
            "6a73ef0d9914f8e1d796314ec2a1a7338f31cc2af248915c7ef2314a1fa52968"),
    "Asia/Shanghai": ("0fa299f2225b3b03a9ec1de0b3e1817ee1b905c9075dd068e65237f12d046092",
                      "81f06b462d2ed1098c0abe7e4883279724e50250d906a0297f774d098f3d67c1"),
}


def _rows(style: str) -> dict[str, list[tuple]]:
    """The stored rows of a checkout (three entries out of order, four lines with names in Chinese and with
    accents, two payments), a check-in with a note (its moments stored with a fraction of a second, which the
    canonical form leaves out), and a sale's audit event, as ``style`` ("sqlite" or "postgres") returns them."""
    if style == "sqlite":
        def at(text: str) -> object:
            return text

        def hashed(raw: bytes) -> object:
            return raw
    else:
        def at(text: str) -> object:
            return dt.datetime.fromisoformat(text)

        def hashed(raw: bytes) -> object:
            return memoryview(raw)
    return {
        "ledger_transaction": [
            (41, "s-golden", "checkout", 3, 2, 17, at("2026-03-01 09:30:05"), None, hashed(REQUEST), "",
             *SALE_EVENT),
            (42, "c-golden", "checkin", 3, 2, 17, at("2026-03-01 18:00:59.750000"), "s-golden", hashed(REQUEST),
             "门店备注", None, None, None),
        ],
        # the checkout's own audit event as it is kept on its transaction (migration 30), read by a ``txa`` link
        "ledger_transaction as kept event": [(41, at("2026-03-01 09:30:05"), 3, 2, *SALE_EVENT[:2], "s-golden",
                                              SALE_EVENT[2])],
        "ledger_entry": [
            (41, "tender.cash", None, "fen", -1_200),
            (41, "card.principal", 9, "fen", -8_800),
            (41, "revenue.sales", None, "fen", 10_000),
            (42, "card.visits", 9, "visit", -1),
            (42, "revenue.visits", None, "visit", 1),
        ],
        "sale": [(7, 41, 17, 2, 3, at("2026-03-01 09:30:05"), 10_400, 400, 10_000, 0, 100)],
        "sale_line": [
            (7, None, 5, "HAIR", "洗剪吹", "美发", 1, 8_800, 8_800, 8_800, "银卡价"),
            (7, 4, None, "WATER", "Water \"still\"", "", 2, 800, 600, 1_200, ""),
            (7, None, 6, "CAKE", "zebra cake", "", 1, 0, 0, 0, "赠品"),
            (7, None, 6, "CAKE", "éclair", "", 1, 0, 0, 0, "赠品"),  # (ordered by its text as JSON writes it)
        ],
        "payment": [(7, "stored_value", 8_800, 9, 8_800, 0, 0), (7, "cash", 1_200, None, 0, 0, 0)],
        "visit": [(42, 12, 17, 9, 2, 3, at("2026-03-01 18:00:59.250000"))],
        "audit_event": [
            (88, at("2026-03-01 09:30:06"), 3, 2, "sale.checkout", "sale:7", "s-golden",
             '{"member": 17, "total_fen": 10000, "name": "张三", "payments": [{"tender": "cash", "amount_fen": 1200,'
             ' "phone": "13800138000"}], "coupons": [], "note": "¥ 满100减"}'),
        ],
    }


@pytest.fixture(params=["sqlite", "postgres"])
def stored(request, monkeypatch, sqlite_desk):  # (the database only for the settings: the rows are handed over)
    """``fetch_rows`` answering chain.py's reads with the rows of one backend's style."""
    rows = _rows(request.param)

    def fetch_rows(statement: str, params=()) -> list[tuple]:
        table = statement.split(" FROM ", 1)[1].split()[0].strip('"')
        if table == "ledger_transaction" and '"id", "created_at", "staff_id"' in statement:
            table = "ledger_transaction as kept event"
        return list(rows[table])

    monkeypatch.setattr(chain, "fetch_rows", fetch_rows)
    return request.param


@pytest.mark.parametrize("history", GOLDEN)
def test_the_canonical_form_of_stored_rows_is_what_it_always_was(stored, history):
    """Both backends' rows give the same digests, and they are the ones of 2026-12-07 (chain.py as of stop 41)."""
    assert clock.history_zone_name() == "UTC"  # (a new database's)
    if history != "UTC":
        clock.configure(clock.zone_name(), history)  # (as the settings of an upgraded database set it)
    try:
        assert clock.history_zone_name() == history
        digests = _digests()
    finally:
        clock.forget()  # (the database's own settings read again)
    assert digests == GOLDEN[history], stored


@pytest.mark.parametrize("history", GOLDEN)
def test_an_event_kept_on_its_transaction_chains_as_it_did_on_its_row(stored, history):
    """A transaction's ``tx`` content leaves the event kept on it out (the links made before migration 30 still
    verify: the digests above come from rows that keep one); a ``txa`` link's content is the event's as its own
    row gave it, so its digest is the one that row had; an ``op`` link's content is the transaction with the
    event — all frozen like the others."""
    if history != "UTC":
        clock.configure(clock.zone_name(), history)
    try:
        kept = chain.folded_audit_contents([41])[41]
        as_row = chain.audit_content(*_rows(stored)["ledger_transaction as kept event"][0][1:])
        op = chain.op_contents([41])[41]
        plain = chain.tx_contents([41])[41]
        digests = (chain.digest_of(chain.GENESIS, "op", op), chain.digest_of(chain.GENESIS, "audit", kept))
    finally:
        clock.forget()
    assert kept == as_row
    assert op["event"] == {"action": "sale.checkout", "subject": "sale:7", "payload": as_row["payload"]}
    assert "name" not in op["event"]["payload"] and "phone" not in op["event"]["payload"]["payments"][0]
    assert {k: v for k, v in op.items() if k != "event"} == plain
    assert digests == GOLDEN_EVENT_ON_TX[history], stored


def _digests() -> tuple[str, str, str]:
    contents = chain.tx_contents([41, 42])
    audit = chain.audit_contents([88])
    first = chain.digest_of(chain.GENESIS, "tx", contents[41])
    second = chain.digest_of(first, "tx", contents[42])
    third = chain.digest_of(second, "audit", audit[88])
    return first, second, third

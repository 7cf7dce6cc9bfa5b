"""Tamper evidence: every transaction (with its entries, and the sale or visit it made) and every audit event is a
link of a hash chain, each link's digest taken over the previous one's.

* **One chain per store** (chain 0 for what belongs to no store: logins, staff accounts, rules), each with one head
  row, so desks of different stores never wait on one another; a link is appended in the same database
  transaction as the row it covers (:func:`link`), under the head row's lock.
* **Canonical form**: the link's content is the row's fields as plain JSON (sorted keys, no spaces, times to the
  second as ``YYYY-MM-DD HH:MM:SS`` in the database's ``history_time_zone``), byte-identical on SQLite and
  PostgreSQL. It leaves out what may legitimately change later: a transaction's stored replay result (which may
  be compacted), a sale's or a visit's status (a refund changes it: the refund is a link of its own), and personal
  fields of audit payloads (erasure anonymises them: the keys in :data:`PERSONAL_KEYS`).
* :func:`verify` recomputes every chain from the rows and names the first broken link of each; rows no link covers
  are named too. :func:`heads` are what ``mms check --anchor`` prints to keep elsewhere; :func:`check_anchors`
  proves a kept head is still in its chain (nothing rewritten or cut off the end since it was taken).
* **Audited state**: rows whose changes are audited (staff accounts and their roles and PINs, the loyalty rules)
  must hold the state their last chained event records (:func:`audited_state`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from mms_tui import clock
from mms_tui.db import is_sqlite
from mms_tui.services.base.sql import fetch_rows, run_sql

GENESIS = "0" * 64
T = TypeVar("T")
#: audit payload keys that hold a person's data: left out of the digest, so erasure may anonymise them
PERSONAL_KEYS = frozenset({"name", "phone", "birthday", "notes", "gender", "email", "address", "before", "after"})
#: how many rows a verification reads at once
BATCH = 2_000
#: the kinds of transaction that make a sale or a visit (a sale or visit on any other is a problem of its own)
SALE_KINDS = ("checkout",)
VISIT_KINDS = ("checkin",)


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _time(value: object) -> object:
    """A stored (UTC) timestamp in canonical text: SQLite hands back text, PostgreSQL a datetime; written in the
    database's ``history_time_zone`` (UTC, or the zone its times were kept in before they were stored in UTC, so
    the links made then still verify)."""
    return _timer()(value)


def _time_in_utc(value: object) -> object:
    """:func:`_time` where the history is kept in UTC (the caller has asked): the common cases first, as
    ``mms check`` reads millions."""
    if type(value) is str and len(value) == 19 and _STORED_SECOND.fullmatch(value):
        return value
    if type(value) is dt.datetime and value.tzinfo is None:
        return value.isoformat(" ", "seconds")
    return _time_converted(value)


def _time_converted(value: object) -> object:
    value = clock.parse_stored(value)
    if isinstance(value, dt.datetime):
        return clock.canonical_text(value.replace(microsecond=0))
    return value if isinstance(value, str) else _plain(value)


def _timer() -> Callable[[object], object]:
    """:func:`_time` for a batch of rows: the history's zone asked once, not for every moment."""
    return _time_in_utc if clock.history_zone_name() == "UTC" else _time_converted


#: a stored moment already in canonical form (SQLite's text of a moment to the second)
_STORED_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def canonical(content: object) -> bytes:
    return _ENCODER.encode(content).encode()


def as_hex(stored: bytes | memoryview | str | None) -> str:
    """A stored digest or request hash as the hex text the chain hashes: stored as its 32 bytes since migration 26
    (PostgreSQL hands ``bytea`` back as a memoryview); text that is no SHA-256 (a generator's placeholder) stays
    text, as it was chained."""
    if stored is None or isinstance(stored, str):
        return stored or ""
    return bytes(stored).hex()


def as_stored(hex_digest: str) -> bytes:
    """A SHA-256 in hex as stored: its 32 bytes."""
    return bytes.fromhex(hex_digest)


def digest_of(prev: str, kind: str, content: object) -> str:
    return hashlib.sha256(prev.encode() + b"\n" + kind.encode() + b"\n" + canonical(content)).hexdigest()


def _ints(values: Iterable[object]) -> list:
    return [v if type(v) is int or type(v) is str or v is None  # (the common cases first: millions in mms check)
            else int(v) if isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool) else _plain(v)
            for v in values]


#: text JSON writes as it is, between quotes, with either ``ensure_ascii``
_PLAIN_TEXT = re.compile(r'[ !#-\[\]-~]*')


def _order_key(values: list) -> str:
    """``json.dumps(values)``, the order a row's entries or payments are chained in — written out by hand for a
    row of plain text, whole numbers and nulls (what they hold), the same text for a fraction of the cost."""
    parts = []
    for v in values:
        if type(v) is int:
            parts.append(str(v))
        elif v is None:
            parts.append("null")
        elif type(v) is str and _PLAIN_TEXT.fullmatch(v):
            parts.append(f'"{v}"')
        else:
            return json.dumps(values)
    return "[" + ", ".join(parts) + "]"


def _marks(ids: list[int]) -> str:
    return ", ".join("?" for _ in ids)


# ------------------------------------------------------------------------------------------------ content of rows


def tx_contents(ids: list[int], *, with_event: bool = False) -> dict[int, dict]:
    """The canonical content of these transactions: their fields, entries, and the sale or visit each made;
    ``with_event``: and the operation's own audit event kept on the transaction (an ``op`` link, migration 30)."""
    if not ids:
        return {}
    marks = _marks(ids)
    out: dict[int, dict] = {}
    at = _timer()
    for (tx_id, txid, kind, staff, store, member, created, reverses, request_hash, note, action, subject,
         payload) in fetch_rows(
        'SELECT t."id", t."txid", t."kind", t."staff_id", t."store_id", t."member_id", t."created_at", '
        'r."txid", t."request_hash", t."note", t."action", t."subject", t."payload" FROM "ledger_transaction" t '
        f'LEFT JOIN "ledger_transaction" r ON r."id" = t."reverses_id" WHERE t."id" IN ({marks})', ids):
        out[tx_id] = {"txid": txid, "kind": kind, "staff": staff, "store": store, "member": member,
                      "at": at(created), "reverses": reverses, "request": as_hex(request_hash), "note": note,
                      "entries": [], "sale": None, "visit": None}
        if with_event:
            out[tx_id]["event"] = {"action": action, "subject": subject, "payload": _payload_body(payload)}
    entries: dict[int, list] = defaultdict(list)
    for tx_id, *entry in fetch_rows('SELECT "transaction_id", "account", "card_id", "unit", "amount" FROM '
                                    f'"ledger_entry" WHERE "transaction_id" IN ({marks})', ids):
        entries[tx_id].append(_ints(entry))
    for tx_id, rows in entries.items():
        if tx_id in out:
            out[tx_id]["entries"] = sorted(rows, key=_order_key) if len(rows) > 1 else rows
    selling = [i for i, c in out.items() if c["kind"] in SALE_KINDS]
    visiting = [i for i, c in out.items() if c["kind"] in VISIT_KINDS]
    sales: dict[int, int] = {}
    for (sale_id, tx_id, member, store, staff, created, subtotal, discount, total, change, points) in fetch_rows(
            'SELECT "id", "transaction_id", "member_id", "store_id", "staff_id", "created_at", "subtotal_fen", '
            '"discount_fen", "total_fen", "change_fen", "points_earned" FROM "sale" '
            f'WHERE "transaction_id" IN ({_marks(selling)})', selling) if selling else ():
        sales[sale_id] = tx_id
        out[tx_id]["sale"] = {"id": sale_id, "member": member, "store": store, "staff": staff, "at": at(created),
                              "amounts": _ints([subtotal, discount, total, change, points]), "lines": [],
                              "payments": []}
    if sales:
        sale_marks = _marks(list(sales))
        for sale_id, *line in fetch_rows(
                'SELECT "sale_id", "product_id", "service_id", "code", "name", "category", "qty", "list_price_fen", '
                f'"unit_price_fen", "line_total_fen", "discount_reason" FROM "sale_line" WHERE "sale_id" IN '
                f'({sale_marks})', list(sales)):
            out[sales[sale_id]]["sale"]["lines"].append(_ints(line))
        for sale_id, *payment in fetch_rows(
                'SELECT "sale_id", "tender", "amount_fen", "card_id", "principal_fen", "bonus_fen", "points" FROM '
                f'"payment" WHERE "sale_id" IN ({sale_marks})', list(sales)):
            out[sales[sale_id]]["sale"]["payments"].append(_ints(payment))
        for tx_id in sales.values():
            sale = out[tx_id]["sale"]
            if len(sale["lines"]) > 1:  # (most sales have one line and one payment: nothing to order)
                sale["lines"].sort(key=lambda e: json.dumps(e, ensure_ascii=False))
            if len(sale["payments"]) > 1:
                sale["payments"].sort(key=_order_key)
    for (tx_id, visit_id, member, card, store, staff, created) in fetch_rows(
            'SELECT "transaction_id", "id", "member_id", "card_id", "store_id", "staff_id", "created_at" FROM "visit" '
            f'WHERE "transaction_id" IN ({_marks(visiting)})', visiting) if visiting else ():
        out[tx_id]["visit"] = {"id": visit_id, "member": member, "card": card, "store": store, "staff": staff,
                               "at": at(created)}
    return out


def _impersonal(payload: object) -> object:
    """An audit payload without the personal fields erasure may anonymise."""
    if isinstance(payload, dict):
        return {k: _impersonal(v) for k, v in payload.items() if k not in PERSONAL_KEYS}
    if isinstance(payload, list):
        return [_impersonal(v) for v in payload]
    return payload


def audit_contents(ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    return {event_id: audit_content(*fields) for event_id, *fields in fetch_rows(
        'SELECT "id", "created_at", "staff_id", "store_id", "action", "subject", "txid", "payload" FROM '
        f'"audit_event" WHERE "id" IN ({_marks(ids)})', ids)}


def op_contents(ids: list[int]) -> dict[int, dict]:
    """An ``op`` link's content: the transaction with the operation's own audit event kept on it."""
    return tx_contents(ids, with_event=True)


def folded_audit_contents(ids: list[int]) -> dict[int, dict]:
    """A ``txa`` link's content, by transaction: the audit event migration 30 moved from its own row onto its
    transaction, as :func:`audit_contents` read it there (its moment, staff, store and txid are the
    transaction's — the migration moved only events whose own were the same)."""
    if not ids:
        return {}
    return {tx_id: audit_content(*fields) for tx_id, *fields in fetch_rows(
        'SELECT "id", "created_at", "staff_id", "store_id", "action", "subject", "txid", "payload" FROM '
        f'"ledger_transaction" WHERE "id" IN ({_marks(ids)})', ids)}


#: link kind -> the content of the rows it covers. ``tx``: a transaction (with its entries, sale, visit); ``audit``:
#: an audit event's row; ``op`` (migration 30 on): a transaction with its operation's own audit event on it, one link
#: for both; ``txa``: an audit event that migration 30 moved onto its transaction, whose transaction keeps its ``tx``
#: link as it was
CONTENTS = {"tx": tx_contents, "audit": audit_contents, "op": op_contents, "txa": folded_audit_contents}
#: the kind a link's digest was taken with, where the link's own kind says where its row is now: a ``txa`` link is
#: the ``audit`` link it was, its row moved (its digest, and every digest after it, unchanged)
HASHED_AS = {"txa": "audit"}
#: what a broken link's row is called, where its kind is not the name of what it covers
ROW_NAMES = {"op": "tx", "txa": "audit event on the tx"}
#: the link kinds that cover a transaction, and those that cover the audit event a transaction keeps
TX_KINDS = ("tx", "op")
EVENT_ON_TX_KINDS = ("op", "txa")


# ------------------------------------------------------------------------------------------------ appending

_HEAD_INSERT = 'INSERT INTO "chain_head" ("chain", "seq", "digest") VALUES (?, 0, ?) ON CONFLICT ("chain") DO NOTHING'
_local = threading.local()


def begin() -> list:
    """An operation starts (one attempt of ``run_operation``): its links wait and are appended together (an
    operation run inside another one keeps its own list). The list is the token :func:`flush` and :func:`end`
    take."""
    frame: list = []
    _stack().append(frame)
    return frame


def _stack() -> list[list]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def link(kind: str, ref: int, store_id: int | None, content: dict | None = None) -> None:
    """Chain the row ``ref`` of ``kind`` ("tx" or "audit") on its store's chain, inside the caller's write
    transaction. Within an operation the links wait for :func:`flush` (one head read, one insert, one head update
    for all of them); outside one they are appended at once. ``content``: the row as :data:`CONTENTS` would read
    it back, when the caller has it."""
    item = (kind, ref, store_id or 0, content)
    stack = _stack()
    if stack:
        stack[-1].append(item)
    else:
        _append([item])


def flush(frame: list) -> None:
    """Append the operation's waiting links (its audit events, then the transaction itself)."""
    end(frame)
    if frame:
        _append(frame)


def end(frame: list) -> None:
    """The operation's attempt is over (committed, refused or failed): nothing of it waits any more."""
    stack = _stack()
    if any(f is frame for f in stack):
        while stack and stack.pop() is not frame:
            pass


def _append(items: list[tuple[str, int, int, dict | None]]) -> None:
    by_chain: dict[int, list] = defaultdict(list)
    for item in items:
        by_chain[item[2]].append(item)
    lock = "" if is_sqlite() else " FOR UPDATE"
    for chain, chained in sorted(by_chain.items()):
        rows = fetch_rows(f'SELECT "seq", "digest" FROM "chain_head" WHERE "chain" = ?{lock}', (chain,))
        if not rows:
            run_sql(_HEAD_INSERT, (chain, as_stored(GENESIS)))
            rows = fetch_rows(f'SELECT "seq", "digest" FROM "chain_head" WHERE "chain" = ?{lock}', (chain,))
        seq, prev = rows[0][0], as_hex(rows[0][1])
        values: list[object] = []
        for kind, ref, _chain, content in chained:
            if content is None:
                content = CONTENTS[kind]([ref])[ref]
            seq += 1
            prev = digest_of(prev, HASHED_AS.get(kind, kind), content)
            values += [chain, seq, kind, ref, as_stored(prev)]
        marks = ", ".join("(?, ?, ?, ?, ?)" for _ in chained)
        run_sql(f'INSERT INTO "chain_link" ("chain", "seq", "kind", "ref", "digest") VALUES {marks}', values)
        run_sql('UPDATE "chain_head" SET "seq" = ?, "digest" = ? WHERE "chain" = ?', (seq, as_stored(prev), chain))


def _payload_body(payload: str | None) -> object:
    """An audit payload as chained: its JSON without the personal fields (text that is no JSON as it is)."""
    try:
        return _impersonal(json.loads(payload))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return {"unreadable": payload}


def audit_content(created: object, staff: int | None, store: int | None, action: str, subject: str,
                  txid: str | None, payload: str) -> dict:
    """An audit event's canonical content from its fields (as :func:`audit_contents` reads it back)."""
    return {"at": _time(created), "staff": staff, "store": store, "action": action, "subject": subject,
            "txid": txid, "payload": _payload_body(payload)}


def _unlinked(table: str, kinds: tuple[str, ...]) -> str:
    """A query of the ids of ``table``'s rows no link of ``kinds`` (its parameters) covers.
    The links have no index by the row they cover (migration 29): SQLite takes the set difference of the two whole
    columns, each read once, where a lookup of each row would read every link; PostgreSQL's planner makes the
    anti-join a parallel hash join, quicker than its set difference, which sorts both sides."""
    of_kinds = f'"kind" IN ({_marks(list(kinds))})'
    if is_sqlite():
        return f'SELECT "id" FROM "{table}" EXCEPT SELECT "ref" FROM "chain_link" WHERE {of_kinds}'
    return f'SELECT t."id" FROM "{table}" t WHERE NOT EXISTS (SELECT 1 FROM "chain_link" l WHERE l.{of_kinds} AND ' \
           'l."ref" = t."id")'


#: what the links must cover: (what a loose one is called, table, which of its rows, the link kinds that cover one)
COVERED = (("tx", "ledger_transaction", "", TX_KINDS),
           ("audit", "audit_event", "", ("audit",)),
           ("audit event on the tx", "ledger_transaction", '"action" IS NOT NULL', EVENT_ON_TX_KINDS))


def rebuild() -> int:
    """Chain every transaction and audit event no link covers yet, oldest first (a database made before chains,
    or written in bulk by a generator): the number of links made. Inside the caller's write transaction. A
    transaction keeping its operation's audit event is one ``op`` link."""
    made = 0
    for kind, table, kinds in (("tx", "ledger_transaction", TX_KINDS), ("audit", "audit_event", ("audit",))):
        folded = ', t."action" IS NOT NULL' if kind == "tx" else ", 0"
        rows = fetch_rows(f'SELECT t."id", t."store_id"{folded} FROM "{table}" t WHERE t."id" IN '
                          f'({_unlinked(table, kinds)}) ORDER BY t."id"', kinds)
        for start in range(0, len(rows), BATCH):
            batch = [(("op" if on_tx else kind), ref, store_id) for ref, store_id, on_tx in rows[start:start + BATCH]]
            contents = {k: CONTENTS[k]([ref for kk, ref, _s in batch if kk == k]) for k in {k for k, _r, _s in batch}}
            _append([(k, ref, store_id or 0, contents[k][ref]) for k, ref, store_id in batch])
            made += len(batch)
    return made


def rechain() -> int:
    """Throw the chains away and chain everything again, oldest first: only for a generator that writes history
    back-dated (the demo, the benchmark databases, test fixtures) — on a shop's database this is exactly what the
    chains exist to make visible. Inside the caller's write transaction."""
    run_sql('DELETE FROM "chain_link"')
    run_sql('DELETE FROM "chain_head"')
    return rebuild()


# ------------------------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class Broken:
    chain: int
    seq: int | None
    detail: str


def _links(chain: int) -> Iterator[list[tuple[int, str, int, str]]]:
    last = 0
    while True:
        rows = fetch_rows('SELECT "seq", "kind", "ref", "digest" FROM "chain_link" WHERE "chain" = ? AND "seq" > ? '
                          'ORDER BY "seq" LIMIT ?', (chain, last, BATCH))
        if not rows:
            return
        yield [(seq, kind, ref, as_hex(digest)) for seq, kind, ref, digest in rows]
        last = rows[-1][0]


#: below this many links a verification is not worth the helper processes' start (about a second each)
PARALLEL_FROM = 200_000


#: the chains the links are in, each found by one step along the links' key (chain, seq) from the one before —
#: where ``SELECT DISTINCT`` would read every link (0.8 s at a million members)
_CHAINS = ('WITH RECURSIVE c("chain") AS (SELECT MIN("chain") FROM "chain_link" UNION ALL SELECT (SELECT MIN("chain") '
           'FROM "chain_link" l WHERE l."chain" > c."chain") FROM c WHERE c."chain" IS NOT NULL) '
           'SELECT "chain" FROM c WHERE "chain" IS NOT NULL')


def verify(workers: int = 1) -> list[Broken]:
    """Recompute every chain from the rows: the first broken link of each chain, and rows no link covers.

    The chains are independent (one per store): with ``workers`` > 1 and a big database they are verified by that
    many helper processes at once, each reading the same database on its own connection, the biggest chains
    first. Each chain is read in batches of :data:`BATCH` links, so memory stays flat however long it is."""
    return verify_while(workers)[0]


def verify_while(workers: int = 1, meanwhile: Callable[[], T] | None = None) -> tuple[list[Broken], T | None]:
    """:func:`verify`, and ``meanwhile()`` run in this process while helper processes verify the chains (the
    other checks of ``mms check``: this process mostly waits on the database then, and the cores would idle);
    without helpers, ``meanwhile()`` first and then the chains. Returns the broken links and what ``meanwhile``
    returned."""
    heads = {chain: (seq, as_hex(digest)) for chain, seq, digest in fetch_rows(
        'SELECT "chain", "seq", "digest" FROM "chain_head"')}
    chains = {c for (c,) in fetch_rows(_CHAINS)} | set(heads)
    links = sum(int(seq) for seq, _d in heads.values())
    problems, result, done = None, None, False
    if workers > 1 and len(chains) > 1 and links >= PARALLEL_FROM:
        problems, result, done = _verify_in_helpers(chains, heads, workers, meanwhile)
    if not done and meanwhile is not None:
        result = meanwhile()
    if problems is None:
        problems = [b for chain in sorted(chains) if (b := _verify_chain(chain, heads.get(chain))) is not None]
        problems += _loose_rows()
    return problems, result


def _verify_chain(chain: int, head: tuple[int, str] | None) -> Broken | None:
    """The first broken link of one chain (None: it holds, up to its head)."""
    prev, expected_seq = GENESIS, 1
    for batch in _links(chain):
        contents = {kind: CONTENTS[kind]([ref for _s, k, ref, _d in batch if k == kind]) for kind in CONTENTS}
        for seq, kind, ref, digest in batch:
            if seq != expected_seq:
                return Broken(chain, expected_seq, f"link {expected_seq} is missing (the next is {seq})")
            content = contents.get(kind, {}).get(ref)
            if content is None:
                return Broken(chain, seq, f"the {ROW_NAMES.get(kind, kind)} row {ref} it covers is gone")
            if digest_of(prev, HASHED_AS.get(kind, kind), content) != digest:
                return Broken(chain, seq, f"the {ROW_NAMES.get(kind, kind)} row {ref} is not what was chained "
                                          "(edited, or a link before it was)")
            prev, expected_seq = digest, seq + 1
    if head is None or (int(head[0]), head[1]) != (expected_seq - 1, prev):
        return Broken(chain, expected_seq - 1, "the head does not match the last link")
    return None


def _verify_in_helpers(chains: set[int], heads: dict, workers: int, meanwhile: Callable[[], T] | None = None,
                       ) -> tuple[list[Broken] | None, T | None, bool]:
    """The chains verified by helper processes, with the rows no link covers, while ``meanwhile()`` runs here:
    (broken links, its result, whether it ran). Broken links None when the helpers could not do it (no process
    could start, one died): the caller then verifies the chains itself."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from mms_tui.db import current_target

    by_size = sorted(chains, key=lambda c: -int(heads.get(c, (0, ""))[0]))
    found: dict[int, Broken | None] = {}
    result, done = None, False
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_helper_connect, initargs=(current_target(),))
    except (OSError, RuntimeError):
        return None, None, False
    try:
        futures = {chain: pool.submit(_verify_chain, chain, heads.get(chain)) for chain in by_size}
        if meanwhile is not None:
            result, done = meanwhile(), True
        loose = _loose_rows()
        for chain, future in futures.items():
            found[chain] = future.result()
    except (BrokenProcessPool, OSError, RuntimeError):
        return None, result, done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [found[chain] for chain in sorted(found) if found[chain] is not None] + loose, result, done


def _helper_connect(target: str) -> None:
    import mms_tui.models  # noqa: F401  (the clock reads the database's zones through them)
    from mms_tui.db import init_database

    init_database(target).connect(reuse_if_open=True)


def _loose_rows() -> list[Broken]:
    """Sales and visits on the wrong kind of transaction, and rows no link covers (twenty of each at most)."""
    problems: list[Broken] = []
    for table, kinds in (("sale", SALE_KINDS), ("visit", VISIT_KINDS)):
        for (ref, kind) in fetch_rows(f'SELECT r."id", t."kind" FROM "{table}" r JOIN "ledger_transaction" t ON '
                                      f't."id" = r."transaction_id" WHERE t."kind" NOT IN ({_marks(list(kinds))}) '
                                      'LIMIT 20', list(kinds)):
            problems.append(Broken(-1, None, f"the {table} row {ref} hangs on a {kind} transaction"))
    links = {kind: int(n) for kind, n in fetch_rows('SELECT "kind", COUNT(*) FROM "chain_link" GROUP BY "kind"')}
    named: set[tuple[str, int]] = set()
    for name, table, where, kinds in COVERED:
        if where:  # a transaction keeping an event with a ``tx`` link and no ``txa`` one (in no chain at all: said
            unlinked, params = (  # above): the set difference taken of the links, not of every transaction's row
                f'SELECT "id" FROM "{table}" WHERE {where} AND "id" IN (SELECT "ref" FROM "chain_link" WHERE '
                '"kind" = ? EXCEPT SELECT "ref" FROM "chain_link" WHERE "kind" = ?)', ("tx", "txa"))
        else:
            unlinked, params = _unlinked(table, kinds), kinds
        loose = [ref for (ref,) in fetch_rows(f'SELECT "id" FROM ({unlinked}) u ORDER BY "id" LIMIT 20', params)]
        problems += [Broken(-1, None, f"the {name} row {ref} is in no chain") for ref in loose
                     if (table, ref) not in named]  # (a transaction in no chain: its event is in none, unsaid)
        named |= {(table, ref) for ref in loose}
        rows = int(fetch_rows(f'SELECT COUNT(*) FROM "{table}"' + (f" WHERE {where}" if where else ""))[0][0])
        if len(loose) == 20 or sum(links.get(k, 0) for k in kinds) > rows - len(loose):  # more links than rows
            for ref, times in fetch_rows(  # linked: a row linked twice (nothing in the schema refuses it since
                    f'SELECT "ref", COUNT(*) FROM "chain_link" WHERE "kind" IN ({_marks(list(kinds))}) '  # migration
                    'GROUP BY "ref" HAVING COUNT(*) > 1 ORDER BY "ref" LIMIT 20', kinds):  # 29), or a link to a
                problems.append(Broken(-1, None, f"the {name} row {ref} is linked {times} times"))  # row gone
    return problems


def heads() -> dict[str, dict[str, object]]:
    """The head of every chain, to keep somewhere else (``mms check --anchor``)."""
    return {str(chain): {"seq": int(seq), "digest": as_hex(digest)}
            for chain, seq, digest in fetch_rows('SELECT "chain", "seq", "digest" FROM "chain_head" ORDER BY "chain"')}


def check_anchors(kept: dict[str, dict[str, object]]) -> list[Broken]:
    """Each kept head must still be the link at its place in its chain: nothing before it rewritten, nothing
    after it cut off and the chain started again."""
    problems = []
    for chain, head in sorted(kept.items()):
        try:
            chain_id, seq, digest = int(chain), int(head["seq"]), str(head["digest"])
        except (KeyError, TypeError, ValueError):
            problems.append(Broken(-1, None, f"anchor {chain!r} cannot be read"))
            continue
        if seq == 0:
            continue
        rows = fetch_rows('SELECT "digest" FROM "chain_link" WHERE "chain" = ? AND "seq" = ?', (chain_id, seq))
        if not rows:
            problems.append(Broken(chain_id, seq, "the anchored link is gone (the chain was cut back)"))
        elif as_hex(rows[0][0]) != digest:
            problems.append(Broken(chain_id, seq, "the anchored link differs (the chain was rewritten)"))
    return problems


# ------------------------------------------------------------------------------------------------ audited state


def staff_state(code: str, role: str, active: bool, store_id: int | None, pin_hash: str) -> dict[str, object]:
    """What a staff account's audited events record of it: enough to notice a role, a PIN or a store changed
    behind the back of the services (the PIN only as a digest of its hash)."""
    return {"code": code, "role": role, "active": bool(active), "store": store_id,
            "pin": hashlib.sha256(pin_hash.encode()).hexdigest()[:32]}


#: rows whose changes are audited with the state they leave (besides staff): table -> the columns recorded. A row is
#: held to its last recorded state; one the services never recorded (made before, or by hand in a test) is not.
STATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "card_type": ("code", "kind", "price_fen", "validity_days", "visits", "discount_bp", "period_days", "active",
                  "transferable", "start_on_first_use", "max_freeze_days", "bound"),
    "tier": ("code", "name", "rank"),  # what a tier gives is in the loyalty rules (the last rules.save)
    "product": ("code", "barcode", "price_fen", "active"),
    "service_item": ("code", "barcode", "price_fen", "active"),
    "item_price": ("key", "price_fen"),  # one price of a price list (the tiers' fixed prices until migration 13)
    # attendance (migration 16): a punch is never changed (a correction is a row of its own); rosters as set
    "attendance_punch": ("staff_id", "store_id", "kind", "at", "source", "supersedes_id", "void"),
    "roster_day": ("staff_id", "weekday", "start", "end"),
    "roster_exception": ("staff_id", "day", "start", "end"),
    # bookings (migration 19): who, when, in which state, and the fee its policy put on the member's bill
    "booking": ("status", "member_id", "staff_id", "room_id", "start", "end", "fee_fen", "fee_txid"),
    # group classes (migration 19): rooms, class types, the timetable, sessions and the places in them
    "room": ("code", "store_id", "active"),
    "class_type": ("code", "minutes", "capacity", "active"),
    "class_slot": ("class_type_id", "store_id", "room_id", "coach_id", "weekday", "start", "capacity", "active"),
    "class_session": ("class_type_id", "store_id", "room_id", "coach_id", "slot_id", "start", "end", "capacity",
                      "cancelled"),
    "class_booking": ("session_id", "member_id", "card_id", "status", "late", "visit_id", "fee_fen", "fee_txid"),
}


#: what a recorded state without a column added later compares as (no column's value)
_ADDED_LATER = object()


def row_states(table: str, ids: Iterable[int] | None = None) -> dict[int, dict[str, object]]:
    """The recorded columns of rows of ``table`` (all, or ``ids``), as their state events keep them."""
    cols = STATE_COLUMNS[table]
    select = ", ".join(f'"{c}"' for c in cols)
    wanted = list(ids) if ids is not None else None
    where = f' WHERE "id" IN ({_marks(wanted)})' if wanted else ""
    return {row_id: dict(zip(cols, _ints(values), strict=True))
            for row_id, *values in fetch_rows(f'SELECT "id", {select} FROM "{table}"{where}', wanted or ())}


def record_states(table: str, ids: Iterable[int] | None = None, *, staff=None, store=None) -> None:
    """Record the state of rows of ``table`` (all, or ``ids``) in the audit, inside the caller's write
    transaction: what the services made or changed a row to, which ``mms check`` holds it to."""
    from mms_tui.services.ledger.operations import audit

    for row_id, state in row_states(table, ids).items():
        audit(f"{table}.state", f"{table}:{row_id}", staff=staff, store=store, payload={"state": state})


def record_gone(table: str, row_id: int, *, staff=None, store=None) -> None:
    """Record that a row of ``table`` was deleted by the services (a price taken off a list), inside the caller's
    write transaction: ``mms check`` no longer holds it to its last state."""
    from mms_tui.services.ledger.operations import audit

    audit(f"{table}.state", f"{table}:{row_id}", staff=staff, store=store, payload={"state": None, "gone": True})


def record_staff_states() -> None:
    """A baseline for accounts made before staff events recorded their state (an upgraded database)."""
    from mms_tui.services.ledger.operations import audit

    for staff_id, code, role, active, store_id, pin_hash in fetch_rows(
            'SELECT "id", "code", "role", "active", "store_id", "pin_hash" FROM "staff" ORDER BY "id"'):
        audit("staff.state", f"staff:{staff_id}", staff=None, store=None,
              payload={"state": staff_state(code, role, active, store_id, pin_hash)})


def audited_state() -> list[str]:
    """Rows whose changes are audited must hold the state their last chained event records: staff accounts
    (events with a ``state`` payload), and the loyalty rules (the last ``rules.save``)."""
    problems = []
    last: dict[str, dict] = {}
    for subject, payload in fetch_rows('SELECT "subject", "payload" FROM "audit_event" WHERE "subject" LIKE ? '
                                       'ORDER BY "id"', ("staff:%",)):
        try:
            state = json.loads(payload).get("state")
        except (TypeError, ValueError, AttributeError):
            continue
        if state is not None:
            last[subject] = state
    present = set()
    for staff_id, code, role, active, store_id, pin_hash in fetch_rows(
            'SELECT "id", "code", "role", "active", "store_id", "pin_hash" FROM "staff" ORDER BY "id"'):
        present.add(f"staff:{staff_id}")
        recorded = last.get(f"staff:{staff_id}")
        now = staff_state(code, role, active, store_id, pin_hash)
        if recorded is None:
            problems.append(f"staff {code}: no audited event records this account")
        elif recorded != now:
            changed = sorted(k for k in now if recorded.get(k) != now[k])
            problems.append(f"staff {code}: {', '.join(changed)} changed without an audited event")
    for subject in sorted(set(last) - present):
        problems.append(f"staff {last[subject].get('code', subject)}: the account is gone without an audited event")
    for table in STATE_COLUMNS:
        recorded_rows: dict[int, dict] = {}
        for subject, payload in fetch_rows('SELECT "subject", "payload" FROM "audit_event" WHERE "subject" LIKE ? '
                                           'ORDER BY "id"', (f"{table}:%",)):
            try:
                event = json.loads(payload)
                state = event.get("state")
                row_id = int(subject.split(":", 1)[1])
            except (TypeError, ValueError, AttributeError, IndexError):
                continue
            if state is not None:
                recorded_rows[row_id] = state
            elif event.get("gone"):  # deleted by the services (record_gone)
                recorded_rows.pop(row_id, None)
        current = row_states(table, list(recorded_rows)) if recorded_rows else {}
        for row_id, state in sorted(recorded_rows.items()):
            now = current.get(row_id)
            if now is None:
                problems.append(f"{table} {row_id}: gone without an audited event")
            elif changed := sorted(k for k, v in now.items()
                                   if (k in state or v) and state.get(k, _ADDED_LATER) != v):
                # a column added after the state was recorded (bound, migration 22) holds it only once it is set
                problems.append(f"{table} {row_id}: {', '.join(changed)} changed without an audited event")
    saved = fetch_rows('SELECT "payload" FROM "audit_event" WHERE "action" = ? ORDER BY "id" DESC LIMIT 1',
                       ("rules.save",))
    rules = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', ("loyalty_rules",))
    if rules and not saved:
        problems.append("loyalty rules: saved with no audited event")
    elif saved:
        try:
            document = json.loads(saved[0][0]).get("rules")
            current = json.loads(rules[0][0]) if rules else None
        except (TypeError, ValueError, AttributeError):
            document, current = None, "unreadable"
        if canonical(document) != canonical(current):
            problems.append("loyalty rules: differ from the last audited save")
    return problems

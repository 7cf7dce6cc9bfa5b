"""``mms import``: members with their cards and opening balances, and products, from a spreadsheet.

The rules an operator can rely on:

* **All or nothing.** The whole file is one write transaction. Every bad row is listed (line, column, value,
  reason) and then nothing is written; ``dry_run`` checks everything the same way and writes nothing.
* **One row = a member and at most one card.** Rows with the same phone are the same member holding several
  cards; their member columns must agree where both are filled.
* **Duplicates** — a phone already in the database, a card number (or reader UID, or barcode) already in use, a
  card or member repeated in the file — follow ``on_duplicate``: ``error`` (the default: listed as bad rows),
  ``skip`` (the row is left out and counted) or ``update`` (the member's filled columns replace what is stored;
  a card of the same member gets the file's balances).
* **Opening balances are ledger entries.** Stored value, bonus value, points and visits arrive as one ledger
  transaction of kind ``import`` (card accounts against ``opening.*``), so ``mms check`` holds afterwards and
  the liability report includes them; an update of a balance posts the difference.
* **Idempotent.** The operation's txid is made from the file's contents and the options: importing the same
  file again returns the first result and changes nothing.

Fast on big files: rows are cleaned in Python and written in batches with prepared statements and explicit ids
(:func:`mms_tui.db.bulk_insert`), with no query per row when the database has no members or cards yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import multiprocessing
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

from mms_tui.db import bulk_insert, database, first_free_id, indexes_rebuilt_after, sync_id_sequence
from mms_tui.i18n import _, ngettext
from mms_tui.models import (
    Card,
    CardType,
    Entry,
    Member,
    Product,
    ServiceItem,
    Staff,
    Store,
    Tier,
    Transaction,
    now,
)
from mms_tui.services.base.config import announced_writer
from mms_tui.services.base.errors import DomainError, InvalidInput, NotFound
from mms_tui.services.base.resolve import resolve_store, today
from mms_tui.services.base.text import (
    clip,
    normalise_card_no,
    normalise_phone,
    normalise_query,
    parse_count,
    parse_date,
    parse_money,
    pinyin_keys,
    shown,
)
from mms_tui.services.exchange.fields import (
    MEMBER_FIELDS,
    PRODUCT_FIELDS,
    STATUS_WORDS,
    header_index,
    header_key,
)
from mms_tui.services.exchange.sheets import Progress, Sheet, cell_text, file_digest, open_sheet
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.members.profile import clean_birthday, clean_gender, clean_name
from mms_tui.services.staff.accounts import staff_or_first_admin
from mms_tui.services.staff.permissions import require

ON_DUPLICATE = ("error", "skip", "update")
BATCH = 2_000
#: a first load from a file this big into empty tables builds their indexes once at the end (about 60k rows)
BIG_FILE_BYTES = 4 << 20
MEMBER_REQUIRED = ("name", "phone")
PRODUCT_REQUIRED = ("code", "name", "price")
#: the longest cell a field reads: notes as long as a spreadsheet cell holds; a phone, an amount, a date, a name or
#: a code is never near the other limit, so a longer cell is a mistake, said without echoing it
MAX_NOTES = 32_767
MAX_CELL = 200


@dataclass(frozen=True)
class RowError:
    line: int
    column: str  # the file's own header
    value: str
    reason: str

    def describe(self, line_word: str = "line") -> str:
        where = (_("row {n}") if line_word == "row" else _("line {n}")).format(n=self.line)
        if self.column:
            return f"{where}, {clip(self.column)} {shown(self.value)}: {self.reason}"
        return f"{where}: {self.reason}"

    def __str__(self) -> str:
        return self.describe()


class ImportRejected(DomainError):
    """Bad rows were found; nothing was written. ``errors`` lists every one of them."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError], line_word: str = "line") -> None:
        rows = len({e.line for e in errors})
        super().__init__(ngettext("{n} bad row; nothing was imported.", "{n} bad rows; nothing was imported.",
                                  rows).format(n=rows))
        self.errors = errors
        self.line_word = line_word
        self.ignored_columns: list[str] = []  # worth saying too: a column the rows meant may have been ignored


@dataclass(frozen=True)
class ImportResult:
    txid: str
    what: str  # members | products
    encoding: str
    rows: int
    created: int  # members (or products) created
    updated: int
    skipped: int
    cards_created: int
    cards_updated: int
    principal_fen: int  # opening balances posted (net of updates)
    bonus_fen: int
    points: int
    visits: int
    ignored_columns: list[str]
    dry_run: bool = False
    already_imported: bool = False


class ImportFailed(DomainError):
    """The import's reading process stopped (a bug, or the machine killed it): nothing was imported."""

    code = "import_failed"


class _CellError(Exception):
    pass


def _too_long(longest: int) -> str:
    return _("longer than {n:,} characters").format(n=longest)


def _unescape(text: str) -> str:
    """A cell exported as ``'=…`` (escaped against formula injection) imports as ``=…``."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


# --- columns -----------------------------------------------------------------------------------------------------


def parse_mapping(pairs: list[str] | tuple[str, ...], fields: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """``['Old Header=phone', …]`` → {header_key: field}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, sep, target = pair.rpartition("=")
        target = target.strip()
        if not sep or not header.strip():
            raise InvalidInput(_("--map takes 'Header=field', not {value!r}.").format(value=pair))
        if target not in fields:
            raise InvalidInput(_("--map: unknown field {field!r}; the fields are {fields}.").format(
                field=target, fields=", ".join(fields)))
        mapping[header_key(header)] = target
    return mapping


def map_columns(headers: list[str], fields: dict[str, tuple[str, ...]], mapping: dict[str, str],
                required: tuple[str, ...]) -> tuple[dict[str, int], list[str]]:
    """Which column holds each field; headers nobody recognises are returned to be reported as ignored."""
    index = header_index(fields)
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for i, header in enumerate(headers):
        key = header_key(header)
        target = mapping.get(key) or index.get(key) or index.get(key.removeprefix("会员"))  # 会员生日 → 生日
        if target is None:
            if header:
                ignored.append(header)
            continue
        if target in columns:
            raise InvalidInput(_("Columns {a} and {b} both give {field}; drop one or --map it elsewhere.").format(
                a=shown(headers[columns[target]]), b=shown(header), field=target))
        columns[target] = i
    missing = [f for f in required if f not in columns]
    if missing:
        raise InvalidInput(_("No column for {fields} (the file has: {headers}); name it with --map 'Header=field'.")
                           .format(fields=", ".join(missing), headers=_some([h for h in headers if h]) or "-"))
    return columns, _listed(ignored)


def _some(headers: list[str], most: int = 10) -> str:
    """Headers for a message: each cut short, and not all of them when there are many."""
    shown_headers = [clip(h) for h in headers[:most]]
    if len(headers) > most:
        shown_headers.append(_("… and {n} more").format(n=len(headers) - most))
    return ", ".join(shown_headers)


def _listed(ignored: list[str], most: int = 20) -> list[str]:
    """The ignored columns as they are reported: a file of 500 unknown columns names 20 of them."""
    if len(ignored) <= most and all(len(h) <= 40 for h in ignored):
        return ignored
    return [clip(h) for h in ignored[:most]] + (
        [_("… and {n} more").format(n=len(ignored) - most)] if len(ignored) > most else [])


# --- cleaning one cell -------------------------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")


_MOBILE = re.compile(r"1[3-9]\d{9}")
_WHOLE_PHONE_FLOAT = re.compile(r"^\d{11}\.0+$")


def clean_phone_cell(text: str) -> str:
    if _MOBILE.fullmatch(text):  # already clean: most cells
        return text
    if _SCIENTIFIC.match(text):
        raise _CellError(_("written in scientific notation: the spreadsheet has lost digits; format the column "
                           "as text and export again"))
    if _WHOLE_PHONE_FLOAT.match(text):
        text = text.split(".")[0]
    try:
        return normalise_phone(text)
    except InvalidInput:
        raise _CellError(_("not an 11-digit mobile number")) from None


def clean_card_key(text: str) -> str:
    if text.isdigit() and text.isascii() and len(text) <= 64:  # most card numbers: digits, leading zeros kept
        return text
    if _SCIENTIFIC.match(text):
        raise _CellError(_("written in scientific notation: the spreadsheet has lost digits; format the column "
                           "as text and export again"))
    key = normalise_card_no(text)
    if len(key) > 64:
        raise _CellError(_("longer than 64 characters"))
    return key


def clean_money_cell(text: str) -> int:
    try:
        fen = parse_money(text)
    except InvalidInput:
        raise _CellError(_("not an amount of money (at most 2 decimals)")) from None
    if fen < 0:
        raise _CellError(_("cannot be negative"))
    return fen


def clean_count_cell(text: str) -> int:
    try:
        return parse_count(text)
    except InvalidInput as exc:
        raise _CellError(str(exc)) from None


def clean_date_cell(text: str) -> dt.date:
    try:
        return parse_date(text)
    except InvalidInput as exc:
        raise _CellError(str(exc)) from None


def _domain_cell(fn: Callable[[str], object]) -> Callable[[str], object]:
    def clean(text: str) -> object:
        try:
            return fn(text)
        except InvalidInput as exc:
            raise _CellError(str(exc)) from None
    return clean


def _lookup(table: dict[str, object], what: str) -> Callable[[str], object]:
    def find(text: str) -> object:
        key = header_key(text)
        if key in table:
            return table[key]
        prefixed = {v for k, v in table.items() if k.startswith(key)}
        if len(prefixed) == 1:  # 金卡 → 金卡会员
            return prefixed.pop()
        raise _CellError(_("unknown {what}").format(what=what))
    return find


def _joined(text: str) -> dt.datetime:
    day = clean_date_cell(text)
    if day > today():
        raise _CellError(_("in the future"))
    return dt.datetime.combine(day, dt.time())


def _birthday(text: str) -> dt.date | None:
    try:
        return clean_birthday(clean_date_cell(text))
    except InvalidInput as exc:
        raise _CellError(str(exc)) from None


def _status(text: str) -> str:
    status = STATUS_WORDS.get(header_key(text))
    if status is None:
        raise _CellError(_("status must be one of {words}").format(words=", ".join(sorted(set(STATUS_WORDS.values())))))
    return status


# --- members -----------------------------------------------------------------------------------------------------

MEMBER_COLUMNS = ("name", "gender", "birthday", "tier", "notes", "joined", "store")
CARD_COLUMNS = ("card_no", "card_type", "status", "balance", "bonus", "points", "visits", "valid_from",
                "valid_until", "reader_uid", "barcode")
CARD_KEYS = ("card_no", "reader_uid", "barcode")


@dataclass
class _Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    cards_created: int = 0
    cards_updated: int = 0
    principal: int = 0
    bonus: int = 0
    points: int = 0
    visits: int = 0


class _MemberImport:
    """One run over a member file inside the import's write transaction."""

    def __init__(self, sheet: Sheet, columns: dict[str, int], on_duplicate: str, staff: Staff, store: Store,
                 tx: Transaction | None, progress: Progress | None = None, relay: _ProgressRelay | None = None
                 ) -> None:
        """``tx`` None: a checking run, with no write lock — every row read, cleaned and placed, nothing written."""
        self.sheet = sheet
        self.progress = progress  # the caller's; the sheet reports through ``relay``, which points to it
        self.relay = relay
        #: where each decided write goes: straight to the database here, down a pipe in a planning child
        self.emit: Callable[[tuple], None] = self.apply
        self.columns = columns
        self.headers = sheet.headers
        self.policy = on_duplicate
        self.staff = staff
        self.store = store
        self.tx = tx
        self.errors: list[RowError] = []
        self.counts = _Counts()
        self.rng = random.SystemRandom()
        tiers: dict[str, object] = {}
        for t in Tier.select().order_by(Tier.rank.desc()):
            tiers[header_key(t.name)] = t.id
            tiers[header_key(t.code)] = t.id
        self.default_tier = Tier.select().order_by(Tier.rank, Tier.id).first()
        if self.default_tier is None:
            raise NotFound(_("No member tiers are set up; run 'mms init' first."))
        self.types: dict[int, CardType] = {t.id: t for t in CardType.select().where(CardType.active == True)}  # noqa: E712
        self.type_kinds = {t.id: t.kind for t in self.types.values()}
        type_keys: dict[str, object] = {}
        for t in self.types.values():
            type_keys[header_key(t.name)] = t.id
            type_keys[header_key(t.code)] = t.id
        self.default_type = {kind: next((t.id for t in self.types.values() if t.kind == kind), None)
                             for kind in ("stored_value", "points")}
        stores: dict[str, object] = {}
        for s in Store.select():
            stores[header_key(s.name)] = s.id
            stores[header_key(s.code)] = s.id
        self.cleaners: dict[str, Callable[[str], object]] = {
            "name": _domain_cell(clean_name),
            "phone": clean_phone_cell,
            "gender": _domain_cell(clean_gender),
            "birthday": _birthday,
            "tier": _lookup(tiers, _("tier")),
            "notes": lambda text: text,
            "joined": _joined,
            "store": _lookup(stores, _("store")),
            "card_no": clean_card_key,
            "reader_uid": clean_card_key,
            "barcode": clean_card_key,
            "card_type": _lookup(type_keys, _("card type")),
            "status": _status,
            "balance": clean_money_cell,
            "bonus": clean_money_cell,
            "points": clean_count_cell,
            "visits": clean_count_cell,
            "valid_from": clean_date_cell,
            "valid_until": clean_date_cell,
        }
        #: per column: (field, index, cleaner, is a member column, longest cell)
        self.plan = [(f, i, self.cleaners[f], f in MEMBER_COLUMNS or f == "phone", MAX_NOTES if f == "notes"
                      else MAX_CELL) for f, i in columns.items()]
        # what the file has added so far: phone → (member id, line, member fields); card key → (card id, member id, line)
        self.phones: dict[str, tuple[int, int, tuple]] = {}
        self.card_keys: dict[str, tuple[int, int, int]] = {}
        self.check_members = Member.select().exists()
        self.check_cards = Card.select().exists()
        if tx is None:  # a checking run: nothing is written, so no ids are taken (nor tables locked for them)
            self.emit = lambda op: None
            self.next_member = self.next_card = 1
        else:
            self.next_member = first_free_id(Member)
            self.next_card = first_free_id(Card)
        self.pending_members: list[tuple] = []
        self.pending_cards: list[tuple] = []
        self.pending_entries: list[tuple] = []
        self.opening = {"fen": 0, "pt": 0, "visit": 0}
        self.day = today()
        self.moment = now()
        # plain ids, read once: a million rows should not go through peewee's field descriptors
        self.tx_id, self.store_id, self.default_tier_id = tx.id if tx else None, store.id, self.default_tier.id

    # -- reading --

    def error(self, line: int, field: str | None, value: str, reason: str) -> None:
        column = self.headers[self.columns[field]] if field is not None and field in self.columns else (field or "")
        self.errors.append(RowError(line, column, value, reason))

    def clean(self, line: int, cells: list[object]) -> tuple[dict[str, object], dict[str, object]] | None:
        """The row's member columns and card columns, cleaned; None (with the errors noted) when it is bad."""
        member: dict[str, object] = {}
        card: dict[str, object] = {}
        raw: dict[str, str] = {}
        ok = True
        width = len(cells)
        for field_name, i, cleaner, is_member, longest in self.plan:
            if i >= width:
                continue
            text = cells[i]
            text = text.strip() if type(text) is str else cell_text(text)
            if not text:
                continue
            if text[0] == "'":
                text = _unescape(text)
            raw[field_name] = text
            if len(text) > longest:
                self.error(line, field_name, text, _too_long(longest))
                ok = False
                continue
            try:
                (member if is_member else card)[field_name] = cleaner(text)
            except _CellError as exc:
                self.error(line, field_name, text, str(exc))
                ok = False
        if "name" in member:
            member["name_keys"] = pinyin_keys(str(member["name"]))
        if "phone" not in member:
            if "phone" not in raw:
                self.error(line, "phone", "", _("a phone number is required"))
            return None
        if not ok:
            return None
        if card and not self._card_rules(line, card, raw):
            return None
        return member, card

    def _card_rules(self, line: int, card: dict[str, object], raw: dict[str, str]) -> bool:
        if "card_type" not in card:
            if card.get("visits"):
                self.error(line, "visits", raw["visits"], _("say which visit package (card type) these visits are on"))
                return False
            only_points = not card.get("balance") and not card.get("bonus") and card.get("points")
            default = self.default_type["points" if only_points else "stored_value"]
            if default is None:
                self.error(line, "card_no", raw.get("card_no", ""), _("give a card type"))
                return False
            card["card_type"] = default
            card["type_defaulted"] = True
        ctype = self.types[card["card_type"]]  # type: ignore[index]
        kind = self.type_kinds[ctype.id]
        ok = True
        for money in ("balance", "bonus"):
            if card.get(money) and kind != "stored_value":
                self.error(line, money, raw[money], _("only a stored-value card holds money ({type} is not one)")
                           .format(type=ctype.name))
                ok = False
        if card.get("visits") and kind != "visits":
            self.error(line, "visits", raw["visits"], _("only a visit package holds visits ({type} is not one)")
                       .format(type=ctype.name))
            ok = False
        if kind == "visits" and "visits" not in card:
            self.error(line, "visits", "", _("a visit package needs its remaining visits"))
            ok = False
        if kind == "period" and "valid_until" not in card:
            if "valid_from" in card and ctype.period_days:
                card["valid_until"] = card["valid_from"] + dt.timedelta(days=ctype.period_days - 1)  # type: ignore[operator]
            else:
                self.error(line, "valid_until", "", _("a period pass needs its end date"))
                ok = False
        start, end = card.get("valid_from"), card.get("valid_until")
        if start is not None and end is not None and start > end:  # type: ignore[operator]
            self.error(line, "valid_until", str(end), _("ends before it starts ({start})").format(start=start))
            ok = False
        keys = [card[k] for k in CARD_KEYS if k in card]
        if len(keys) != len(set(keys)):
            self.error(line, "reader_uid", str(card.get("reader_uid", "")), _("the same number twice on one card"))
            ok = False
        return ok

    # -- the run --

    def run(self) -> None:
        big_first_load = (not self.check_members and not self.check_cards and not Entry.select().exists()
                          and self.sheet.path.stat().st_size >= BIG_FILE_BYTES)
        with indexes_rebuilt_after([Member, Card, Entry] if big_first_load else []):
            if big_first_load and _can_fork():
                self.plan_in_child()
            else:
                self.plan_rows()
        if self.errors:
            raise ImportRejected(self.errors, self.sheet.line_word)
        counters = (("opening.stored_value", "fen"), ("opening.points", "pt"), ("opening.visits", "visit"))
        bulk_insert(Entry, ("transaction", "account", "card", "unit", "amount"),
                    [(self.tx.id, account, None, unit, -self.opening[unit]) for account, unit in counters
                     if self.opening[unit]])
        sync_id_sequence(Member)
        sync_id_sequence(Card)

    def plan_rows(self) -> None:
        """Read, clean and place every row; what to write goes to ``self.emit`` as it is decided."""
        batch: list[tuple[int, dict[str, object], dict[str, object]]] = []
        for line, cells in self.sheet.rows:
            self.counts.rows += 1
            cleaned = self.clean(line, cells)
            if cleaned is not None:
                batch.append((line, *cleaned))
            if len(batch) >= BATCH:
                self.place(batch)
                batch = []
        self.place(batch)
        self.flush()
        self.errors.sort(key=lambda e: e.line)  # cleaning and placing find them in different passes

    def plan_in_child(self) -> None:
        """A big first load on two cores: a forked copy of this run reads, cleans and places the rows while this
        process writes what it decides, in this transaction. Nothing but rows crosses the pipe: the tables
        are empty, so deciding needs no query (the ids were chosen before the fork)."""
        ctx = multiprocessing.get_context("fork")
        # a queue, not a bare pipe: the child's feeder thread sends while the child goes on cleaning, and at most
        # 16 batches wait, so a million rows never pile up in memory when the writing is the slower side
        queue = ctx.Queue(maxsize=16)
        child = ctx.Process(target=self._child, args=(queue,), daemon=True)
        child.start()
        try:
            while True:
                try:
                    message = queue.get(timeout=1)
                except Empty:
                    if not child.is_alive():
                        raise ImportFailed(_("The import's reading process stopped (exit code {code}); nothing was "
                                             "imported.").format(code=child.exitcode)) from None
                    continue
                kind = message[0]
                if kind == "write":
                    self.apply(message[1])
                elif kind == "progress":
                    if self.progress is not None:
                        self.progress(*message[1:])
                elif kind == "done":
                    counts, self.errors, self.opening, self.sheet.encoding = message[1:]
                    for name, value in dataclasses.asdict(counts).items():  # update_card counted balances here
                        setattr(self.counts, name, getattr(self.counts, name) + value)
                    break
                elif kind == "invalid":
                    raise InvalidInput(message[1])
                else:  # the child's traceback: its last line says what went wrong
                    last = message[1].strip().splitlines()[-1] if message[1].strip() else "?"
                    raise ImportFailed(_("The import's reading process failed ({error}); nothing was imported.")
                                       .format(error=last))
        finally:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
            self.sheet._decoder = None  # the child read the file: its encoding came back in "done"

    def _child(self, queue: multiprocessing.Queue) -> None:
        def send(message: tuple) -> None:
            queue.put(message)

        self.emit = lambda op: send(("write", op))
        if self.progress is not None and self.relay is not None:
            self.relay.target = lambda done, total: send(("progress", done, total))
        self.counts = _Counts()
        gc.disable()  # a short-lived process making a million long-lived objects: collecting them only costs time
        try:
            self.plan_rows()
            send(("done", self.counts, self.errors, self.opening, self.sheet.settled_encoding()))
        except InvalidInput as exc:
            send(("invalid", str(exc)))
        except BaseException:  # a bug: the parent reports it
            import traceback

            send(("crash", traceback.format_exc()))
        finally:
            queue.close()
            queue.join_thread()  # everything sent before the process ends

    def _existing(self, batch: list[tuple[int, dict[str, object], dict[str, object]]]) -> tuple[dict, dict]:
        """Members and card keys of this batch already in the database (one query each, none when empty)."""
        members: dict[str, tuple[int, str]] = {}
        keys: dict[str, tuple[int, int]] = {}
        if not self.check_members and not self.check_cards:  # a first load: nothing to look up
            return members, keys
        phones = [m["phone"] for _line, m, _card in batch if m["phone"] not in self.phones]
        if self.check_members and phones:
            for start in range(0, len(phones), 500):
                chunk = phones[start:start + 500]
                for member_id, phone, name in Member.select(Member.id, Member.phone, Member.name).where(
                        Member.phone.in_(chunk)).tuples():
                    members[phone] = (member_id, name)
        wanted = [c[k] for _line, _m, c in batch for k in CARD_KEYS if k in c and c[k] not in self.card_keys]
        if self.check_cards and wanted:
            for start in range(0, len(wanted), 300):
                chunk = wanted[start:start + 300]
                query = Card.select(Card.id, Card.member, Card.card_no, Card.reader_uid, Card.barcode).where(
                    Card.card_no.in_(chunk) | Card.reader_uid.in_(chunk) | Card.barcode.in_(chunk))
                for card_id, member_id, *card_keys in query.tuples():
                    for key in card_keys:
                        if key is not None:
                            keys[key] = (card_id, member_id)
        return members, keys

    def duplicate(self, line: int, field: str, value: str, reason: str) -> bool:
        """Apply the policy to a duplicate; True when the row goes on (update)."""
        if self.policy == "error":
            self.error(line, field, value, reason)
            return False
        if self.policy == "skip":
            self.counts.skipped += 1
            return False
        return True

    def place(self, batch: list[tuple[int, dict[str, object], dict[str, object]]]) -> None:
        if not batch:
            return
        db_members, db_keys = self._existing(batch)
        for line, member, card in batch:
            phone = str(member["phone"])
            # the card's numbers: free, or whose?
            owners: set[tuple[int, int]] = set()  # (card id, member id)
            clash = False
            for key_field in CARD_KEYS:
                key = card.get(key_field)
                if key is None:
                    continue
                if key in self.card_keys:
                    card_id, member_id, first_line = self.card_keys[key]
                    owners.add((card_id, member_id))
                    reason = _("also on line {line}").format(line=first_line)
                elif key in db_keys:
                    owners.add(db_keys[key])
                    reason = _("already in use by another card")
                else:
                    continue
                clash = True
                clash_field, clash_value, clash_reason = key_field, str(key), reason
            if phone in self.phones:
                member_id, first_line, known = self.phones[phone]
                fields = dict(zip(MEMBER_COLUMNS, known, strict=True))
                conflicts = [k for k in MEMBER_COLUMNS
                             if k in member and fields[k] is not None and member[k] != fields[k]]
                if conflicts:
                    if not self.duplicate(line, conflicts[0], str(member[conflicts[0]]),
                                          _("differs from line {line} for the same phone").format(line=first_line)):
                        continue
                    self.update_member(member_id, member)
                elif not card and not self.duplicate(line, "phone", phone,
                                                     _("the same member as line {line}").format(line=first_line)):
                    continue
                else:  # a later row of the same member may fill in what the first one left empty
                    filled = {k: member[k] for k in MEMBER_COLUMNS if k in member and fields[k] is None}
                    if filled:
                        self.write_member(member_id, filled)
                fields.update(member)
                self.phones[phone] = (member_id, first_line, tuple(fields[k] for k in MEMBER_COLUMNS))
                is_new = False
            elif phone in db_members:
                member_id, name = db_members[phone]
                if not self.duplicate(line, "phone", phone, _("already belongs to member {name}").format(name=name)):
                    continue
                self.update_member(member_id, member)
                self.phones[phone] = (member_id, line, self.member_values(member))
                is_new = False
            else:
                if "name" not in member:
                    self.error(line, "name", "", _("a new member needs a name"))
                    continue
                member_id = self.next_member
                is_new = True
            if clash:
                same_member = len(owners) == 1 and next(iter(owners))[1] == member_id
                if not same_member:
                    if self.policy == "skip":
                        self.counts.skipped += 1
                    else:
                        self.error(line, clash_field, clash_value, clash_reason + (
                            _(" (a different member's card)") if self.policy == "update" else ""))
                    continue
                if not self.duplicate(line, clash_field, clash_value, clash_reason):
                    continue
            if is_new:
                self.add_member(member_id, line, member)
            if clash:
                self.update_card(next(iter(owners))[0], card)
            elif card:
                self.add_card(member_id, line, card, member.get("store"))

    # -- writing --

    def add_member(self, member_id: int, line: int, member: dict[str, object]) -> None:
        self.next_member += 1
        phone = str(member["phone"])
        name = str(member["name"])
        full, initials = member["name_keys"]  # type: ignore[misc]
        self.pending_members.append((
            member_id, name, phone, phone[-4:], full, initials, member.get("gender", ""), member.get("birthday"),
            member.get("tier", self.default_tier_id), member.get("notes", ""), "active",
            member.get("store", self.store_id), 0, member.get("joined", self.moment),
        ))
        self.phones[phone] = (member_id, line, self.member_values(member))
        self.counts.created += 1

    def add_card(self, member_id: int, line: int, card: dict[str, object], store_id: object = None) -> None:
        card_id = self.next_card
        self.next_card += 1
        number = card.get("card_no") or self.new_card_no()
        status = card.get("status", "active")
        principal, bonus = card.get("balance", 0), card.get("bonus", 0)
        points, visits = card.get("points", 0), card.get("visits", 0)
        uid, barcode = card.get("reader_uid"), card.get("barcode")
        self.pending_cards.append((
            card_id, number, uid, barcode, member_id, card["card_type"], status, principal, bonus, points, visits,
            card.get("valid_from"), card.get("valid_until"), self.day if status == "frozen" else None, 0, 0,
            store_id or self.store_id, self.moment,
        ))
        where = (card_id, member_id, line)
        self.card_keys[number] = where  # type: ignore[index]
        if uid is not None:
            self.card_keys[uid] = where  # type: ignore[index]
        if barcode is not None:
            self.card_keys[barcode] = where  # type: ignore[index]
        tx_id = self.tx_id
        for account, unit, amount in (("card.principal", "fen", principal), ("card.bonus", "fen", bonus),
                                      ("card.points", "pt", points), ("card.visits", "visit", visits)):
            if amount:
                self.pending_entries.append((tx_id, account, card_id, unit, amount))
                self.opening[unit] += amount  # type: ignore[operator]
        self.counts.cards_created += 1
        self.counts.principal += principal  # type: ignore[operator]
        self.counts.bonus += bonus  # type: ignore[operator]
        self.counts.points += points  # type: ignore[operator]
        self.counts.visits += visits  # type: ignore[operator]
        if len(self.pending_cards) >= BATCH:
            self.flush()

    @staticmethod
    def member_values(member: dict[str, object]) -> tuple:
        """The member columns a row filled (None where empty), in MEMBER_COLUMNS order: kept per phone to spot
        rows that disagree."""
        get = member.get
        return get("name"), get("gender"), get("birthday"), get("tier"), get("notes"), get("joined"), get("store")

    def count_opening(self, delta: dict[str, object]) -> None:
        self.counts.principal += int(delta["card.principal"])  # type: ignore[call-overload]
        self.counts.bonus += int(delta["card.bonus"])  # type: ignore[call-overload]
        self.counts.points += int(delta["card.points"])  # type: ignore[call-overload]
        self.counts.visits += int(delta["card.visits"])  # type: ignore[call-overload]

    def new_card_no(self) -> str:
        while True:
            number = "8" + "".join(self.rng.choice("0123456789") for _ in range(11))
            if number in self.card_keys:
                continue
            if self.check_cards and Card.select().where(
                    (Card.card_no == number) | (Card.reader_uid == number) | (Card.barcode == number)).exists():
                continue
            return number

    def flush(self) -> None:
        if self.errors:  # nothing will be written: the run only looks for more bad rows
            self.pending_members, self.pending_cards, self.pending_entries = [], [], []
            return
        for table, rows in (("members", self.pending_members), ("cards", self.pending_cards),
                            ("entries", self.pending_entries)):
            if rows:
                self.emit((table, rows))
        self.pending_members, self.pending_cards, self.pending_entries = [], [], []

    def update_member(self, member_id: int, member: dict[str, object]) -> None:
        self.counts.updated += 1
        self.write_member(member_id, member)

    def write_member(self, member_id: int, member: dict[str, object]) -> None:
        """The row's member columns replace the stored ones (the member may still be waiting to be written)."""
        if self.errors:
            return
        self.flush()
        self.emit(("member", member_id, member))

    def update_card(self, card_id: int, card: dict[str, object]) -> None:
        """The file's balances and dates replace the stored ones; balance changes post their difference."""
        self.counts.cards_updated += 1
        if self.errors:
            return
        self.flush()
        self.emit(("card", card_id, card))

    # -- writing: what the planning decided, in the import's transaction --

    def apply(self, op: tuple) -> None:
        kind = op[0]
        if kind in _INSERTS:
            model, columns = _INSERTS[kind]
            bulk_insert(model, columns, op[1])
        elif kind == "member":
            self.apply_member(*op[1:])
        elif kind == "card":
            self.apply_card(*op[1:])
        else:
            raise ValueError(f"unknown import write {kind!r}")

    @staticmethod
    def apply_member(member_id: int, member: dict[str, object]) -> None:
        changes: dict = {}
        for key, value in member.items():
            column = {"tier": Member.tier, "joined": Member.created_at, "store": Member.home_store}.get(
                key, getattr(Member, key, None) if key in MEMBER_COLUMNS else None)
            if column is not None:
                changes[column] = value
        if "name" in member:
            full, initials = member.get("name_keys") or pinyin_keys(str(member["name"]))  # type: ignore[misc]
            changes[Member.name_pinyin], changes[Member.name_initials] = full, initials
        if changes:
            Member.update(changes).where(Member.id == member_id).execute()

    def apply_card(self, card_id: int, card: dict[str, object]) -> None:
        current = Card.get_by_id(card_id)
        changes: dict = {}
        for key, column in (("status", Card.status), ("valid_from", Card.valid_from),
                            ("valid_until", Card.valid_until), ("card_type", Card.card_type)):
            if key in card and not (key == "card_type" and card.get("type_defaulted")):
                changes[column] = card[key]
        if changes:
            Card.update(changes).where(Card.id == card_id).execute()
        delta = {"card.principal": 0, "card.bonus": 0, "card.points": 0, "card.visits": 0}
        postings = []
        for key, account, column, counter in (("balance", "card.principal", "principal_fen", "opening.stored_value"),
                                              ("bonus", "card.bonus", "bonus_fen", "opening.stored_value"),
                                              ("points", "card.points", "points", "opening.points"),
                                              ("visits", "card.visits", "visits_left", "opening.visits")):
            if key in card:
                diff = int(card[key]) - getattr(current, column)  # type: ignore[call-overload]
                if diff:
                    unit = card_posting(card_id, account, diff).unit
                    postings += [card_posting(card_id, account, diff), Posting(counter, unit, -diff)]
                    delta[account] = diff
        post(self.tx, postings)
        self.count_opening(delta)  # type: ignore[arg-type]


#: the bulk writes: table → (model, columns of each row tuple)
_INSERTS: dict[str, tuple[type, tuple[str, ...]]] = {
    "members": (Member, ("id", "name", "phone", "phone_last4", "name_pinyin", "name_initials", "gender", "birthday",
                         "tier", "notes", "status", "home_store", "total_spend_fen", "created_at")),
    "cards": (Card, ("id", "card_no", "reader_uid", "barcode", "member", "card_type", "status", "principal_fen",
                     "bonus_fen", "points", "visits_left", "valid_from", "valid_until", "frozen_since",
                     "frozen_days_total", "freeze_days_year", "store", "issued_at")),
    "entries": (Entry, ("transaction", "account", "card", "unit", "amount")),
}


class _ProgressRelay:
    """The progress callback handed to the sheet; a child process that reads the sheet points it at the pipe."""

    def __init__(self, target: Progress) -> None:
        self.target = target

    def __call__(self, done: int, total: int) -> None:
        self.target(done, total)


def _can_fork() -> bool:
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


# --- products ----------------------------------------------------------------------------------------------------

_KINDS = {"product": "product", "商品": "product", "产品": "product", "goods": "product", "retail": "product",
          "service": "service", "服务": "service", "项目": "service", "服务项目": "service"}
_YES_NO = {"1": True, "y": True, "yes": True, "true": True, "是": True, "启用": True, "在售": True, "有效": True,
           "0": False, "n": False, "no": False, "false": False, "否": False, "停用": False, "停售": False,
           "下架": False, "无效": False}


def _kind(text: str) -> str:
    kind = _KINDS.get(header_key(text))
    if kind is None:
        raise _CellError(_("kind must be product (商品) or service (服务)"))
    return kind


def _yes_no(text: str) -> bool:
    value = _YES_NO.get(header_key(text))
    if value is None:
        raise _CellError(_("write yes/no (是/否)"))
    return value


def _product_barcode(text: str) -> str:
    from mms_tui.services.exchange.barcodes import validate_ean

    code = clean_card_key(text)
    if code.isdigit() and len(code) in (8, 13):
        try:
            validate_ean(code)
        except InvalidInput as exc:
            raise _CellError(str(exc)) from None
    return code


def _code(text: str) -> str:
    code = normalise_card_no(text).upper()
    if len(code) > 32:
        raise _CellError(_("longer than 32 characters"))
    return code


def _product_name(text: str) -> str:
    name = normalise_query(text)
    if len(name) > 100:
        raise _CellError(_("longer than 100 characters"))
    return name


def _duration(text: str) -> int:
    minutes = clean_count_cell(text)
    if minutes > 24 * 60:
        raise _CellError(_("longer than a day"))
    return minutes


PRODUCT_CLEANERS: dict[str, Callable[[str], object]] = {
    "code": _code, "name": _product_name, "kind": _kind, "category": lambda t: normalise_query(t)[:50],
    "price": clean_money_cell, "barcode": _product_barcode, "duration_minutes": _duration, "active": _yes_no,
}


def _import_products(sheet: Sheet, columns: dict[str, int], policy: str, counts: _Counts,
                     errors: list[RowError], *, write: bool = True) -> None:
    """Check every row; ``write``: and create or update the catalogue items (else only count what would be)."""
    seen_codes: dict[str, int] = {}
    created_here: set[str] = set()
    seen_barcodes: dict[str, int] = {}

    def error(line: int, field: str, value: str, reason: str) -> None:
        errors.append(RowError(line, sheet.headers[columns[field]] if field in columns else field, value, reason))

    for line, cells in sheet.rows:
        counts.rows += 1
        values: dict[str, object] = {}
        given: set[str] = set()  # fields with a cell, good or bad: a bad one is not also "required"
        bad = False
        for field_name, i in columns.items():
            text = _unescape(cell_text(cells[i])) if i < len(cells) else ""
            if not text:
                continue
            given.add(field_name)
            if len(text) > MAX_CELL:
                error(line, field_name, text, _too_long(MAX_CELL))
                bad = True
                continue
            try:
                values[field_name] = PRODUCT_CLEANERS[field_name](text)
            except _CellError as exc:
                error(line, field_name, text, str(exc))
                bad = True
        for required in PRODUCT_REQUIRED:
            if required not in given:  # was a search through every error so far: quadratic in bad rows
                error(line, required, "", _("required"))
                bad = True
        if bad:
            continue
        code = str(values["code"])
        kind = str(values.get("kind", "service" if "duration_minutes" in values else "product"))
        model = ServiceItem if kind == "service" else Product
        other = Product if kind == "service" else ServiceItem
        barcode = values.get("barcode")
        existing = model.get_or_none(model.code == code)
        duplicate_reason = None
        if code in seen_codes:
            duplicate_reason = ("code", code, _("also on line {line}").format(line=seen_codes[code]))
        elif existing is not None:
            duplicate_reason = ("code", code, _("already in the catalogue ({name})").format(name=existing.name))
        if other.get_or_none(other.code == code) is not None:
            error(line, "code", code, _("already used by a {kind} in the catalogue").format(
                kind=_("service") if other is ServiceItem else _("product")))
            continue
        if barcode is not None:
            holder = (Product.get_or_none(Product.barcode == barcode)
                      or ServiceItem.get_or_none(ServiceItem.barcode == barcode))
            if barcode in seen_barcodes and seen_barcodes[barcode] != line and seen_codes.get(code) is None:
                error(line, "barcode", str(barcode), _("also on line {line}").format(line=seen_barcodes[barcode]))
                continue
            if holder is not None and holder.code != code:
                error(line, "barcode", str(barcode), _("already on {code} {name}").format(code=holder.code,
                                                                                        name=holder.name))
                continue
        if duplicate_reason is not None:
            if policy == "error":
                error(line, *duplicate_reason)
                continue
            if policy == "skip":
                counts.skipped += 1
                continue
        seen_codes.setdefault(code, line)
        if barcode is not None:
            seen_barcodes.setdefault(str(barcode), line)
        if errors:
            continue
        data = {"name": values.get("name"), "category": values.get("category"), "price_fen": values.get("price"),
                "barcode": barcode, "active": values.get("active")}
        if kind == "service":
            data["duration_minutes"] = values.get("duration_minutes")
        data = {k: v for k, v in data.items() if v is not None}
        current = model.get_or_none(model.code == code)
        if current is None and code not in created_here:
            if write:
                made = model.create(code=code, **data)
                record_states(model._meta.table_name, [made.id])  # the price it was made with, on the chain
            created_here.add(code)
            counts.created += 1
        else:
            if write and current is not None:
                model.update(**data).where(model.id == current.id).execute()
                record_states(model._meta.table_name, [current.id])
            counts.updated += 1
    if errors:
        raise ImportRejected(errors, sheet.line_word)


# --- the operation -----------------------------------------------------------------------------------------------


def _check_rows(what: str, path: Path, encoding: str, sheet: str | None, columns: dict[str, int], on_duplicate: str,
                staff: Staff, store: Store, progress: Progress | None) -> tuple[_Counts, str]:
    """Read, clean and place every row the way the import will, writing nothing and holding no write lock: what
    the import would do (its counts), or ImportRejected with every bad row."""
    relay = _ProgressRelay(progress) if progress is not None else None
    data = open_sheet(path, encoding, sheet, relay)
    try:
        with database.atomic():  # one consistent read of what is already there (SQLite: a shared lock only)
            if what == "members":
                run = _MemberImport(data, columns, on_duplicate, staff, store, None, progress, relay)
                run.plan_rows()
                if run.errors:
                    raise ImportRejected(run.errors, data.line_word)
                counts = run.counts
            else:
                counts = _Counts()
                _import_products(data, columns, on_duplicate, counts, [], write=False)
        return counts, data.settled_encoding()
    finally:
        data.close()


def import_file(
    what: str,
    path: str | Path,
    *,
    staff: Staff | str | None = None,
    store: Store | str | None = None,
    encoding: str = "auto",
    mapping: list[str] | tuple[str, ...] = (),
    on_duplicate: str = "error",
    dry_run: bool = False,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``members`` or ``products`` from a CSV/TSV/XLSX file, all or nothing (see the module doc)."""
    if what not in ("members", "products"):
        raise InvalidInput(_("Import members or products, not {what!r}.").format(what=what))
    if on_duplicate not in ON_DUPLICATE:
        raise InvalidInput(_("--on-duplicate must be error, skip or update."))
    fields = MEMBER_FIELDS if what == "members" else PRODUCT_FIELDS
    required = MEMBER_REQUIRED if what == "members" else PRODUCT_REQUIRED
    parsed_map = parse_mapping(list(mapping), fields)
    path = Path(path)
    staff_obj = staff_or_first_admin(staff)
    if not dry_run:  # members with opening balances, products with prices: a manager's decision
        require(staff_obj, "import")
    store_obj = _import_store(store, staff_obj)
    # read the header now: a wrong file or a missing column is one clear error before anything is locked
    probe = open_sheet(path, encoding, sheet)
    try:
        columns, ignored = map_columns(probe.headers, fields, parsed_map, required)
        has_rows = next(probe.rows, None) is not None  # reads up to the first row that is not blank
    finally:
        probe.close()
    if not has_rows:  # an import of nothing would still write its transaction and say "Imported"
        raise InvalidInput(_("{path} has a header but no rows; nothing was imported.").format(path=path.name))
    request = {"what": what, "sha256": file_digest(path), "encoding": encoding, "map": sorted(parsed_map.items()),
               "on_duplicate": on_duplicate, "sheet": sheet}
    txid = "import-" + hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:40]
    previous = Transaction.get_or_none(Transaction.txid == txid)
    if previous is not None:
        result = ImportResult(**json.loads(previous.result_json))
        return dataclasses.replace(result, already_imported=True, dry_run=dry_run)

    big_first_load = (what == "members" and path.stat().st_size >= BIG_FILE_BYTES and not Member.select().exists()
                      and not Card.select().exists() and not Entry.select().exists())
    if dry_run or not big_first_load:
        # check every row first, in a plain read transaction: a bad file is refused, and a dry run answers,
        # with no write lock ever taken (the big first load checks in its forked reader, beside the writer)
        try:
            counts, settled = _check_rows(what, path, encoding, sheet, columns, on_duplicate, staff_obj, store_obj,
                                          progress if dry_run else None)
        except ImportRejected as rejected:
            rejected.ignored_columns = ignored
            raise
        if dry_run:
            return ImportResult(
                txid=txid, what=what, encoding=settled, rows=counts.rows, created=counts.created,
                updated=counts.updated, skipped=counts.skipped, cards_created=counts.cards_created,
                cards_updated=counts.cards_updated, principal_fen=counts.principal, bonus_fen=counts.bonus,
                points=counts.points, visits=counts.visits, ignored_columns=ignored, dry_run=True)

    def body(tx: Transaction) -> ImportResult:
        relay = _ProgressRelay(progress) if progress is not None else None
        data = open_sheet(path, encoding, sheet, relay)
        counts = _Counts()
        try:
            if what == "members":
                run = _MemberImport(data, columns, on_duplicate, staff_obj, store_obj, tx, progress, relay)
                run.run()
                counts = run.counts
            else:
                _import_products(data, columns, on_duplicate, counts, [])
        finally:
            data.close()
        result = ImportResult(
            txid=tx.txid, what=what, encoding=data.settled_encoding(), rows=counts.rows, created=counts.created,
            updated=counts.updated, skipped=counts.skipped, cards_created=counts.cards_created,
            cards_updated=counts.cards_updated, principal_fen=counts.principal, bonus_fen=counts.bonus,
            points=counts.points, visits=counts.visits, ignored_columns=ignored, dry_run=dry_run,
        )
        audit(f"import.{what}", f"file:{path.name}"[:64], staff=staff_obj, store=store_obj, txid=tx.txid,
              payload={"file": str(path), **{k: v for k, v in dataclasses.asdict(result).items() if k != "txid"}})
        return result

    try:
        with announced_writer(_("an import of {file}").format(file=path.name), staff_obj):
            return run_operation(txid=txid, kind="import", request=request, staff=staff_obj, store=store_obj,
                                 member=None, body=body, result_type=ImportResult, note=path.name[:200])
    except ImportRejected as rejected:
        rejected.ignored_columns = ignored
        raise


def _import_store(store: Store | str | None, staff: Staff) -> Store:
    try:
        return resolve_store(store, staff)
    except NotFound:
        return resolve_store(None, staff)


def iter_errors(exc: ImportRejected) -> Iterator[str]:
    for error in exc.errors:
        yield error.describe(exc.line_word)

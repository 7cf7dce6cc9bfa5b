"""The member engine of ``mms import``: each row of a member file validated, matched to the members and cards
already known (the duplicate policy), and written in batches with its opening balances.

Planning (reading, cleaning, placing rows) hands each decided write to ``emit``; in the import's transaction
that is :meth:`MemberImport.apply`, and for a big first load a forked planner sends it down a queue
(:mod:`.import_pipeline`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from mms_tui.db import bulk_insert, first_free_id, sync_id_sequence
from mms_tui.i18n import _
from mms_tui.models import Card, CardType, Entry, Member, Staff, Store, Tier, Transaction, now
from mms_tui.services.base.errors import NotFound
from mms_tui.services.base.resolve import today
from mms_tui.services.base.text import pinyin_keys
from mms_tui.services.exchange.fields import header_key
from mms_tui.services.exchange.import_cells import (
    MAX_CELL,
    MAX_NOTES,
    CellError,
    member_cleaners,
    too_long,
    unescape,
)
from mms_tui.services.exchange.import_report import ImportCounts, ImportRejected, RowError
from mms_tui.services.exchange.sheets import Progress, Sheet, cell_text
from mms_tui.services.ledger.operations import Posting, card_posting, post

#: rows placed together (one query for the members and cards they name), and cards written together
BATCH = 2_000
MEMBER_COLUMNS = ("name", "gender", "birthday", "tier", "notes", "joined", "store")
CARD_COLUMNS = ("card_no", "card_type", "status", "balance", "bonus", "points", "visits", "valid_from",
                "valid_until", "reader_uid", "barcode")
CARD_KEYS = ("card_no", "reader_uid", "barcode")

#: the bulk writes: table → (model, columns of each row tuple)
_INSERTS: dict[str, tuple[type, tuple[str, ...]]] = {
    "members": (Member, ("id", "name", "phone", "phone_last4", "name_pinyin", "name_initials", "gender", "birthday",
                         "tier", "notes", "status", "home_store", "total_spend_fen", "created_at")),
    "cards": (Card, ("id", "card_no", "reader_uid", "uid_tail", "barcode", "member", "card_type", "status", "principal_fen",
                     "bonus_fen", "points", "visits_left", "valid_from", "valid_until", "frozen_since",
                     "frozen_days_total", "freeze_days_year", "store", "issued_at")),
    "entries": (Entry, ("transaction", "account", "card", "unit", "amount")),
}


class ProgressRelay:
    """The progress callback handed to the sheet; a child process that reads the sheet points it at the pipe."""

    def __init__(self, target: Progress) -> None:
        self.target = target

    def __call__(self, done: int, total: int) -> None:
        self.target(done, total)


class MemberImport:
    """One run over a member file inside the import's write transaction."""

    def __init__(self, sheet: Sheet, columns: dict[str, int], on_duplicate: str, staff: Staff, store: Store,
                 tx: Transaction | None, progress: Progress | None = None, relay: ProgressRelay | None = None
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
        self.counts = ImportCounts()
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
        self.cleaners: dict[str, Callable[[str], object]] = member_cleaners(tiers, stores, type_keys)
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
                text = unescape(text)
            raw[field_name] = text
            if len(text) > longest:
                self.error(line, field_name, text, too_long(longest))
                ok = False
                continue
            try:
                (member if is_member else card)[field_name] = cleaner(text)
            except CellError as exc:
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

    def finish(self) -> None:
        """After planning: a file with a bad row is refused; else the opening balances' counter entries are posted
        and the id sequences moved past the ids taken."""
        if self.errors:
            raise ImportRejected(self.errors, self.sheet.line_word)
        counters = (("opening.stored_value", "fen"), ("opening.points", "pt"), ("opening.visits", "visit"))
        bulk_insert(Entry, ("transaction", "account", "card", "unit", "amount"),
                    [(self.tx.id, account, None, unit, -self.opening[unit]) for account, unit in counters
                     if self.opening[unit]])
        sync_id_sequence(Member)
        sync_id_sequence(Card)

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
            card_id, number, uid, uid[-6:] if uid else None, barcode, member_id, card["card_type"], status,
            principal, bonus, points, visits,
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


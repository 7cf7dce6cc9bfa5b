"""The one append-only ledger: transactions with signed entries, and the audit trail.

Entries are signed from the member's side: a card account's balance is the sum of its entries, and the
counter-account of the same transaction carries the opposite sign (``tender.cash -10000`` is ¥100 into the
drawer against ¥100 of stored value). Within a transaction the entries of each unit (fen, points, visits) sum
to zero.
"""

from __future__ import annotations

import datetime as dt

import peewee

from mms_tui.models.base import BaseModel, Moment, index_of_set, now
from mms_tui.models.members import Card, Member
from mms_tui.models.org import Staff, Store

UNITS = ("fen", "pt", "visit")
#: the audit events an operation keeps on its own transaction (``Transaction.action``): the desk's three most
#: frequent, a row of their own each before migration 30 (1.46 million of 1.56 at a million members)
FOLDED_ACTIONS = ("sale.checkout", "card.check_in", "card.top_up")


class Transaction(BaseModel):
    txid = peewee.CharField(max_length=64, unique=True)
    #: no index of its own: (kind, local_day, created_at) below begins with it (migration 26)
    kind = peewee.CharField(max_length=20)
    #: no index: staff are never deleted and no query reads by staff alone (migration 26)
    staff = peewee.ForeignKeyField(Staff, backref="transactions", on_delete="RESTRICT", index=False)
    #: no index: a store's transactions are read by period, whose index leads (migration 27)
    store = peewee.ForeignKeyField(Store, backref="transactions", on_delete="RESTRICT", index=False)
    member = peewee.ForeignKeyField(Member, null=True, backref="transactions", on_delete="RESTRICT")
    created_at = Moment(default=now, index=True)
    #: the store's calendar day of ``created_at``, kept with it (see ``__init__`` and ``update``): the reports group
    #: by it, which SQLite could not do from a UTC moment
    local_day = peewee.DateField()
    #: a reversal points at what it undoes; unique, so nothing is reversed twice
    reverses = peewee.ForeignKeyField("self", null=True, backref="reversed_by", on_delete="RESTRICT", index=False)
    #: fingerprint of the request, to tell a retry (same) from a txid clash (different): a SHA-256's 32 bytes
    #: (hex text before migration 26)
    request_hash = peewee.BlobField()
    #: the operation's result as a retry answers it, compact (services/ledger/results.py; migration 26); empty
    #: while the operation runs, and for a result no longer kept (a retry then hears it was already done)
    result = peewee.BlobField(default=b"")
    note = peewee.TextField(default="")
    #: the operation's own audit event, kept on its transaction instead of a row of ``audit_event`` (migration 30;
    #: the actions of :data:`FOLDED_ACTIONS`): what it did (its payload as JSON text) to what. Its staff, store, txid
    #: and moment are the transaction's. Empty for the other operations, whose events are rows of their own.
    action = peewee.CharField(max_length=40, null=True)
    subject = peewee.CharField(max_length=64, null=True)
    payload = peewee.TextField(null=True)

    class Meta:
        table_name = "ledger_transaction"
        #: the reports read a period's transactions of one kind in day order from this index alone (SQLite groups by
        #: day without sorting; migration 7)
        indexes = ((("kind", "local_day", "created_at"), False),)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        created = self.__data__.get("created_at")
        if self.__data__.get("local_day") is None and isinstance(created, dt.datetime):
            self.__data__["local_day"] = created.date()

    @classmethod
    def update(cls, __data=None, **update):
        """As peewee's, with ``local_day`` following a new ``created_at``."""
        moved = (__data or {}).get(cls.created_at, (__data or {}).get("created_at", update.get("created_at")))
        if isinstance(moved, dt.datetime) and "local_day" not in update:
            update["local_day"] = moved.date()
        return super().update(__data, **update)


class Entry(BaseModel):
    transaction = peewee.ForeignKeyField(Transaction, backref="entries", on_delete="RESTRICT")
    #: no index (migration 28): an account is read by period or by card — a transaction's entries, a card's index
    #: below — and one account alone holds up to a third of the ledger, where reading the table is as quick
    account = peewee.CharField(max_length=40)
    #: no index of its own: (card, account, amount) below begins with it (migration 3)
    card = peewee.ForeignKeyField(Card, null=True, backref="entries", on_delete="RESTRICT", index=False)
    unit = peewee.CharField(max_length=5, constraints=[peewee.Check("unit IN ('fen','pt','visit')")])
    amount = peewee.BigIntegerField()

    class Meta:
        table_name = "ledger_entry"


#: a reversal is unique: nothing is reversed twice (an index of the few transactions that reverse one, migration 28)
index_of_set(Transaction, Transaction.reverses, unique=True)
#: covering: a card's balance per account, and the liability report's sum over every card, read the index alone
#: (migration 2); only the entries on a card — half of them — are in it (migration 28)
index_of_set(Entry, Entry.card, Entry.account, Entry.amount)


class AuditEvent(BaseModel):
    created_at = Moment(default=now, index=True)
    staff = peewee.ForeignKeyField(Staff, null=True, backref="audit_events", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, null=True, backref="audit_events", on_delete="RESTRICT")
    action = peewee.CharField(max_length=40, index=True)
    subject = peewee.CharField(max_length=64, index=True)  # "member:12", "card:34", "staff:2"
    txid = peewee.CharField(max_length=64, null=True, index=True)
    payload = peewee.TextField(default="{}")


class ChainHead(BaseModel):
    """The last link of one store's hash chain (chain 0: what belongs to no store). See services/chain.py."""

    chain = peewee.IntegerField(primary_key=True)
    seq = peewee.BigIntegerField(default=0)
    digest = peewee.BlobField()  # a SHA-256's 32 bytes (hex text before migration 26)


class _RowidlessOnSqlite(peewee.Metadata):
    """A table kept in its primary key's order on SQLite (``WITHOUT ROWID``: no row id, and no second copy of the
    key in an index of its own); PostgreSQL has no such option and keeps its primary key as an index anyway."""

    @property
    def without_rowid(self) -> bool:
        return isinstance(getattr(self.database, "obj", self.database), peewee.SqliteDatabase)  # (proxy or bound)

    @without_rowid.setter
    def without_rowid(self, value: bool) -> None:
        pass


class ChainLink(BaseModel):
    """One link: the digest over the previous link and the canonical content of the row it covers. Stored in
    (chain, seq) order under that key alone (migration 29): 3 million links at a million members, where a row id and
    two indexes — (chain, seq), and (kind, ref), which only the whole-table questions of :mod:`chain` read, and
    which they answer as quickly by a set difference — took 103 MB beside the 172 MB of the links."""

    chain = peewee.IntegerField()
    seq = peewee.BigIntegerField()
    kind = peewee.CharField(max_length=8)  # tx | audit
    ref = peewee.BigIntegerField()  # the row's id
    digest = peewee.BlobField()  # a SHA-256's 32 bytes (hex text before migration 26)

    class Meta:
        primary_key = peewee.CompositeKey("chain", "seq")
        model_metadata_class = _RowidlessOnSqlite

"""提成: what each staff member earned on each line they performed or sold (migration 16)."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.ledger import Transaction
from mms_tui.models.org import Staff, Store
from mms_tui.models.sales import Sale, SaleLine

#: what a staff member did on a line: 主理 (lead performer), 助理 (assistant), 销售 (salesperson)
COMMISSION_ROLES = ("lead", "assistant", "sales")


class Commission(BaseModel):
    """One staff member's share of one line (a sale line, or a top-up: no line), append-only.

    Written in the operation's own transaction; a refund adds a row with negative ``base_fen`` and ``amount_fen``
    that ``reverses`` the row it takes back (services/money/commissions.py). ``rule`` and ``rules_version`` say
    which rule of which commissions section decided the amount, so later rule changes never change a row."""

    transaction = peewee.ForeignKeyField(Transaction, backref="commissions", on_delete="RESTRICT")
    sale = peewee.ForeignKeyField(Sale, null=True, backref="commissions", on_delete="RESTRICT")
    line = peewee.ForeignKeyField(SaleLine, null=True, backref="commissions", on_delete="RESTRICT")
    staff = peewee.ForeignKeyField(Staff, backref="commissions", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="commissions", on_delete="RESTRICT")
    created_at = Moment(default=now)
    role = peewee.CharField(max_length=10, constraints=[peewee.Check("role IN ('lead','assistant','sales')")])
    share_bp = peewee.IntegerField(constraints=[peewee.Check("share_bp > 0 AND share_bp <= 10000")])
    #: the staff member's share of the line's base (money paid for it, as the rule counts it)
    base_fen = peewee.BigIntegerField()
    #: a percent rule: basis points of the base; a fixed rule: fen per unit (of the whole line, before the share)
    rate_bp = peewee.IntegerField(default=0)
    fixed_fen = peewee.BigIntegerField(default=0)
    units = peewee.IntegerField(default=1)
    amount_fen = peewee.BigIntegerField()
    #: the rule's place and code ("commissions.rules[2] HAIR-LEAD"), empty when none matched (amount 0)
    rule = peewee.CharField(max_length=80, default="")
    rules_version = peewee.CharField(max_length=16, default="")
    reverses = peewee.ForeignKeyField("self", null=True, backref="reversals", on_delete="RESTRICT")

    class Meta:
        #: a staff member's rows over a time (the report and the desk's 日结)
        indexes = ((("staff", "created_at"), False),)


class ServiceRating(BaseModel):
    """A member's 1–5 rating of a service line's performer, recorded at the desk after the service (服务评价): one per
    line and staff member, never changed (migration 18)."""

    line = peewee.ForeignKeyField(SaleLine, backref="ratings", on_delete="RESTRICT")
    staff = peewee.ForeignKeyField(Staff, backref="ratings", on_delete="RESTRICT")
    rating = peewee.SmallIntegerField(constraints=[peewee.Check("rating BETWEEN 1 AND 5")])
    recorded_by = peewee.ForeignKeyField(Staff, backref="ratings_recorded", on_delete="RESTRICT")
    created_at = Moment(default=now)

    class Meta:
        indexes = ((("line", "staff"), True),)

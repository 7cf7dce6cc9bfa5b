"""Payment codes (付款码) charged through WeChat Pay and Alipay from the desk (migration 25).

A :class:`PayAttempt` is written — and committed — before the provider is asked, so a charge is never made
without a row that says so: a desk killed mid-charge leaves the row, and the next start asks the provider what
became of it. Each attempt of one operation (its txid) has its own number and its own ``out_trade_no``, derived
from both, so a retry after a crash or a double press asks about the same charge instead of making a second. A
:class:`PayRefund` is one refund of a charge, keyed the same way by the refund's own txid.
"""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.ledger import Transaction
from mms_tui.models.org import Staff, Store

PAY_PROVIDERS = ("wechat", "alipay")
#: what the charge pays for
PAY_PURPOSES = ("checkout", "topup", "card")
#: pending: the provider asked (or about to be), its answer not known yet — the customer may still be confirming;
#: paid: the provider took the money, the operation not booked yet; booked: paid and booked (``transaction``);
#: declined: the provider took nothing (refused, not sent, closed); reversed: taken or maybe taken, then given
#: back (撤销/关单) — nothing kept
PAY_STATES = ("pending", "paid", "booked", "declined", "reversed")
#: pending: asked, answer not known; refunded: the provider accepted the refund; failed: it refused it
REFUND_STATES = ("pending", "refunded", "failed")


class PayAttempt(BaseModel):
    #: the operation paid for (a checkout's, a top-up's, a card sale's txid) and this attempt's number in it
    txid = peewee.CharField(max_length=64)
    attempt = peewee.IntegerField()
    provider = peewee.CharField(max_length=10, constraints=[peewee.Check("provider IN ('wechat','alipay')")])
    #: ours, as the provider knows the charge: from the txid and the attempt number (at most 32 characters)
    out_trade_no = peewee.CharField(max_length=32, unique=True)
    purpose = peewee.CharField(max_length=10, constraints=[peewee.Check("purpose IN ('checkout','topup','card')")])
    amount_fen = peewee.BigIntegerField()
    status = peewee.CharField(max_length=10, constraints=[
        peewee.Check("status IN ('pending','paid','booked','declined','reversed')")])
    #: the provider's number of the charge (WeChat's transaction_id, Alipay's trade_no)
    trade_no = peewee.CharField(max_length=64, default="")
    #: the last four digits of the customer's code, never the code itself
    code_tail = peewee.CharField(max_length=4, default="")
    #: the provider's last word on it (its error code and message), for the operator
    detail = peewee.CharField(max_length=200, default="")
    staff = peewee.ForeignKeyField(Staff, backref="pay_attempts", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="pay_attempts", on_delete="RESTRICT")
    #: the ledger transaction that booked it (status booked)
    transaction = peewee.ForeignKeyField(Transaction, null=True, backref="pay_attempts", on_delete="RESTRICT")
    created_at = Moment(default=now)
    updated_at = Moment(default=now)

    class Meta:
        table_name = "pay_attempt"
        indexes = (
            (("txid", "attempt"), True),
            # the start-up and mms check look for what is still open
            (("status", "created_at"), False),
        )


class PayRefund(BaseModel):
    attempt = peewee.ForeignKeyField(PayAttempt, backref="refunds", on_delete="RESTRICT")
    #: the refund's own operation (its txid) — the provider's idempotency key is made from it
    txid = peewee.CharField(max_length=64)
    out_refund_no = peewee.CharField(max_length=64, unique=True)
    amount_fen = peewee.BigIntegerField()
    status = peewee.CharField(max_length=10, constraints=[peewee.Check("status IN ('pending','refunded','failed')")])
    refund_no = peewee.CharField(max_length=64, default="")
    detail = peewee.CharField(max_length=200, default="")
    staff = peewee.ForeignKeyField(Staff, backref="pay_refunds", on_delete="RESTRICT")
    created_at = Moment(default=now)
    updated_at = Moment(default=now)

    class Meta:
        table_name = "pay_refund"
        indexes = ((("attempt", "txid"), True),)

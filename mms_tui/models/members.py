"""Members, tiers, card types and cards. Card balances are caches of the ledger (see ``Entry``)."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, index_of_set, now
from mms_tui.models.org import Staff, Store

CARD_KINDS = ("stored_value", "points", "discount", "visits", "period")
#: the kinds of value a shop's own member field holds (migration 8)
FIELD_KINDS = ("text", "number", "date", "choice")
#: what a member says yes or no to: marketing by SMS, marketing by email (migration 8), and service notices such as
#: 消费提醒 on any channel (migration 21)
CONSENT_CHANNELS = ("sms", "email", "notices")
CARD_STATUSES = ("active", "frozen", "lost", "expired", "cancelled")
GENDERS = ("", "F", "M")


class Tier(BaseModel):
    """会员等级: a name and a place in the order."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    rank = peewee.IntegerField(default=0, index=True)
    #: what the tier gives (discount, points multiplier) and takes (thresholds) is in the loyalty rules document,
    #: ``tiers.levels`` (migration 12 moved the columns that held some of it there)


class PriceLevel(BaseModel):
    """价格等级: a named price list (零售价, 会员价, 经销商价 …) a member may be given (migration 13); its prices
    are ``ItemPrice`` rows."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    active = peewee.BooleanField(default=True)


class Member(BaseModel):
    name = peewee.CharField(max_length=50, index=True)
    phone = peewee.CharField(max_length=20, unique=True)
    phone_last4 = peewee.CharField(max_length=4, index=True)
    name_pinyin = peewee.CharField(max_length=200, index=True)  # "zhangsan"
    name_initials = peewee.CharField(max_length=50, index=True)  # "zs"
    gender = peewee.CharField(max_length=1, default="")
    birthday = peewee.DateField(null=True)
    tier = peewee.ForeignKeyField(Tier, backref="members", on_delete="RESTRICT")
    notes = peewee.TextField(default="")
    status = peewee.CharField(max_length=10, default="active")
    home_store = peewee.ForeignKeyField(Store, null=True, backref="members", on_delete="RESTRICT")
    total_spend_fen = peewee.BigIntegerField(default=0)
    created_at = Moment(default=now)
    #: the family this member belongs to, named by its first member (null: none); a visit package of a
    #: transferable card type moves between members of one family (migration 4)
    family = peewee.ForeignKeyField("self", null=True, backref="family_members", on_delete="RESTRICT", index=False)
    #: the annual fee is paid up to this day (null: never paid; fees in the loyalty rules; migration 4)
    fees_paid_until = peewee.DateField(null=True)
    #: how to reach the member, and what they like (migration 8)
    address = peewee.TextField(default="", constraints=[peewee.SQL("DEFAULT ''")])  # bulk loads omit these
    email = peewee.CharField(max_length=254, default="", constraints=[peewee.SQL("DEFAULT ''")])
    preferences = peewee.TextField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    #: the price list this member buys at (a dealer's 经销商价), replacing the tier's price (migration 13)
    price_level = peewee.ForeignKeyField(PriceLevel, null=True, backref="members", on_delete="RESTRICT", index=False)
    #: the member's openid on the shop's WeChat Official Account (service notices go there; migration 21)
    wechat_openid = peewee.CharField(max_length=64, default="", constraints=[peewee.SQL("DEFAULT ''")])

    class Meta:
        #: members by join date (and home store): the segments report counts everyone from this index (migration 2)
        indexes = ((("created_at", "home_store"), False),)


class CardType(BaseModel):
    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    kind = peewee.CharField(
        max_length=12,
        constraints=[peewee.Check("kind IN ('stored_value','points','discount','visits','period')")],
    )
    price_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("price_fen >= 0")])
    #: days a card stays valid after issue (visit packages, stored value with expiry); null = no expiry
    validity_days = peewee.IntegerField(null=True)
    #: visits in a 次卡 package
    visits = peewee.IntegerField(default=0)
    #: price paid in basis points for a 折扣卡 (8000 = 8折)
    discount_bp = peewee.IntegerField(default=10000)
    #: length of a period pass (月卡 30, 季卡 90, 年卡 365)
    period_days = peewee.IntegerField(null=True)
    active = peewee.BooleanField(default=True)
    #: visits left may move to another member of the same family (migration 4)
    transferable = peewee.BooleanField(default=False)
    #: a period pass starts at its first check-in instead of on purchase (migration 4)
    start_on_first_use = peewee.BooleanField(default=False)
    #: days a card of this type may stay frozen per calendar year (null: no limit; migration 4)
    max_freeze_days = peewee.IntegerField(null=True)
    #: a card of this type is used only where the type is sold (its stores and regions, see CardTypeStore), not
    #: at every store of the chain (migration 22)
    bound = peewee.BooleanField(default=False)


class Card(BaseModel):
    card_no = peewee.CharField(max_length=64, unique=True)
    #: canonical: upper-case hex of the bits the reader carries (devices/protocols.py), or a legacy value as typed
    reader_uid = peewee.CharField(max_length=64, null=True)
    #: the last 6 characters of reader_uid, which a read of any length is found by (migration 15)
    uid_tail = peewee.CharField(max_length=6, null=True)
    barcode = peewee.CharField(max_length=64, null=True)
    member = peewee.ForeignKeyField(Member, backref="cards", on_delete="RESTRICT")
    #: no index of its own: the cards report's index below begins with it (migration 3)
    card_type = peewee.ForeignKeyField(CardType, backref="cards", on_delete="RESTRICT", index=False)
    status = peewee.CharField(
        max_length=10,
        default="active",
        constraints=[peewee.Check("status IN ('active','frozen','lost','expired','cancelled')")],
    )
    principal_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("principal_fen >= 0")])
    bonus_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("bonus_fen >= 0")])
    points = peewee.BigIntegerField(default=0, constraints=[peewee.Check("points >= 0")])
    visits_left = peewee.IntegerField(default=0, constraints=[peewee.Check("visits_left >= 0")])
    valid_from = peewee.DateField(null=True)
    valid_until = peewee.DateField(null=True)
    frozen_since = peewee.DateField(null=True)
    frozen_days_total = peewee.IntegerField(default=0)
    #: days frozen in the calendar year ``freeze_year`` (the per-year limit of the card type; migration 4)
    freeze_year = peewee.IntegerField(null=True)
    freeze_days_year = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])  # bulk loads omit it
    store = peewee.ForeignKeyField(Store, null=True, backref="cards", on_delete="RESTRICT")
    replaced_by = peewee.ForeignKeyField("self", null=True, backref="replaces", on_delete="RESTRICT", index=False)
    issued_at = Moment(default=now)

    class Meta:
        #: the cards report counts every card from this index alone, in its order (migration 2)
        indexes = ((("card_type", "status", "valid_until", "issued_at", "store"), False),)


#: indexes of what most rows leave empty, over the rows that have it (migration 28); a card's reader UID, its tail
#: and its barcode are empty on the cards of a shop that prints card numbers
index_of_set(Member, Member.family)
index_of_set(Member, Member.price_level)
index_of_set(Card, Card.reader_uid, unique=True)
index_of_set(Card, Card.uid_tail)
index_of_set(Card, Card.barcode, unique=True)
index_of_set(Card, Card.replaced_by)


class MemberTag(BaseModel):
    """A word a shop files a member under ("VIP", "孕期", "马拉松"): the desk and the campaigns find members by it
    (migration 8)."""

    member = peewee.ForeignKeyField(Member, backref="tags", on_delete="CASCADE", index=False)
    tag = peewee.CharField(max_length=30, index=True)

    class Meta:
        indexes = ((("member", "tag"), True),)


class MemberField(BaseModel):
    """A field a shop defines for its members (shoe size, goal, referrer…), with the kind of value it holds
    (migration 8)."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    kind = peewee.CharField(max_length=10, constraints=[peewee.Check("kind IN ('text','number','date','choice')")])
    #: a choice field's options, as a JSON list of text
    choices = peewee.TextField(default="[]")
    active = peewee.BooleanField(default=True)


class MemberFieldValue(BaseModel):
    """One member's value of one shop-defined field, as text (a number or a day in its plain form; migration 8)."""

    member = peewee.ForeignKeyField(Member, backref="field_values", on_delete="CASCADE", index=False)
    field = peewee.ForeignKeyField(MemberField, backref="values", on_delete="RESTRICT")
    value = peewee.TextField()

    class Meta:
        indexes = ((("member", "field"), True),)


class Consent(BaseModel):
    """A member's yes or no to marketing on one channel, as given, never edited: the latest per channel is in
    force, the ones before it are the record of when it was given or withdrawn (migration 8)."""

    member = peewee.ForeignKeyField(Member, backref="consents", on_delete="RESTRICT", index=False)
    channel = peewee.CharField(max_length=10, constraints=[peewee.Check("channel IN ('sms','email','notices')")])
    given = peewee.BooleanField()
    at = Moment(default=now)
    staff = peewee.ForeignKeyField(Staff, null=True, backref="consents_taken", on_delete="RESTRICT")

    class Meta:
        indexes = ((("member", "channel", "at"), False),)


class CardTypeStore(BaseModel):
    """A store (or a region: its stores) a card type is sold at; a type with none is sold everywhere (migration
    11)."""

    card_type = peewee.ForeignKeyField(CardType, backref="stores", on_delete="CASCADE", index=False)
    store = peewee.ForeignKeyField(Store, backref="card_types", on_delete="RESTRICT")

    class Meta:
        indexes = ((("card_type", "store"), True),)


class PromptDismissal(BaseModel):
    """A prompt from the member's pattern (顾客消费提醒) that the desk put away: the prompt's key names the state it
    was about (an item and the day it was last bought, a package and its visits left), so the same prompt stays away
    and the next one shows (migration 24)."""

    member = peewee.ForeignKeyField(Member, backref="prompt_dismissals", on_delete="RESTRICT", index=False)
    key = peewee.CharField(max_length=120)
    staff = peewee.ForeignKeyField(Staff, null=True, backref="prompts_dismissed", on_delete="RESTRICT")
    created_at = Moment(default=now)

    class Meta:
        indexes = ((("member", "key"), True),)

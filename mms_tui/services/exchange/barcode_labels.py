"""Which labels to print, from the database: member cards chosen by member, number, issue date or type, and
products by code, each as a :class:`~.barcode_symbols.Label`, with warnings about what is not (or not exactly)
printed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import peewee

from mms_tui.i18n import _
from mms_tui.models import Card, CardType, Member, Product
from mms_tui.services.base.errors import InvalidInput, NotFound, UnknownCard, UnknownItem
from mms_tui.services.base.resolve import checked_day, resolve_member
from mms_tui.services.base.text import format_money, mask_phone, normalise_card_no, normalise_phone
from mms_tui.services.exchange.barcode_symbols import Label, product_symbol

#: a card in one of these states is printed by default; lost, cancelled and expired ones only when asked
PRINTABLE_STATUSES = ("active", "frozen")


@dataclass(frozen=True)
class Selection:
    """What to print, and what the operator should know about what is not (or not exactly) printed."""

    labels: list[Label]
    warnings: list[str]


# --- choosing cards and products -----------------------------------------------------------------------------------


def _status_word(status: str) -> str:
    words = {"lost": _("lost"), "cancelled": _("cancelled"), "expired": _("expired"), "frozen": _("frozen"),
             "active": _("active")}
    return words.get(status, status)


def _find_card_type(code: str) -> CardType:
    # retired (inactive) types are still printable: their cards are still in members' pockets
    found = CardType.get_or_none((CardType.code == code) | (CardType.name == code))
    if found is None:
        raise InvalidInput(_("Unknown card type {type!r}.").format(type=code))
    return found


def select_cards(
    *,
    phones: Sequence[str] = (),
    card_nos: Sequence[str] = (),
    issued_since: dt.date | None = None,
    issued_until: dt.date | None = None,
    type_codes: Sequence[str] = (),
    all_cards: bool = False,
    include_inactive: bool = False,
) -> Selection:
    """The cards to print, in issue order, as Code 128 labels of their card numbers under the member's name.

    ``phones`` and ``card_nos`` pick cards (either); the dates and types narrow the pick, or all cards when nothing
    picks. Nothing at all is refused: a slip of the keyboard must not print ten thousand cards. Lost, cancelled and
    expired cards are left out unless ``include_inactive``; one named by number is then an error, not a silent gap.
    """
    if not (phones or card_nos or issued_since or issued_until or type_codes or all_cards):
        raise InvalidInput(_("Say which cards to print: by member, card number, issue date or card type, "
                             "or ask for all cards."))
    checked_day(issued_since)
    checked_day(issued_until)
    if issued_since and issued_until and issued_since > issued_until:
        raise InvalidInput(_("The period starts after it ends ({start} > {end}).").format(
            start=issued_since, end=issued_until))
    warnings: list[str] = []
    members = [resolve_member(normalise_phone(phone)) for phone in phones]
    named: list[Card] = []
    for number in card_nos:
        card = Card.get_or_none(Card.card_no == normalise_card_no(number))
        if card is None:
            raise UnknownCard(_("Unknown card {card}.").format(card=number))
        if card.status not in PRINTABLE_STATUSES and not include_inactive:
            raise InvalidInput(_("Card {card} is {status}; give --include-inactive to print it anyway.").format(
                card=card.card_no, status=_status_word(card.status)))
        named.append(card)
    conditions: list[peewee.Expression] = []
    if members or named:
        conditions.append(Card.member.in_([m.id for m in members]) | Card.id.in_([c.id for c in named]))
    if issued_since:
        conditions.append(Card.issued_at >= dt.datetime.combine(issued_since, dt.time()))
    if issued_until:
        conditions.append(Card.issued_at < dt.datetime.combine(issued_until + dt.timedelta(days=1), dt.time()))
    if type_codes:
        conditions.append(Card.card_type.in_([_find_card_type(code).id for code in type_codes]))
    if not include_inactive:
        conditions.append(Card.status.in_(PRINTABLE_STATUSES))
    query = Card.select(Card, Member).join(Member)
    if conditions:
        query = query.where(*conditions)
    cards = list(query.order_by(Card.issued_at, Card.id))
    for member in members:
        if not any(card.member_id == member.id for card in cards):
            warnings.append(_("{name} ({phone}) has no card to print.").format(
                name=member.name, phone=mask_phone(member.phone)))
    if not cards:
        raise NotFound(" ".join([*warnings, _("No card matches; nothing to print.")]))
    labels = []
    for card in cards:
        try:
            labels.append(Label.make("code128", card.card_no, card.member.name, card.card_no))
        except InvalidInput:
            raise InvalidInput(_("Card number {card} of {name} cannot be printed as a Code 128 barcode (only ASCII "
                                 "letters, digits and signs).").format(card=card.card_no, name=card.member.name)) from None
    return Selection(labels, warnings)


def select_products(
    codes: Sequence[str] = (),
    *,
    include_inactive: bool = False,
    complete_ean: bool = False,
    skip_invalid: bool = False,
) -> Selection:
    """Labels for products (all active ones when no code is given), with name and price above the barcode.

    A wrong EAN check digit stops the run naming the product, or with ``skip_invalid`` leaves that product out
    with a warning line: either way nothing is printed that scans as another article.
    """
    if codes:
        products = []
        for code in codes:
            key = normalise_card_no(code)
            product = Product.get_or_none((Product.code == key) | (Product.barcode == key))
            if product is None:
                raise UnknownItem(_("No product {code!r}.").format(code=code))
            if not product.active and not include_inactive:
                raise InvalidInput(_("Product {code} is inactive; give --include-inactive to print it anyway.")
                                   .format(code=product.code))
            products.append(product)
    else:
        query = Product.select().order_by(Product.code)
        if not include_inactive:
            query = query.where(Product.active == True)  # noqa: E712
        products = list(query)
    labels: list[Label] = []
    warnings: list[str] = []
    for product in products:
        title = f"{product.name} {format_money(product.price_fen)}"
        try:
            symbology, data, warning = product_symbol(product.code, product.barcode, complete=complete_ean)
            labels.append(Label.make(symbology, data, title, product.code))
        except InvalidInput as exc:
            message = _("Product {code} ({name}): {problem}").format(code=product.code, name=product.name,
                                                                      problem=exc.message)
            if not skip_invalid:
                raise InvalidInput(message) from None
            warnings.append(message + " " + _("Skipped."))
            continue
        if warning:
            warnings.append(warning)
    if not labels:
        raise NotFound(_("No product to print."))
    return Selection(labels, warnings)


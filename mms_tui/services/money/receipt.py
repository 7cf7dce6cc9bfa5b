"""The receipt of a sale as plain text lines: the desk's preview, and what a printer prints (see devices).

A receipt is laid out for one printer: ``width`` **printer columns** (32 on 58 mm paper, 48 on 80 mm) and its
``encoding``. On a Chinese printer (GB18030/GBK) every character outside ASCII prints from the double-byte font and
takes two columns — CJK, full-width forms, and the East Asian *ambiguous* ones such as × · — that a terminal shows
narrow. Every piece of text is first made printable in the encoding (:func:`printable`): the yuan sign becomes ￥,
which GBK has (¥ is a four-byte GB18030 sequence most printers print as garbage); a code-page printer (cp437 …) gets
pinyin for Chinese and plain ASCII for the rest, never a ``?``. Long names wrap (continuation lines indented), never
cut; amounts stand right-aligned in the last columns; no line is wider than the paper.

The receipt shows the member's balances as they were right after the sale — read from the ledger up to and
including it, so a reprint weeks later shows the same numbers — the shift and the staff member, and carries the
txid as a QR code: scanned at the desk, it opens the sale again (:func:`sale_for_code`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import peewee

from mms_tui.i18n import _
from mms_tui.models import Card, Entry, Member, Sale, Store, Transaction
from mms_tui.services.base.errors import NotFound
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger import results
from mms_tui.services.ledger.tenders import tender_label
from mms_tui.services.money.checkout import CheckoutResult
from mms_tui.services.money.refund import parts_of
from mms_tui.services.payments.charge import booked_attempts

#: printers that take GB18030/GBK after ``FS &`` (devices/printer.py speaks the same list)
CHINESE_ENCODINGS = ("gb18030", "gbk", "gb2312", "cp936")
#: how a continuation line of a wrapped name is indented
INDENT = 2

_IDEOGRAPHS = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
#: what a code-page printer gets for a sign it does not have (after NFKC and accents stripped have not helped)
_ASCII = {"×": "x", "÷": "/", "…": "...", "—": "-", "–": "-", "‐": "-", "·": ".", "•": "*", "“": '"', "”": '"',
          "‘": "'", "’": "'", "、": ",", "。": ".", "「": '"', "」": '"', "《": "<", "》": ">", "【": "[", "】": "]",
          "¥": "Y", "￥": "Y", "✓": "v", "↺": "R"}


def is_chinese(encoding: str) -> bool:
    return encoding.lower().replace("-", "").replace("_", "") in CHINESE_ENCODINGS


@lru_cache(maxsize=8192)
def _has(ch: str, encoding: str) -> bool:
    """Whether the printer prints ``ch``: it encodes, and on a Chinese printer in at most two bytes unless it is an
    ideograph (GB18030's four-byte symbols — ¥, emoji — are missing from the GBK fonts most printers carry)."""
    try:
        data = ch.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return len(data) <= 2 or not is_chinese(encoding) or bool(_IDEOGRAPHS.fullmatch(ch))


def money_sign(encoding: str) -> str:
    """The yuan sign the printer has: ￥ (GB2312/GBK A3A4) on Chinese printers, ¥ on a code page that has it
    (cp437 0x9D, latin-1), else ``CNY `` in plain ASCII."""
    for sign in ("￥", "¥"):
        if _has(sign, encoding):
            return sign
    return "CNY "


@lru_cache(maxsize=8192)
def _char_columns(ch: str, chinese: bool) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    wide = unicodedata.east_asian_width(ch)
    return 2 if wide in ("W", "F") or (chinese and wide == "A") else 1


def printer_columns(text: str, encoding: str = "gb18030") -> int:
    """Columns ``text`` takes on a receipt printer: two for a CJK character or a full-width form, and on a Chinese
    printer also for an East Asian ambiguous one (× · — é), which it prints from its double-byte font."""
    if text.isascii():
        return len(text)
    chinese = is_chinese(encoding)
    return sum(_char_columns(ch, chinese) for ch in text)


def printable(text: str, encoding: str = "gb18030") -> str:
    """``text`` with only what the printer has: every character it lacks is replaced by its compatibility form
    (￥ → ¥, ０ → 0), its letters without accents, pinyin for Chinese, a plain ASCII sign — or left out. Never a
    character the encoding turns into ``?``."""
    if all(_has(ch, encoding) for ch in text):
        return text
    if is_chinese(encoding):
        text = text.replace("¥", "￥")
    elif any(not _has(ch, encoding) for run in _IDEOGRAPHS.findall(text) for ch in run):
        text = _pinyin(text)
    out = []
    for ch in text:
        if _has(ch, encoding):
            out.append(ch)
            continue
        for candidate in (unicodedata.normalize("NFKC", ch),
                          "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)),
                          _ASCII.get(ch, "")):
            if candidate and candidate != ch and all(_has(c, encoding) for c in candidate):
                out.append(candidate)
                break
    return "".join(out)


def _pinyin(text: str) -> str:
    """Chinese runs of ``text`` in pinyin (精剪 ×1 → Jing Jian ×1), for a printer without Chinese."""
    if not _IDEOGRAPHS.search(text):
        return text
    from pypinyin import lazy_pinyin  # 0.17 s to load: only for a printer that needs it

    def spelled(match: re.Match) -> str:
        before, after = text[match.start() - 1:match.start()], text[match.end():match.end() + 1]
        words = " ".join(word.capitalize() for word in lazy_pinyin(match.group()))
        return (" " if before.isalnum() else "") + words + (" " if after.isalnum() else "")

    return _IDEOGRAPHS.sub(spelled, text)


@dataclass(frozen=True)
class Paper:
    """One printer's paper: its width in printer columns and its encoding. Every line it makes fits."""

    width: int = 32
    encoding: str = "gb18030"

    def columns(self, text: str) -> int:
        return printer_columns(text, self.encoding)

    def money(self, fen: int) -> str:
        return format_money(fen, money_sign(self.encoding))

    def wrap(self, text: str, width: int | None = None, indent: int = INDENT) -> list[str]:
        """``text`` (made printable) in lines of at most ``width`` columns, the later ones indented by ``indent``:
        broken at spaces where it can, between CJK characters anywhere, inside a word only when it is longer
        than a line. Nothing is ever cut off."""
        width = self.width if width is None else width
        indent = indent if indent < width // 2 else 0
        lines: list[str] = []
        line, used = "", 0

        def new_line() -> None:
            nonlocal line, used
            if line.strip():
                lines.append(line.rstrip())
            line, used = " " * indent, indent

        for token in _tokens(printable(text, self.encoding)):
            need = self.columns(token)
            if token == " ":
                if line.strip() and used + 1 <= width:
                    line, used = line + " ", used + 1
                continue
            if used + need > width:
                if need <= width - indent:
                    new_line()
                else:  # longer than any line: broken where it must be
                    for ch in token:
                        w = self.columns(ch)
                        if used + w > width and line.strip():
                            new_line()
                        line, used = line + ch, used + w
                    continue
            line, used = line + token, used + need
        if line.strip() or not lines:
            lines.append(line.rstrip())
        return lines

    def row(self, left: str, right: str) -> list[str]:
        """``left`` wrapped in the columns ``right`` leaves free; ``right`` right-aligned on the first line (on a
        line of its own when it would leave too little room)."""
        right = printable(right, self.encoding)
        need = self.columns(right)
        room = self.width - need - 1
        if room < max(8, self.width // 3):
            return [*self.wrap(left), *self.right(right)]
        parts = self.wrap(left, room)
        head = parts[0]
        return [head + " " * (self.width - self.columns(head) - need) + right, *parts[1:]]

    def right(self, text: str) -> list[str]:
        return [" " * (self.width - self.columns(part)) + part for part in self.wrap(text, indent=0)]

    def center(self, text: str) -> list[str]:
        return [(" " * ((self.width - self.columns(part)) // 2) + part).rstrip()
                for part in self.wrap(text, indent=0)]

    def rule(self) -> str:
        return "-" * self.width


def _tokens(text: str):
    """Words, single spaces and single wide characters: where a line may break."""
    word = ""
    for ch in text.replace("\n", " "):
        if ch == " " or unicodedata.east_asian_width(ch) in ("W", "F"):
            if word:
                yield word
                word = ""
            yield ch
        else:
            word += ch
    if word:
        yield word


@dataclass(frozen=True)
class CardAfter:
    """A card's value and points right after a sale, read from the ledger."""

    card_no: str
    value_fen: int
    points: int
    used: bool  # the sale moved value or points on it


def receipt_lines(result: CheckoutResult, *, store_name: str = "", staff_name: str = "", member_name: str = "",
                  width: int = 32, encoding: str = "gb18030", shift: str = "",
                  cards: list[CardAfter] | tuple[CardAfter, ...] = (),
                  trade_numbers: Mapping[str, str] | None = None) -> list[str]:
    """The receipt in lines of at most ``width`` printer columns, printable in ``encoding``. ``trade_numbers``:
    the provider's number of what a payment code paid, by tender ({"wechat": "4200…"}), printed under its tender
    (what the customer's phone shows, to find the payment by)."""
    paper = Paper(width, encoding)
    lines = paper.center(store_name) if store_name else []
    lines.append(paper.rule())
    for line in result.lines:  # each line after its own promotions; the cart discounts follow
        lines += paper.row(f"{line['name']} ×{line['qty']}", paper.money(line["line_total_fen"]))
        reasons = line.get("explanations", [line["discount_reason"]] if line["discount_reason"] else [])
        lines += ["  " + part for reason in reasons for part in paper.wrap(reason, width - 2)]
    for discount in result.cart_discounts:  # 满300减50: what came off the bill as a whole
        lines += paper.row(discount["explanation"], "-" + paper.money(discount["amount_fen"]))
    lines.append(paper.rule())
    if result.discount_fen:
        lines += paper.row(_("Subtotal"), paper.money(result.subtotal_fen))
        lines += paper.row(_("Discount"), "-" + paper.money(result.discount_fen))
    lines += paper.row(_("Total"), paper.money(result.total_fen))
    change_left = result.change_fen
    for payment in result.payments:
        amount = payment["amount_fen"]
        if payment["tender"] == "cash" and change_left:  # show the cash handed over; the change follows
            amount, change_left = amount + change_left, 0
        label = tender_label(payment["tender"])
        if payment["tender"] == "points" and payment.get("points"):
            label = _("{label} ({points} pts)").format(label=label, points=payment["points"])
        lines += paper.row(label, paper.money(amount))
        if (trade_numbers or {}).get(payment["tender"]):
            lines += ["  " + part for part in paper.wrap(_("No. {number}").format(
                number=trade_numbers[payment["tender"]]), width - 2)]
    if result.change_fen:
        lines += paper.row(_("Change"), paper.money(result.change_fen))
    if result.coupons:
        lines += paper.wrap(_("Coupons used: {codes}").format(codes=", ".join(result.coupons)))
    if result.points_earned:
        lines += paper.row(_("Points earned"), str(result.points_earned))
        lines += ["  " + part for text in result.points_explanations for part in paper.wrap(text, width - 2)]
    if member_name or cards:
        lines.append(paper.rule())
    if member_name:
        lines += paper.wrap(_("Member: {name}").format(name=member_name))
    for card in cards:
        if card.value_fen or card.used:
            lines += paper.row(_("Balance {card}").format(card=card.card_no[-4:]), paper.money(card.value_fen))
        if card.points:
            lines += paper.row(_("Points {card}").format(card=card.card_no[-4:]), str(card.points))
    if staff_name:
        lines += paper.wrap(_("Staff: {name}").format(name=staff_name))
    if shift:
        lines += paper.wrap(shift)
    lines += paper.wrap(f"txid {result.txid[:16]}")
    return lines


def store_header_lines(store: Store, width: int = 32, encoding: str = "gb18030") -> list[str]:
    """What a store prints at the top of its receipts, under its name: its receipt header (a few lines the
    manager wrote), then its address and phone, each centred and wrapped to ``width`` columns."""
    paper = Paper(width, encoding)
    texts = [*store.receipt_header.splitlines(), store.address,
             _("Tel {phone}").format(phone=store.phone) if store.phone else ""]
    return [part for text in texts if text.strip() for part in paper.center(text.strip())]


@dataclass(frozen=True)
class Receipt:
    title: str  # the store's name, wrapped to the paper (lines joined by newlines), printed large and centred
    lines: list[str]
    cash: bool  # a cash tender was taken: open the drawer
    qr: str = ""  # the text of its QR code: the sale's txid


def cards_after(tx: Transaction, member_id: int | None) -> list[CardAfter]:
    """The value and points of the member's cards (and any card the sale used) right after ``tx``: the sum of their
    entries up to and including it — not today's balances, which later operations have moved."""
    used = {card_id for (card_id,) in Entry.select(Entry.card).where(
        (Entry.transaction == tx.id) & Entry.card.is_null(False)).tuples()}
    owned = set()
    if member_id is not None:
        owned = {card_id for (card_id,) in Card.select(Card.id).where(Card.member == member_id).tuples()}
    ids = sorted(used | owned)
    if not ids:
        return []
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for card_id, account, total in (
        Entry.select(Entry.card, Entry.account, peewee.fn.SUM(Entry.amount))
        .where(Entry.card.in_(ids) & (Entry.transaction <= tx.id))  # ids grow with the ledger
        .group_by(Entry.card, Entry.account).tuples()
    ):
        sums[card_id][account] = int(total)
    numbers = dict(Card.select(Card.id, Card.card_no).where(Card.id.in_(ids)).tuples())
    after = []
    for card_id in ids:
        s = sums[card_id]
        card = CardAfter(numbers[card_id], s["card.principal"] + s["card.bonus"], s["card.points"], card_id in used)
        if card.value_fen or card.points or card.used:
            after.append(card)
    return after


def shift_label(tx: Transaction) -> str:
    """The shift a sale falls in, as a receipt names it ("" when it falls in none: a sale from the command line
    before any shift opened)."""
    from mms_tui.services.money.shifts import shift_of

    shift = shift_of(tx)
    if shift is None:
        return ""
    return _("Shift #{number} from {start}").format(number=shift.id, start=str(shift.opened_at)[5:16])


def sale_receipt(txid: str, *, width: int = 32, encoding: str = "gb18030") -> Receipt:
    """The receipt of a past sale, by its txid, for a printer of ``width`` columns taking ``encoding``: for the
    print after checkout and for any reprint. Balances are the member's right after the sale, whenever printed."""
    tx = Transaction.get_or_none((Transaction.txid == txid) & (Transaction.kind == "checkout"))
    if tx is None:
        raise NotFound(_("No sale {txid}.").format(txid=txid))
    paper = Paper(width, encoding)
    result = CheckoutResult(**results.load(tx.result, of=tx.txid))
    member = Member.get_or_none(Member.id == result.member_id) if result.member_id else None
    lines = [*store_header_lines(tx.store, width, encoding), str(tx.created_at)[:16]]
    lines += receipt_lines(result, staff_name=tx.staff.name, member_name=member.name if member else "",
                           width=width, encoding=encoding, shift=shift_label(tx),
                           cards=cards_after(tx, member.id if member else None),
                           trade_numbers={a.provider: a.trade_no for a in booked_attempts(tx.txid)})
    if Sale.get(Sale.transaction == tx.id).status == "refunded":
        lines += paper.center(_("*** REFUNDED ***"))
    elif parts := parts_of(tx.txid, tx.member_id):  # 部分退款: what was given back of it so far
        lines += paper.center(_("*** {amount} REFUNDED ***").format(
            amount=paper.money(sum(p["part"]["amount_fen"] for p in parts))))
    title = "\n".join(paper.wrap(tx.store.name, indent=0))
    return Receipt(title, lines, any(p["tender"] == "cash" for p in result.payments), tx.txid)


#: the shape of the txids the desks make (uuid4 in hex): a scanned text of this shape is a receipt's QR code
_RECEIPT_CODE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class SaleRef:
    txid: str
    member_id: int | None


def sale_for_code(text: str) -> SaleRef | None:
    """The sale whose receipt's QR code was scanned at the desk (the code is its txid). None when ``text`` is no
    sale's code — a card, a product, something to search for; NotFound when it has the shape of a receipt code
    that no sale here has."""
    code = text.strip()
    for candidate in dict.fromkeys((code, code.lower())):
        tx = Transaction.get_or_none(Transaction.txid == candidate)
        if tx is not None and tx.kind == "checkout":
            return SaleRef(tx.txid, tx.member_id)
    if _RECEIPT_CODE.fullmatch(code.lower()):
        raise NotFound(_("No sale here has the receipt code {code}.").format(code=code))
    return None

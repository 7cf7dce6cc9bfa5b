"""A transaction's stored result, kept compact (issue #27).

Every operation stores its result with its transaction (:func:`~mms_tui.services.ledger.operations.run_operation`):
a retry of the txid answers with it, and a few features read it back later (a receipt reprinted, a refund, the
history's details, the partial refunds' terms). As JSON text it was most of the ledger's bytes — 600 bytes for a
checkout, the same key names in every row. It is stored as raw DEFLATE with a preset dictionary of those names
(:data:`DICTIONARY`), one format byte first: a checkout's result takes about a fifth of the room, and is read back
in about two microseconds.

The dictionary of format 1 is part of the stored data: it never changes. A better one is a new format number, with
this one kept for the rows written with it. The tamper-evident chain leaves stored results out of its digests
(services/ledger/chain.py), so the encoding may change without breaking a link.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from mms_tui.i18n import _
from mms_tui.services.base.errors import DamagedRecord

#: the format byte of raw DEFLATE with :data:`DICTIONARY`
DEFLATE_1 = 1
#: window bits of raw DEFLATE (no zlib header or checksum: the row is the unit, and the chain guards the rest)
_WBITS = -15

#: The key names and common values of the stored results, as :func:`operations.result_json` writes them
#: (``json.dumps`` of the result dataclass, keys in field order): what is most frequent comes last, where DEFLATE
#: reaches it with the shortest distances. Never edit: rows of format 1 were compressed against these bytes.
DICTIONARY = (
    b'{"txid": "", "count_id": 0, "store": "", "variances": 0, "counted": 0, "value_fen": 0}'
    b'{"txid": "", "kind": "", "store": "", "supplier": "", "reference": "", "lines": [], "qty": 0, "value_fen": 0}'
    b'{"txid": "", "code": "", "qty": 0, "value_fen": 0, "on_hand": 0, "reason": ""}'
    b'{"txid": "", "member_id": 0, "events_scrubbed": 0, "results_scrubbed": 0}'
    b'{"txid": "", "what": "members", "encoding": "utf-8", "rows": 0, "created": 0, "updated": 0, "skipped": 0, '
    b'"cards_created": 0, "cards_updated": 0, "principal_fen": 0, "bonus_fen": 0, "points": 0, "visits": 0, '
    b'"ignored_columns": [], "dry_run": false, "already_imported": false}'
    b'{"txid": "", "booking_ids": [], "starts": [], "end": "", "staff_code": "", "staff_name": "", "room_code": null, '
    b'"warnings": []}'
    b'{"txid": "", "booking_id": 0, "status": "", "late": false, "policy": "", "fee_fen": 0, "new_booking_id": null}'
    b'{"txid": "", "booking_id": 0, "member_id": 0, "guest_name": "", "lines": [], "performers": {}}'
    b'{"txid": "", "member_id": 0, "family_id": 0, "members": []}'
    b'{"txid": "", "visits": 0, "from_card_no": "", "from_visits_left": 0, "to_member_id": 0, "to_member_name": "", '
    b'"to_card_no": "", "to_visits_left": 0, "card_issued": false}'
    b'{"txid": "", "card_id": 0, "card_no": "", "member_id": 0, "points": 0, "as_of": "", "points_after": 0}'
    b'{"txid": "", "card_id": 0, "card_no": "", "member_id": 0, "gift_code": "", "gift_name": "", "points": 0, '
    b'"points_after": 0, "coupon_code": null, "coupon_valid_until": null}'
    b'{"txid": "", "member_id": 0, "window_start": "", "window_end": "", "gift_code": "", "gift_name": ""}'
    b'{"txid": "", "card_id": 0, "card_no": "", "member_id": 0, "kind": "", "status": "frozen", "principal_fen": 0, '
    b'"bonus_fen": 0, "points": 0, "visits_left": 0, "valid_until": null, "price_fen": 0, "frozen_days": 0, '
    b'"days_left": 0, "ends_on": ""}'
    b'{"txid": "", "member_id": 0, "name": "", "phone": "", "tier_code": "NORMAL"}'
    b'{"txid": "", "reversed_txid": "", "kind": "checkout", "member_id": 0, "money_returned_fen": 0, "entries": [], '
    b'"bonus_kept_fen": 0, "coupons_reopened": [], "paid_out": [], "to_cards": [], "by_provider": [], "part": null}'
    b'{"txid": "", "card_id": 0, "card_no": "", "member_id": 0, "kind": "stored_value", "status": "active", '
    b'"principal_fen": 0, "bonus_fen": 0, "points": 0, "visits_left": 0, "valid_until": null, "price_fen": 0}'
    b'{"txid": "", "card_id": 0, "card_no": "", "member_id": 0, "amount_fen": 0, "bonus_fen": 0, "tender": "cash", '
    b'"principal_after": 0, "bonus_after": 0, "tier_code": "NORMAL", "tier_up": false, "explanation": "", '
    b'"tier_name": ""}'
    b'{"txid": "", "visit_id": 0, "card_id": 0, "card_no": "", "member_id": 0, "kind": "visits", "visits_left": 0, '
    b'"valid_until": null, "started": false}'
    b'{"promotion": "", "coupon": null, "amount_fen": 0, "explanation": ""}'
    b'{"kind": "", "code": "", "amount_fen": 0, "paid_until_before": null, "paid_until_after": null}'
    b'{"txid": "", "sale_id": 0, "member_id": 0, "subtotal_fen": 0, "discount_fen": 0, "total_fen": 0, '
    b'"change_fen": 0, "points_earned": 0, "points_redeemed": 0, "tier_code": "NORMAL", "lines": '
    b'[{"kind": "product", "item_id": 0, "code": "", "name": "", "category": "", "qty": 1, "list_price_fen": 0, '
    b'"unit_price_fen": 0, "line_total_fen": 0, "discount_reason": "", "explanations": [], "net_fen": 0}, '
    b'{"kind": "service", "item_id": 0, "code": "", "name": "", "category": "", "qty": 1, "list_price_fen": 0, '
    b'"unit_price_fen": 0, "line_total_fen": 0, "discount_reason": "", "explanations": [], "net_fen": 0}], '
    b'"payments": [{"tender": "stored_value", "amount_fen": 0, "card": 0, "principal_fen": 0, "bonus_fen": 0}, '
    b'{"tender": "cash", "amount_fen": 0, "card": null}], "cart_discounts": [], "promotions": [], "coupons": [], '
    b'"fees": [], "points_explanations": [], "spend_fen": 0, "stock_warnings": []}'
)


def pack(text: str) -> bytes:
    """A result's JSON text as stored."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, _WBITS, 9, zlib.Z_DEFAULT_STRATEGY, zdict=DICTIONARY)
    return bytes((DEFLATE_1,)) + squeeze.compress(text.encode()) + squeeze.flush()


def unpack(stored: bytes | memoryview | str | None, *, of: str = "") -> str:
    """The JSON text of a stored result ("{}" for none). PostgreSQL hands a ``bytea`` back as a memoryview. ``of``:
    the operation's txid, for the sentence that refuses a damaged one."""
    if stored is None:
        return "{}"
    if isinstance(stored, str):  # (what a database of schema 25 held, while migration 26 reads it)
        return stored or "{}"
    data = bytes(stored)
    if not data:
        return "{}"
    if data[0] != DEFLATE_1:
        raise _damaged(of, f"unknown format {data[0]}")
    try:
        expand = zlib.decompressobj(_WBITS, zdict=DICTIONARY)
        return (expand.decompress(data[1:]) + expand.flush()).decode()
    except (zlib.error, UnicodeDecodeError) as exc:
        raise _damaged(of, str(exc)) from None


def load(stored: bytes | memoryview | str | None, *, of: str = "") -> dict[str, Any]:
    """A stored result as a dict ({} for none); a damaged one raises :class:`DamagedRecord` naming ``of``."""
    try:
        loaded = json.loads(unpack(stored, of=of))
    except json.JSONDecodeError as exc:
        raise _damaged(of, str(exc)) from None
    if not isinstance(loaded, dict):
        raise _damaged(of, "not a record")
    return loaded


def _damaged(txid: str, detail: str) -> DamagedRecord:
    if txid:
        return DamagedRecord(_("The stored record of operation {txid} is damaged ({detail}); nothing was changed.")
                             .format(txid=txid, detail=detail))
    return DamagedRecord(_("A stored operation record is damaged ({detail}); nothing was changed.").format(
        detail=detail))


def dump(result: dict[str, Any]) -> bytes:
    """A result dict as stored (``json.dumps`` as :func:`operations.result_json` writes it)."""
    return pack(json.dumps(result, default=str, ensure_ascii=False))

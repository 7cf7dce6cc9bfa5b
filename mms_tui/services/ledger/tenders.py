"""The one way value changes: an idempotent operation that posts balanced entries and moves card caches.

Every desk operation runs through :func:`run_operation`:

* one short write transaction (``BEGIN IMMEDIATE`` on SQLite), retried on lock time-outs and serialization
  failures with the same txid;
* the ``txid`` (made by the terminal before it submits) is unique: the same txid with the same request returns the
  first result, the same txid with a different request raises :class:`TxidConflict`;
* :func:`post` writes the entries, checks that each unit sums to zero, and moves the card caches with conditional
  updates (``… WHERE balance + delta >= 0``) so two terminals can never both spend the last ¥50.

Every operation passes through here, so its statements are written out (:func:`~mms_tui.services.base.sql.run_sql`):
the same SQL the ORM would build, without building it each time.
"""

from __future__ import annotations

from mms_tui.i18n import N_, _

MONEY_TENDERS = ("cash", "bank_card", "wechat", "alipay")

#: how the desk, receipts and reports name each tender (translated where shown: :func:`tender_label`)
TENDER_LABELS = {"stored_value": N_("Stored value"), "points": N_("Points"), "cash": N_("Cash"),
                 "bank_card": N_("Bank card"), "wechat": N_("WeChat"), "alipay": N_("Alipay")}


def tender_label(tender: str) -> str:
    return _(TENDER_LABELS[tender]) if tender in TENDER_LABELS else tender


def money_tender_choices() -> list[tuple[str, str]]:
    """(label, tender) of every money tender, for a choice on screen."""
    return [(tender_label(t), t) for t in MONEY_TENDERS]

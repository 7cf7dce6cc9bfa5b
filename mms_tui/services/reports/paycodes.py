"""Payment codes per provider and day (``paycodes``): what WeChat Pay and Alipay charged and refunded through the
desks, the net, the fees the providers' bills stated, and whether the day was reconciled (对账) — with its
differences. Days are the stores' own (``Period.during``); the fees are the bill's, kept when it was reconciled."""

from __future__ import annotations

from collections.abc import Iterator

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import PayAttempt, PayRefund, Store
from mms_tui.services.payments.reconcile import reconciled_days
from mms_tui.services.reports.period import Period, Row


def paycodes(p: Period, by: str = "day") -> Iterator[Row]:
    """One row per day and provider with a charge or a refund: counts and money, fees, reconciliation."""
    zones = {sid: zone for sid, zone in Store.select(Store.id, Store.time_zone).tuples()}
    table: dict[tuple[str, str], dict[str, int]] = {}

    def row(day, provider: str) -> dict[str, int]:
        return table.setdefault((day.isoformat(), provider), {"charges": 0, "charged_fen": 0, "refunds": 0,
                                                              "refunded_fen": 0})

    charges = PayAttempt.select(PayAttempt.created_at, PayAttempt.store, PayAttempt.provider,
                                PayAttempt.amount_fen).where(PayAttempt.status == "booked",
                                                             p.during(PayAttempt.created_at, PayAttempt.store))
    for created, store_id, provider, amount in p.of_stores(charges, PayAttempt.store).tuples():
        found = row(clock.day_in(created, zones.get(store_id)), provider)
        found["charges"] += 1
        found["charged_fen"] += int(amount)
    refunds = (PayRefund.select(PayRefund.created_at, PayAttempt.store, PayAttempt.provider, PayRefund.amount_fen)
               .join(PayAttempt).where(PayRefund.status == "refunded",
                                       p.during(PayRefund.created_at, PayAttempt.store)))
    for created, store_id, provider, amount in p.of_stores(refunds, PayAttempt.store).tuples():
        found = row(clock.day_in(created, zones.get(store_id)), provider)
        found["refunds"] += 1
        found["refunded_fen"] += int(amount)
    done = reconciled_days()
    for (day, provider), figures in sorted(table.items()):
        bill = done.get(provider, {}).get(day)
        yield {"day": day, "provider": provider, **figures,
               "net_fen": figures["charged_fen"] - figures["refunded_fen"],
               "provider_fee_fen": int(bill["fee_fen"]) if bill else None,
               "reconciled": (_("yes") if not bill["differences"] else _("{n} differences").format(
                   n=bill["differences"])) if bill else _("no")}

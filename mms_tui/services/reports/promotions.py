"""Campaign results (营销效果) per promotion and coupon campaign: what each promotion brought in over a period.

One row per promotion of the rules in force, or seen in the period (a coupon issued for it, a sale it applied to):

* **coupons** issued in the period (by their issue day, the chain's; coupons belong to no store: a member may use
  one anywhere, so a store's report counts the chain's), of those how many paid a sale (``redeemed``, and the
  rate in percent); coupons taken back since (a points gift refunded) are issued but never redeemed;
* **members** reached: those issued one of its coupons in the period, and those whose sale it applied to;
* **sales** in the period (at the report's stores, paid, not refunded) it applied to, the **discount** it gave
  there (what it took off, from each sale's own record of the promotions applied), their **revenue** (what each
  sale kept: its partial refunds taken off, as a whole refund leaves it out) and average ticket, beside the average
  ticket of the members' other sales in the period (walk-ins left out);
* **win-back** coupons (``mms coupons issue --winback``) issued in the period, and how many of their members came
  back — a paid sale or a check-in — within the rules' ``messages.results_days`` of the coupon.

Sales are found by the checkout index (kind, local_day); each one's packed record is unpacked (about 2 µs) and
parsed only when it lists a promotion (``"promotions": []`` is how the others' record says none). Not the sale's
discount: a price level may charge more than the list price, so a sale a promotion applied to may show none.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.models import Coupon, Sale, Transaction, Visit
from mms_tui.services.ledger import results
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.reports.period import Period, Row

#: how a checkout's stored result says no promotion applied (operations.result_json writes it this way)
_NONE_APPLIED = '"promotions": []'


def _stats() -> dict:
    return {"issued": 0, "redeemed": 0, "members": set(), "sales": 0, "discount": 0, "revenue": 0,
            "member_sales": 0, "member_revenue": 0, "winback": [], "came_back": 0}


def promotions(p: Period, by: str = "day") -> Iterator[Row]:
    """Each promotion's campaign results in the period (see the module)."""
    rules = load_rules()
    days = rules.messages.results_days
    names = {promo.code: promo.name for promo in rules.promotions}
    stats: dict[str, dict] = defaultdict(_stats)
    for code in names:  # every promotion of the rules has its row, even an idle one
        stats.setdefault(code, _stats())
    issued = (Coupon.select(Coupon.promotion, Coupon.member, Coupon.reason, Coupon.issued_at, Transaction.kind)
              .join(Transaction, peewee.JOIN.LEFT_OUTER, on=(Coupon.transaction == Transaction.id))
              .where(p.during(Coupon.issued_at, Coupon.store)))
    for promotion, member, reason, at, used_by in issued.tuples():
        s = stats[promotion]
        s["issued"] += 1
        if used_by == "checkout":
            s["redeemed"] += 1
        if member is not None:
            s["members"].add(member)
            if reason == "winback":
                s["winback"].append((member, at))
    from mms_tui.services.reports.sales import parts_given_back

    given_back = parts_given_back()  # a sale refunded in part counts what it kept, as a whole refund counts none
    sales = (Sale.select(Sale.member, Sale.total_fen, Transaction.txid, Transaction.result).join(Transaction)
             .where(p.kind_filter("checkout") & (Sale.status == "paid")))
    member_sales = member_revenue = 0
    for member, total, txid, stored in sales.tuples():
        total = int(total) - given_back.get(txid, 0)
        if member is not None:
            member_sales += 1
            member_revenue += total
        text = results.unpack(stored, of=txid)
        if _NONE_APPLIED in text:
            continue
        taken: dict[str, int] = defaultdict(int)
        for applied in json.loads(text).get("promotions", []):
            taken[applied["promotion"]] += int(applied["amount_fen"])
        for promotion, amount in taken.items():
            s = stats[promotion]
            s["sales"] += 1
            s["discount"] += amount
            s["revenue"] += total
            if member is not None:
                s["members"].add(member)
                s["member_sales"] += 1
                s["member_revenue"] += total
    _came_back(stats, days)
    for code in sorted(stats):
        s = stats[code]
        others = member_sales - s["member_sales"]
        yield {"promotion": code, "name": names.get(code, ""), "coupons_issued": s["issued"],
               "coupons_redeemed": s["redeemed"],
               "redeem_rate_pct": round(100 * s["redeemed"] / s["issued"], 1) if s["issued"] else None,
               "members": len(s["members"]), "sales": s["sales"], "discount_fen": s["discount"],
               "revenue_fen": s["revenue"], "avg_ticket_fen": s["revenue"] // s["sales"] if s["sales"] else None,
               "others_avg_ticket_fen": (member_revenue - s["member_revenue"]) // others if others else None,
               "winback_issued": len(s["winback"]), f"came_back_in_{days}d": s["came_back"]}


def _came_back(stats: dict[str, dict], days: int) -> None:
    """Each promotion's win-back coupons whose member paid for a sale or checked in within ``days`` of it."""
    wanted = {member for s in stats.values() for member, _at in s["winback"]}
    if not wanted:
        return
    first = min(at for s in stats.values() for _member, at in s["winback"])
    moments: dict[int, list[dt.datetime]] = defaultdict(list)
    ids = sorted(wanted)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for member, at in (Sale.select(Sale.member, Sale.created_at)
                           .where(Sale.member.in_(part) & (Sale.status == "paid") & (Sale.created_at >= first))
                           .tuples()):
            moments[member].append(at)
        for member, at in (Visit.select(Visit.member, Visit.created_at)
                           .where(Visit.member.in_(part) & (Visit.status == "ok") & (Visit.created_at >= first))
                           .tuples()):
            moments[member].append(at)
    window = dt.timedelta(days=days)
    for s in stats.values():
        s["came_back"] = sum(1 for member, at in s["winback"]
                             if any(at <= seen < at + window for seen in moments.get(member, ())))

"""The ``commissions`` section of the rules document (提成), read and written like the other sections: every problem
named by its place (``commissions.rules[2].percent: must be between 0.01 and 100``).

::

    [[commissions.rules]]
    code = "HAIR-SENIOR"      # required, unique: the rule a commission row names
    kind = "service"          # service | product | topup | card
    items = ["HAIR"]          # or categories = ["美发"]; topup and card: card_types = ["SV"]
    levels = ["高级"]          # only staff at these levels (left out: any level)
    customer = "member"       # any (default) | member | walk_in
    percent = 12              # of the line's money paid ("12.5" allowed) — or amount = "20", yuan per unit
    include_points = false    # count the part of the bill paid with points (default false)
    include_bonus = false     # count the part paid from stored-value bonus value (default false)

The first matching rule wins, most specific first (:attr:`CommissionRule.specificity`), then in document order.
"""

from __future__ import annotations

from typing import Any

from mms_tui.i18n import _
from mms_tui.services.base.text import plain_amount
from mms_tui.services.loyalty.rules import (
    COMMISSION_CUSTOMERS,
    COMMISSION_KINDS,
    CommissionRule,
    CommissionRules,
)

_KEYS = ("code", "name", "kind", "items", "categories", "card_types", "levels", "customer", "percent", "amount",
         "include_points", "include_bonus")


def parse_commissions(r: Any, value: Any) -> CommissionRules:
    """``r`` is the rules reader (rules_reader._Reader): it keeps every problem with its place."""
    path = "commissions"
    t = r.table(value, path, ("rules",))
    rules: list[CommissionRule] = []
    codes: set[str] = set()
    for rule_path, raw in r.items(t.get("rules"), f"{path}.rules"):
        d = r.table(raw, rule_path, _KEYS, ("code", "kind"))
        code = r.code(d["code"], f"{rule_path}.code") if "code" in d else ""
        if code in codes:
            r.problem(f"{rule_path}.code", _("commission rule {code} is listed twice").format(code=code))
        elif code:
            codes.add(code)
        kind = r.choice(d["kind"], f"{rule_path}.kind", COMMISSION_KINDS) if "kind" in d else "service"
        lines = kind in ("service", "product")
        for key in ("items", "categories") if not lines else ("card_types",):
            if key in d:
                r.problem(f"{rule_path}.{key}", _("does not apply to a commission rule of kind {kind}").format(
                    kind=kind))
        if ("percent" in d) == ("amount" in d):
            r.problem(rule_path, _("say either percent (of the money paid) or amount (yuan per unit), not both"))
        rules.append(CommissionRule(
            kind=kind,
            code=code,
            name=r.text(d["name"], f"{rule_path}.name", max_len=30) if "name" in d else "",
            items=r.texts(d.get("items"), f"{rule_path}.items", codes=True) if lines else (),
            categories=r.texts(d.get("categories"), f"{rule_path}.categories") if lines else (),
            card_types=r.texts(d.get("card_types"), f"{rule_path}.card_types", codes=True) if not lines else (),
            levels=r.texts(d.get("levels"), f"{rule_path}.levels"),
            customer=r.choice(d["customer"], f"{rule_path}.customer", COMMISSION_CUSTOMERS)
            if "customer" in d else "any",
            percent_bp=r.hundredths(d["percent"], f"{rule_path}.percent", 1, 10_000, _("a percent"))
            if "percent" in d else 0,
            amount_fen=r.money(d["amount"], f"{rule_path}.amount", positive=True) if "amount" in d else 0,
            include_points=r.flag(d["include_points"], f"{rule_path}.include_points")
            if "include_points" in d else False,
            include_bonus=r.flag(d["include_bonus"], f"{rule_path}.include_bonus") if "include_bonus" in d else False,
        ))
    return CommissionRules(tuple(rules))


def commissions_to_dict(section: CommissionRules) -> dict[str, Any]:
    """The section as plain values, leaving out what is at its default."""
    out = []
    for c in section.rules:
        one: dict[str, Any] = {"code": c.code, "kind": c.kind}
        if c.name:
            one["name"] = c.name
        for key in ("items", "categories", "card_types", "levels"):
            if getattr(c, key):
                one[key] = list(getattr(c, key))
        if c.customer != "any":
            one["customer"] = c.customer
        if c.amount_fen:
            one["amount"] = plain_amount(c.amount_fen)
        else:
            one["percent"] = c.percent_bp // 100 if c.percent_bp % 100 == 0 else plain_amount(c.percent_bp)
        if c.include_points:
            one["include_points"] = True
        if c.include_bonus:
            one["include_bonus"] = True
        out.append(one)
    return {"rules": out}

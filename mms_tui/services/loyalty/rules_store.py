"""The rules in force, kept in the database: read (:func:`load_rules`), checked against what they name there
(:func:`check_references`) and saved by a manager (:func:`save_rules`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import CardType, Config, Product, ServiceItem, Staff, Store, Tier
from mms_tui.services.base.errors import InvalidInput, RulesInvalid
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.ledger.operations import audit
from mms_tui.services.loyalty.rules import Rules, default_rules
from mms_tui.services.loyalty.rules_files import rules_to_dict
from mms_tui.services.loyalty.rules_reader import parse_rules, parse_with_problems
from mms_tui.services.staff.permissions import require

#: the ``Config`` key the current rules are stored under, as JSON
CONFIG_KEY = "loyalty_rules"


#: the last document read and what it parsed to: (stored text, rules). Rules are immutable, so every caller may
#: share one; keyed by the exact text, so a change saved by any process is parsed the next time it is read.
_parsed: tuple[str, Rules] | None = None


def load_rules() -> Rules:
    """The rules in force: the saved document, or the defaults when none was saved.

    One keyed read of the ``Config`` row every time (so a document saved at another desk is in force at once,
    and a checkout reads it inside its own write transaction); parsed again only when its text changed."""
    global _parsed
    rows = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', (CONFIG_KEY,))
    if not rows:
        return default_rules()
    text = rows[0][0]
    cached = _parsed
    if cached is not None and cached[0] == text:
        return cached[1]
    try:
        rules = parse_rules(json.loads(text))
    except (RulesInvalid, json.JSONDecodeError) as exc:
        raise InvalidInput(_("The saved loyalty rules cannot be read ({error}); import them again with "
                             "mms rules import.").format(error=exc)) from None
    _parsed = (text, rules)
    return rules


def check_references(rules: Rules) -> list[str]:
    """Problems with what the document names in the database: tiers, stores, products and services."""
    problems: list[str] = []
    tiers = {t.code: t for t in Tier.select()}
    stores = {s.code for s in Store.select(Store.code)}
    items = {c for (c,) in Product.select(Product.code).tuples()} | {
        c for (c,) in ServiceItem.select(ServiceItem.code).tuples()}

    def tier(path: str, code: str | None) -> None:
        if code is not None and code not in tiers:
            problems.append(f"{path}: " + _("no tier {code} (tiers: {known})").format(
                code=code, known=", ".join(sorted(tiers))))

    for i, b in enumerate(rules.topup.bonuses, start=1):
        tier(f"topup.bonuses[{i}].tier", b.tier)
    for i, level in enumerate(rules.tiers.levels, start=1):
        tier(f"tiers.levels[{i}].tier", level.tier)
    if rules.tiers.basis != "spend":
        named = {level.tier: level for level in rules.tiers.levels}
        for code, row in sorted(tiers.items(), key=lambda kv: kv[1].rank):
            level = named.get(code)
            if row.rank > 0 and (level is None or level.upgrade_at is None):
                problems.append("tiers.levels: " + _("tier {code} needs upgrade_at when the basis is {basis}").format(
                    code=code, basis=rules.tiers.basis))
    for i, p in enumerate(rules.promotions, start=1):
        for j, store in enumerate(p.stores, start=1):
            if store not in stores:
                problems.append(f"promotions[{i}].stores[{j}]: " + _("no store {code}").format(code=store))
        for j, code in enumerate(p.items, start=1):
            if code not in items:
                problems.append(f"promotions[{i}].items[{j}]: " + _("no product or service {code}").format(code=code))
        if p.item is not None and p.item not in items:
            problems.append(f"promotions[{i}].item: " + _("no product or service {code}").format(code=p.item))
    card_types = {c for (c,) in CardType.select(CardType.code).tuples()}
    for i, c in enumerate(rules.commissions.rules, start=1):
        for j, code in enumerate(c.items, start=1):
            if code not in items:
                problems.append(f"commissions.rules[{i}].items[{j}]: " + _("no product or service {code}").format(
                    code=code))
        for j, code in enumerate(c.card_types, start=1):
            if code not in card_types:
                problems.append(f"commissions.rules[{i}].card_types[{j}]: " + _("no card type {code}").format(
                    code=code))
    return problems


def save_rules(rules: Rules | Mapping[str, Any], staff: Staff, *, dry_run: bool = False) -> Rules:
    """Validate (the document and what it names in the database) and make it the rules in force.

    A manager's decision: cashiers are refused. Nothing is written unless everything is valid (``dry_run``: check
    only); the change leaves a ``rules.save`` audit event with the new document."""
    require(staff, "rules.edit")
    return store_rules(rules, staff, dry_run=dry_run)


def store_rules(rules: Rules | Mapping[str, Any], staff: Staff | None, *, dry_run: bool = False,
                why: str | None = None) -> Rules:
    """:func:`save_rules` without its permission check, for the services that change a part of the rules on a
    decision they checked themselves (a tier edited, the default tiers' terms at set-up: ``staff`` None, ``why``
    saying what made the change). Inside the caller's write transaction when there is one."""
    problems: list[str] = []
    if not isinstance(rules, Rules):
        rules, problems = parse_with_problems(rules)
    problems += check_references(rules)
    if problems:
        raise RulesInvalid(problems)
    if dry_run:
        return rules
    document = rules_to_dict(rules)
    text = json.dumps(document, ensure_ascii=False)
    with write_transaction():
        before = Config.get_or_none(Config.key == CONFIG_KEY)
        Config.insert(key=CONFIG_KEY, value=text).on_conflict(
            conflict_target=[Config.key], update={Config.value: text}).execute()
        payload: dict[str, Any] = {"rules": document, "replaced": before is not None}
        if why:
            payload["why"] = why
        audit("rules.save", "config:" + CONFIG_KEY, staff=staff, store=None, payload=payload)
    return rules


def audit_migrated_rules(why: str) -> None:
    """After a migration changed the stored document (12: tier terms moved in), record it as the last audited
    save, so ``mms check`` holds the document to what the migration made. Nothing when nothing differs."""
    from mms_tui.services.ledger.chain import canonical

    rows = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', (CONFIG_KEY,))
    if not rows:
        return
    saved = fetch_rows('SELECT "payload" FROM "audit_event" WHERE "action" = ? ORDER BY "id" DESC LIMIT 1',
                       ("rules.save",))
    document = json.loads(rows[0][0])
    if saved and canonical(json.loads(saved[0][0]).get("rules")) == canonical(document):
        return
    audit("rules.save", "config:" + CONFIG_KEY, staff=None, store=None,
          payload={"rules": document, "replaced": True, "why": why})

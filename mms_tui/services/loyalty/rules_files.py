"""The rules as a document and as a file: the plain values TOML and JSON hold (:func:`rules_to_dict`), their
text, and rules files read and written."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Any

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.files import write_file
from mms_tui.services.base.text import plain_amount
from mms_tui.services.loyalty.rules import Promotion, Rules
from mms_tui.services.loyalty.rules_bookings import bookings_to_dict
from mms_tui.services.loyalty.rules_commissions import commissions_to_dict
from mms_tui.services.loyalty.rules_messages import messages_to_dict
from mms_tui.services.loyalty.rules_reader import parse_rules
from mms_tui.services.loyalty.rules_segments import segments_to_dict

#: the formats a rules file is written in and read from
FORMATS = ("toml", "json")


# ------------------------------------------------------------------------------------------------ writing


def rules_to_dict(rules: Rules) -> dict[str, Any]:
    """The document as plain values (strings, whole numbers, booleans, lists, tables): what TOML and JSON hold.

    Money is a string of yuan; absent optional values are left out (TOML has no null)."""
    p = rules.points
    points: dict[str, Any] = {
        "per_yuan": _number(p.earn_per_yuan_x100),
        "principal_earns": p.principal_earns,
        "bonus_earns": p.bonus_earns,
        "points_earn": p.points_earn,
        "rounding": p.rounding,
        "expire_months": p.expire_months,
        "redeem_per_yuan": p.redeem_per_yuan,
        "redeem_min_points": p.redeem_min_points,
        "redeem_max_share": p.redeem_max_share_pct,
        "category_multipliers": {c: _number(m) for c, m in p.category_multipliers},
        "days": [_drop_none({"name": d.name, "multiplier": _number(d.multiplier_pct),
                             "weekdays": list(d.weekdays) or None,
                             "dates": [x.isoformat() for x in d.dates] or None}) for d in p.days],
        "gifts": [_drop_none({"code": g.code, "name": g.name, "points": g.points, "coupon": g.coupon,
                              "valid_days": g.valid_days}) for g in p.gifts],
    }
    topup = {
        "spend_order": rules.topup.spend_order,
        "bonuses": [_drop_none({"threshold": plain_amount(b.threshold_fen), "bonus": plain_amount(b.bonus_fen),
                                "tier": b.tier, "valid_from": _iso(b.valid_from), "valid_until": _iso(b.valid_until)})
                    for b in rules.topup.bonuses],
    }
    t = rules.tiers
    tiers = {
        "basis": t.basis, "window_months": t.window_months, "downgrade": t.downgrade, "grace_months": t.grace_months,
        "levels": [_drop_none({
            "tier": level.tier,
            "discount": _number(10_000 - level.price_bp) if level.price_bp != 10_000 else None,
            "points_multiplier": _number(level.points_pct) if level.points_pct != 100 else None,
            "category_discounts": {c: _number(10_000 - bp) for c, bp in level.category_discounts} or None,
            "upgrade_at": (plain_amount(level.upgrade_at) if t.basis == "spend" else level.upgrade_at)
            if level.upgrade_at is not None else None,
            "keep_at": (plain_amount(level.keep_at) if t.basis == "spend" else level.keep_at)
            if level.keep_at is not None else None,
            "birthday_gift": level.birthday_gift,
        }) for level in t.levels],
    }
    b = rules.birthday
    f = rules.fees
    fees = _drop_none({
        "joining": plain_amount(f.joining_fen), "annual": plain_amount(f.annual_fen), "annual_due": f.annual_due,
        "annual_due_date": f"{f.annual_due_date[0]:02d}-{f.annual_due_date[1]:02d}" if f.annual_due_date else None,
        "grace_days": f.grace_days, "late_fee": plain_amount(f.late_fen),
    })
    document = {
        "version": rules.version,
        "points": points,
        "topup": topup,
        "tiers": tiers,
        "promotions": [_promotion_dict(x) for x in rules.promotions],
        "birthday": _drop_none({"window": b.window, "promotion": b.promotion, "gift": b.gift}),
        "fees": fees,
    }
    if rules.commissions.rules:  # left out when empty: documents saved before commissions read the same
        document["commissions"] = commissions_to_dict(rules.commissions)
    if bookings_to_dict(rules.bookings):  # likewise
        document["bookings"] = bookings_to_dict(rules.bookings)
    if messages_to_dict(rules.messages):  # likewise
        document["messages"] = messages_to_dict(rules.messages)
    if segments_to_dict(rules.segments):  # likewise
        document["segments"] = segments_to_dict(rules.segments)
    return document


def _number(hundredths: int) -> int | str:
    """How a multiplier or percent is written back: 2 for a whole number, '1.5' otherwise."""
    return hundredths // 100 if hundredths % 100 == 0 else plain_amount(hundredths)


def _promotion_dict(p: Promotion) -> dict[str, Any]:
    out: dict[str, Any] = {"code": p.code, "kind": p.kind, "auto": p.auto}
    if p.name:
        out["name"] = p.name
    if p.kind in ("amount", "threshold"):
        if p.kind == "threshold":
            out["threshold"] = plain_amount(p.threshold_fen)
        out["amount"] = plain_amount(p.amount_fen)
        if p.repeat:
            out["repeat"] = True
    elif p.kind == "percent":
        out["percent"] = _number(p.percent_bp)
    elif p.kind == "free_item":
        out["item"] = p.item
        if p.threshold_fen:
            out["threshold"] = plain_amount(p.threshold_fen)
    else:
        out["buy"] = p.buy
    out["stacking"] = p.stacking
    optional = {
        "valid_from": _iso(p.valid_from),
        "valid_until": _iso(p.valid_until),
        "weekdays": list(p.weekdays) or None,
        "hours": f"{_hhmm(p.hours[0])}-{_hhmm(p.hours[1])}" if p.hours else None,
        "stores": list(p.stores) or None,
        "categories": list(p.categories) or None,
        "items": list(p.items) or None,
        "per_member_limit": p.per_member_limit or None,
    }
    out.update(_drop_none(optional))
    return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# ------------------------------------------------------------------------------------------------ files


_TOML_HEADER = (
    "# mms loyalty rules (会员规则). Money in yuan; weekdays 1 = Monday … 7 = Sunday.\n"
    "# Edit, then load with: mms rules import FILE\n\n"
)


def rules_to_text(rules: Rules, fmt: str = "toml") -> str:
    """The document as a TOML or JSON file's text."""
    import tomli_w

    data = rules_to_dict(rules)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt != "toml":
        raise InvalidInput(_("Rules are written as toml or json, not {fmt!r}.").format(fmt=fmt))
    return _TOML_HEADER + tomli_w.dumps(data)


def document_from_text(text: str, fmt: str | None = None, *, source: str = "") -> dict[str, Any]:
    """The plain document in a TOML or JSON text (``fmt`` None: JSON when it starts with ``{``, else TOML)."""
    text = text.removeprefix("\ufeff")
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    where = f"{source}: " if source else ""
    if fmt not in FORMATS:
        raise InvalidInput(_("Rules are read from toml or json, not {fmt!r}.").format(fmt=fmt))
    try:
        if fmt == "json":
            data = json.loads(text)
            if not isinstance(data, dict):
                raise InvalidInput(_("{where}the rules must be a JSON object").format(where=where))
        else:
            data = tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(_("{where}not valid JSON: {error}").format(where=where, error=exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(_("{where}not valid TOML: {error}").format(where=where, error=exc)) from None
    except RecursionError:  # [[[[…]]]] a hundred thousand deep: no rules document nests more than a few levels
        raise InvalidInput(_("{where}nested too deeply to be a rules document").format(where=where)) from None
    if not data:
        # an empty file (or only comments) would silently put every rule back to its default
        raise InvalidInput(_("{where}there are no rules in it; to go back to the defaults on purpose, import a "
                             "document that says only version = 1").format(where=where))
    return data


def rules_from_text(text: str, fmt: str | None = None, *, source: str = "") -> Rules:
    """The rules in a TOML or JSON text; :class:`RulesInvalid` lists every problem."""
    return parse_rules(document_from_text(text, fmt, source=source))


def format_for(path: str, fmt: str | None = None) -> str:
    """The format asked for, else the one a file name says (``.json``), else TOML."""
    if fmt is not None:
        return fmt
    return "json" if str(path).lower().endswith(".json") else "toml"


def read_rules_file(path: str | Path, fmt: str | None = None) -> dict[str, Any]:
    """The plain document in a rules file as a manager saved it (UTF-8, with or without BOM); TOML unless it is
    ``.json`` or starts with ``{``. :func:`~mms_tui.services.loyalty.rules_store.save_rules` validates it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(_("Cannot read {file}: {error}").format(file=path, error=exc.strerror or exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(_("{file} is not UTF-8 text (byte {offset}); save it as UTF-8.").format(
            file=path, offset=exc.start)) from None
    if fmt is None and path.suffix.lower() in (".json", ".toml"):
        fmt = path.suffix.lower()[1:]
    return document_from_text(text, fmt, source=str(path))


def write_rules_file(rules: Rules, path: str | Path, fmt: str | None = None) -> str:
    """Write the document to ``path`` whole or not at all, private, as every file mms writes
    (:func:`mms_tui.services.base.files.write_file`: an error leaves the target as it was and no temporary
    file); returns the format used."""
    fmt = format_for(str(path), fmt)
    write_file(path, rules_to_text(rules, fmt).encode("utf-8"))
    return fmt

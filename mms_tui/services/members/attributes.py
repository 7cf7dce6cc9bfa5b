"""What a shop keeps about a member beyond the record itself: tags, the shop's own fields, marketing consent.

* **Tags** (标签): words a member is filed under; the desk adds and takes them off, and finds members by them.
* **Member fields** (自定义字段): fields a manager defines (text, number, date, or one of a list of choices); the desk
  sets a member's value, checked against the field's kind.
* **Consent** (营销授权) per channel (SMS, email): each yes or no is kept with when it was given and who took it;
  the latest is in force. Member messages later send only where it is yes.

Every change is audited on the member (a tag, a value, a consent are personal data: erasure removes tags and values,
and keeps the consent record, which names no one).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import (
    CONSENT_CHANNELS,
    FIELD_KINDS,
    Consent,
    Member,
    MemberField,
    MemberFieldValue,
    MemberTag,
    Staff,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import resolve_member, resolve_store
from mms_tui.services.base.text import normalise_query, parse_date
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require

# --- tags --------------------------------------------------------------------------------------------------------


def clean_tag(text: str) -> str:
    tag = normalise_query(text or "").lstrip("#")
    if not tag or len(tag) > 30 or "," in tag:
        raise InvalidInput(_("Tag: 1 to 30 characters, no comma, not {value!r}.").format(value=(text or "")[:40]))
    return tag


def tags_of(member: Member | int | str) -> list[str]:
    m = resolve_member(member)
    return [t for (t,) in MemberTag.select(MemberTag.tag).where(MemberTag.member == m.id).order_by(MemberTag.tag)
            .tuples()]


def _audit_member(action: str, m: Member, staff: Staff, payload: dict) -> None:
    audit(action, f"member:{m.id}", staff=staff, store=resolve_store(None, staff), payload=payload)


def tag_member(member: Member | int | str, staff: Staff, tags: list[str]) -> list[str]:
    """File the member under ``tags`` (those it already has stay as they are): the member's tags after."""
    m = resolve_member(member)
    wanted = sorted({clean_tag(t) for t in tags})
    with write_transaction():
        before = tags_of(m)
        new = [t for t in wanted if t not in before]
        if new:
            MemberTag.insert_many([{"member": m.id, "tag": t} for t in new]).execute()
            _audit_member("member.tag", m, staff, {"before": before, "after": sorted(before + new)})
        return tags_of(m)


def untag_member(member: Member | int | str, staff: Staff, tags: list[str]) -> list[str]:
    """Take ``tags`` off the member (one it does not have is no error): the member's tags after."""
    m = resolve_member(member)
    gone = {clean_tag(t) for t in tags}
    with write_transaction():
        before = tags_of(m)
        if gone & set(before):
            MemberTag.delete().where((MemberTag.member == m.id) & MemberTag.tag.in_(sorted(gone))).execute()
            _audit_member("member.untag", m, staff, {"before": before, "after": tags_of(m)})
        return tags_of(m)


def members_tagged(tag: str) -> list[Member]:
    """The members filed under ``tag``, by name."""
    return list(Member.select().join(MemberTag).where(MemberTag.tag == clean_tag(tag)).order_by(Member.name,
                                                                                                Member.id))


def tag_counts() -> list[tuple[str, int]]:
    """Every tag in use, with how many members carry it."""
    from peewee import fn

    return list(MemberTag.select(MemberTag.tag, fn.COUNT(MemberTag.id)).group_by(MemberTag.tag)
                .order_by(MemberTag.tag).tuples())


# --- the shop's own member fields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDefinition:
    code: str
    name: str
    kind: str
    choices: tuple[str, ...]
    active: bool


def _definition(row: MemberField) -> FieldDefinition:
    return FieldDefinition(row.code, row.name, row.kind, tuple(json.loads(row.choices or "[]")), bool(row.active))


def field_definitions(*, inactive: bool = False) -> list[FieldDefinition]:
    query = MemberField.select().order_by(MemberField.code)
    if not inactive:
        query = query.where(MemberField.active == True)  # noqa: E712 - peewee builds SQL from ==
    return [_definition(row) for row in query]


def define_field(staff: Staff, code: str, name: str, kind: str, choices: list[str] | None = None) -> FieldDefinition:
    """A new member field. Needs a manager."""
    require(staff, "members.fields")
    code_text = normalise_query(code or "").upper().replace(" ", "_")
    name_text = normalise_query(name or "")
    if not code_text or len(code_text) > 20:
        raise InvalidInput(_("Code: required, at most 20 characters."))
    if not name_text or len(name_text) > 50:
        raise InvalidInput(_("Name: required, at most 50 characters."))
    if kind not in FIELD_KINDS:
        raise InvalidInput(_("Kind must be one of {kinds}, not {value!r}.").format(kinds=", ".join(FIELD_KINDS),
                                                                                  value=kind))
    options = [normalise_query(c) for c in (choices or []) if normalise_query(c)]
    if kind == "choice" and (len(options) < 2 or len(set(options)) != len(options)):
        raise InvalidInput(_("Choices: a choice field needs two or more different choices."))
    if kind != "choice" and options:
        raise InvalidInput(_("Choices: only a choice field has them."))
    with write_transaction():
        if MemberField.get_or_none(MemberField.code == code_text) is not None:
            raise InvalidInput(_("Code: {code} is already a member field.").format(code=code_text))
        row = MemberField.create(code=code_text, name=name_text, kind=kind, choices=json.dumps(options,
                                                                                              ensure_ascii=False))
        definition = _definition(row)
        audit("member_field.add", f"member_field:{row.id}", staff=staff, store=None,
              payload={"before": None, "after": {"code": code_text, "name": name_text, "kind": kind,
                                                 "choices": options}})
        return definition


def _any_field(code: str) -> MemberField:
    row = MemberField.get_or_none(MemberField.code == normalise_query(code or "").upper())
    if row is None:
        raise InvalidInput(_("No member field has the code {code}.").format(code=code))
    return row


def rename_field(staff: Staff, code: str, name: str) -> FieldDefinition:
    """A member field's name as the desk shows it (its code, kind and values stay). Needs a manager."""
    require(staff, "members.fields")
    name_text = normalise_query(name or "")
    if not name_text or len(name_text) > 50:
        raise InvalidInput(_("Name: required, at most 50 characters."))
    with write_transaction():
        row = _any_field(code)
        if row.name != name_text:
            MemberField.update(name=name_text).where(MemberField.id == row.id).execute()
            audit("member_field.edit", f"member_field:{row.id}", staff=staff, store=None,
                  payload={"before": {"name": row.name}, "after": {"name": name_text}})
        return _definition(MemberField.get_by_id(row.id))


def set_field_active(staff: Staff, code: str, active: bool) -> FieldDefinition:
    """Stop asking for a member field (the values kept stay, in the member document too) or ask again."""
    require(staff, "members.fields")
    with write_transaction():
        row = _any_field(code)
        if row.active != active:
            MemberField.update(active=active).where(MemberField.id == row.id).execute()
            audit("member_field.enable" if active else "member_field.disable", f"member_field:{row.id}",
                  staff=staff, store=None, payload={"before": {"active": row.active}, "after": {"active": active}})
        return _definition(MemberField.get_by_id(row.id))


def _field(code: str) -> MemberField:
    row = MemberField.get_or_none(MemberField.code == normalise_query(code or "").upper())
    if row is None or not row.active:
        raise InvalidInput(_("No member field has the code {code}.").format(code=code))
    return row


def _field_value(row: MemberField, value: str) -> str:
    """``value`` checked against the field's kind, in the plain form it is kept in."""
    text = normalise_query(value or "")
    if row.kind == "text":
        if len(text) > 200:
            raise InvalidInput(_("{field}: at most {most} characters.").format(field=row.name, most=200))
        return text
    if row.kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or abs(number) > 1e12:
            raise InvalidInput(_("{field}: {value!r} is not a number.").format(field=row.name, value=text[:40]))
        return text
    if row.kind == "date":
        try:
            day = parse_date(text)
        except InvalidInput:
            day = None
        if not isinstance(day, dt.date):
            raise InvalidInput(_("{field}: {value!r} is not a day (YYYY-MM-DD).").format(field=row.name,
                                                                                         value=text[:40]))
        return day.isoformat()
    choices = json.loads(row.choices or "[]")
    if text not in choices:
        raise InvalidInput(_("{field}: one of {choices}, not {value!r}.").format(
            field=row.name, choices=" / ".join(choices), value=text[:40]))
    return text


def field_values(member: Member | int | str) -> dict[str, str]:
    """The member's values, by field code."""
    m = resolve_member(member)
    return dict(MemberFieldValue.select(MemberField.code, MemberFieldValue.value).join(MemberField)
                .where(MemberFieldValue.member == m.id).order_by(MemberField.code).tuples())


def set_field(member: Member | int | str, staff: Staff, code: str, value: str) -> dict[str, str]:
    """Set (or with an empty ``value`` clear) one of the member's fields: the member's values after."""
    m = resolve_member(member)
    row = _field(code)
    with write_transaction():
        before = field_values(m)
        old = before.get(row.code)
        if not normalise_query(value or ""):
            if old is None:
                return before
            MemberFieldValue.delete().where((MemberFieldValue.member == m.id)
                                            & (MemberFieldValue.field == row.id)).execute()
        else:
            new = _field_value(row, value)
            if new == old:
                return before
            if old is None:
                MemberFieldValue.create(member=m.id, field=row.id, value=new)
            else:
                MemberFieldValue.update(value=new).where((MemberFieldValue.member == m.id)
                                                         & (MemberFieldValue.field == row.id)).execute()
        after = field_values(m)
        _audit_member("member.field", m, staff, {"field": row.code, "before": old, "after": after.get(row.code)})
        return after


# --- consent -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    channel: str
    given: bool | None  # None: never asked
    at: dt.datetime | None


def consent_of(member: Member | int | str) -> list[ConsentState]:
    """The consent in force on each channel: the answer recorded last (in the order recorded, whatever the clocks
    of the desks said), or never asked."""
    m = resolve_member(member)
    latest: dict[str, Consent] = {}
    for row in Consent.select().where(Consent.member == m.id).order_by(Consent.id):
        latest[row.channel] = row
    return [ConsentState(c, latest[c].given if c in latest else None, latest[c].at if c in latest else None)
            for c in CONSENT_CHANNELS]


def may_contact(member: Member | int | str, channel: str) -> bool:
    """Whether the member said yes on ``channel`` and has not withdrawn it since."""
    return any(s.channel == channel and s.given for s in consent_of(member))


def set_consent(member: Member | int | str, staff: Staff, channel: str, given: bool) -> list[ConsentState]:
    """Record the member's yes or no on ``channel`` now (the same answer again is kept once)."""
    if channel not in CONSENT_CHANNELS:
        raise InvalidInput(_("Channel must be one of {channels}, not {value!r}.").format(
            channels=", ".join(CONSENT_CHANNELS), value=channel))
    m = resolve_member(member)
    with write_transaction():
        current = next(s for s in consent_of(m) if s.channel == channel)
        if current.given is given:
            return consent_of(m)
        Consent.create(member=m.id, channel=channel, given=given, staff=staff)
        _audit_member("member.consent", m, staff, {"channel": channel, "before": current.given, "after": given})
        return consent_of(m)

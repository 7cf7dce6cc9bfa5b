"""A member's record as the desk edits it in one form (issue #17): how to reach them (address, email), what they
like (preferences), their tags, the shop's own fields, marketing consent per channel, and the price level they buy
at. Everything is checked before anything is written, so a bad email or a field value of the wrong kind refuses the
whole form with its field named and leaves the record as it was; then each part is written by the service that
owns it (each audited as it always is), only where it changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import CONSENT_CHANNELS, Member, Staff
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import resolve_member
from mms_tui.services.catalogue.prices import find_level
from mms_tui.services.members.attributes import (
    _field,
    _field_value,
    clean_tag,
    consent_of,
    field_definitions,
    field_values,
    set_consent,
    set_field,
    tag_member,
    tags_of,
    untag_member,
)
from mms_tui.services.members.profile import clean_email, clean_text, update_member
from mms_tui.services.staff.permissions import require


@dataclass(frozen=True)
class FieldShown:
    code: str
    name: str
    kind: str
    choices: tuple[str, ...]
    value: str


@dataclass(frozen=True)
class MemberRecord:
    member_id: int
    name: str
    address: str
    email: str
    preferences: str
    tags: tuple[str, ...]
    #: channel → True (yes), False (no), None (never asked)
    consent: Mapping[str, bool | None]
    fields: tuple[FieldShown, ...]
    price_level: str  # its code, '' for none


def member_record(member: Member | int | str) -> MemberRecord:
    m = resolve_member(member)
    values = field_values(m)
    fields = tuple(FieldShown(d.code, d.name, d.kind, tuple(d.choices), values.get(d.code, ""))
                   for d in field_definitions())
    return MemberRecord(m.id, m.name, m.address, m.email, m.preferences, tuple(tags_of(m)),
                        {s.channel: s.given for s in consent_of(m)}, fields,
                        m.price_level.code if m.price_level_id is not None else "")


def save_record(member: Member | int | str, staff: Staff, txid: str, *, address: str, email: str, preferences: str,
                tags: Sequence[str], consent: Mapping[str, bool | None], fields: Mapping[str, str],
                price_level: str) -> MemberRecord:
    """Make the record say this (what did not change is not touched). A consent left unanswered (None) stays
    unanswered; a price level is a manager's decision (refused for a cashier only when it changes)."""
    m = resolve_member(member)
    now = member_record(m)
    contact = {"address": clean_text(address, _("Address"), 200), "email": clean_email(email),
               "preferences": clean_text(preferences, _("Preferences"), 500)}
    changes: dict[str, object] = {k: v for k, v in contact.items() if v != getattr(now, k)}
    level = (price_level or "").strip().upper()
    if level != now.price_level:
        require(staff, "catalogue.edit")
        changes["price_level"] = find_level(level).code if level else ""
    wanted_tags = sorted({clean_tag(t) for t in tags if t.strip()})
    for channel, given in consent.items():
        if channel not in CONSENT_CHANNELS:
            raise InvalidInput(_("Channel must be one of {channels}, not {value!r}.").format(
                channels=", ".join(CONSENT_CHANNELS), value=channel))
        if given is None and now.consent.get(channel) is not None:
            raise InvalidInput(_("Consent: an answer given stays on record; record a no instead."))
    current = {f.code: f.value for f in now.fields}
    for code, value in fields.items():
        if value.strip():
            _field_value(_field(code), value)  # checked now: nothing is written when one is wrong
    if changes:
        update_member(m, staff, txid, **changes)
    with write_transaction():
        added = [t for t in wanted_tags if t not in now.tags]
        gone = [t for t in now.tags if t not in wanted_tags]
        if added:
            tag_member(m, staff, added)
        if gone:
            untag_member(m, staff, gone)
        for channel, given in consent.items():
            if given is not None and given != now.consent.get(channel):
                set_consent(m, staff, channel, given)
        for code, value in fields.items():
            if value.strip() != current.get(_field(code).code, ""):
                set_field(m, staff, code, value)
    return member_record(m)

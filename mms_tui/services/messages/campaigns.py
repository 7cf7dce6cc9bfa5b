"""群发: one message to many members — a segment, a tag or a file of phone numbers — previewed before a manager
confirms it: how many members it reaches, how many have said yes on its channel, the SMS parts it costs and the
text as one real member will read it. Confirming writes the campaign and every member's message in one
transaction (the worker sends them, each checked against consent again at the moment it goes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mms_tui import clock
from mms_tui.db import bulk_insert, write_transaction
from mms_tui.i18n import _
from mms_tui.models import Campaign, Member, MemberTag, Message, Staff, Store
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.base.text import normalise_phone
from mms_tui.services.ledger.operations import audit
from mms_tui.services.loyalty.coupons import members_in_segment
from mms_tui.services.messages.templates import OPT_OUT, fill, sms_parts, template_problems
from mms_tui.services.staff.permissions import require

CHANNELS = ("sms", "email")
CHUNK = 5000


@dataclass(frozen=True)
class CampaignPreview:
    audience: str
    channel: str
    members: int  # everyone the audience names
    reachable: int  # of them: active, with an address on the channel and consent on it today
    sms_parts: int  # billed parts for the reachable (0 for email)
    sample_member: str
    sample_text: str
    unknown_phones: tuple[str, ...] = ()


def audience_members(audience: str) -> tuple[list[int], list[str]]:
    """Member ids the audience names, and the phones in a file that match no member."""
    kind, _sep, name = audience.partition(":")
    if kind == "segment" and name:
        return members_in_segment(name, clock.today()), []
    if kind == "tag" and name:
        return sorted({m for (m,) in MemberTag.select(MemberTag.member).where(MemberTag.tag == name).tuples()}), []
    if kind == "file" and name:
        try:
            lines = Path(name).read_bytes().decode("utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(_("Cannot read {file}: {reason}").format(file=name, reason=exc)) from None
        phones = [normalise_phone(line.split(",")[0]) for line in lines if line.split(",")[0].strip()]
        phones = [p for p in phones if p.isdigit()]
        found: dict[str, int] = {}
        for start in range(0, len(phones), CHUNK):
            found.update(Member.select(Member.phone, Member.id)
                         .where(Member.phone.in_(phones[start:start + CHUNK])).tuples())
        return sorted(set(found.values())), [p for p in dict.fromkeys(phones) if p not in found]
    raise InvalidInput(_("Say who: segment:NAME, tag:NAME or file:PATH, not {value!r}.").format(value=audience))


def _reachable(ids: list[int], channel: str) -> list[tuple[int, str, str, int | None]]:
    """(id, name, address, home store) of the members who may get a campaign on ``channel`` today."""
    found = []
    address = "phone" if channel == "sms" else "email"
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ",".join("?" * len(chunk))
        found += fetch_rows(
            f'SELECT m."id", m."name", m."{address}", m."home_store_id" FROM "member" m '
            f'WHERE m."id" IN ({marks}) AND m."status" = ? AND m."{address}" <> ? '
            f'AND (SELECT c."given" FROM "consent" c WHERE c."member_id" = m."id" AND c."channel" = ? '
            f'ORDER BY c."id" DESC LIMIT 1) = ? ORDER BY m."id"', (*chunk, "active", "", channel, True))
    return found


def _check(channel: str, body: str, subject: str) -> None:
    problems = [] if channel in CHANNELS else [_("the channel is sms or email (WeChat templates are for service "
                                                 "notices only)")]
    problems += template_problems(body, "campaign", subject)
    if problems:
        raise InvalidInput(_("The campaign cannot be sent: {problems}").format(problems="; ".join(problems)))


def _text(body: str, name: str, store: str, channel: str, lang: str) -> str:
    text = fill(body, {"name": name, "store": store})
    return f"{text} {OPT_OUT[lang]}" if channel == "sms" and OPT_OUT[lang] not in text else text


def _preview(audience: str, channel: str, body: str, sign_name: str, lang: str, ids: list[int],
             unknown: list[str]) -> tuple[CampaignPreview, list[tuple[int, str, str, int | None]], dict[int, str]]:
    reach = _reachable(ids, channel)
    stores = dict(Store.select(Store.id, Store.name).tuples())
    parts = 0
    if channel == "sms":
        texts: dict[tuple[str, str], int] = {}  # the same name at the same store is the same text
        for _id, name, _a, home in reach:
            key = (name, stores.get(home, ""))
            if key not in texts:
                texts[key] = sms_parts(_text(body, key[0], key[1], channel, lang), sign_name)
            parts += texts[key]
    sample = reach[0] if reach else None
    shown = CampaignPreview(
        audience, channel, len(ids), len(reach), parts, sample[1] if sample else "",
        _text(body, sample[1], stores.get(sample[3], ""), channel, lang) if sample else "", tuple(unknown[:20]))
    return shown, reach, stores


def preview(audience: str, channel: str, body: str, *, subject: str = "", sign_name: str = "",
            lang: str = "zh") -> CampaignPreview:
    """What confirming would send, nothing written."""
    _check(channel, body, subject)
    ids, unknown = audience_members(audience)
    return _preview(audience, channel, body, sign_name, lang, ids, unknown)[0]


def send_campaign(staff: Staff, name: str, audience: str, channel: str, body: str, *, subject: str = "",
                  provider_code: str = "", sign_name: str = "", lang: str = "zh",
                  store: Store | None = None) -> tuple[int, CampaignPreview]:
    """Write the campaign and a message to every reachable member of it, as counted in the same transaction;
    the campaign's id and what was counted."""
    require(staff, "messages.campaign")
    if not name.strip() or len(name) > 100:
        raise InvalidInput(_("Give the campaign a name (up to 100 characters)."))
    _check(channel, body, subject)
    ids, unknown = audience_members(audience)
    now = clock.now()
    with write_transaction():
        shown, reach, stores = _preview(audience, channel, body, sign_name, lang, ids, unknown)
        campaign = Campaign.create(name=name.strip(), channel=channel, audience=audience[:200], subject=subject,
                                   body=body, provider_code=provider_code, members=len(reach),
                                   sms_parts=shown.sms_parts, store=store, staff=staff, created_at=now)
        fields = ("key", "member", "trigger", "channel", "marketing", "campaign", "store", "fields", "state",
                  "not_before", "attempts", "created_at", "sent_channel", "address", "text", "sms_parts",
                  "provider_id", "reason", "delivery")
        bulk_insert(Message, fields, [
            (f"campaign:{campaign.id}:{member_id}", member_id, "campaign", channel, True, campaign.id, home,
             json.dumps({"name": member_name, "store": stores.get(home, "")}, ensure_ascii=False), "queued", now,
             0, now, "", "", "", 0, "", "", "")
            for member_id, member_name, _a, home in reach])
        audit("message.campaign", f"campaign:{campaign.id}", staff=staff, store=store, payload={
            "name": name, "audience": audience, "channel": channel, "members": len(reach),
            "sms_parts": shown.sms_parts})
    return campaign.id, shown

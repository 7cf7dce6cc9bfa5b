"""Members: ``mms lookup`` (what the desk search finds), ``mms family`` (who shares a visit package) and
``mms members erase`` (a PIPL erasure request)."""

from __future__ import annotations

from collections.abc import Iterator

import click

from mms_tui.cli.common import acting_staff, confirm, open_database, settings_of
from mms_tui.cli.options import format_option, staff_options, yes_option
from mms_tui.cli.output import MACHINE_FORMATS, write_rows
from mms_tui.i18n import _
from mms_tui.services.base.text import format_money


@click.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="At most this many.")
@format_option()
@click.pass_context
def lookup(ctx: click.Context, query: str, limit: int, fmt: str) -> None:
    """Find members as the desk search does: card no, phone or its last 4, name, pinyin initials."""
    from mms_tui.services.members.lookup import lookup as find

    open_database(settings_of(ctx))
    hits = find(query, limit)
    if not hits:
        raise click.ClickException(_("No member matches {query!r}.").format(query=query))
    write_rows(_hit_rows(hits, machine=fmt in MACHINE_FORMATS), fmt)


def _hit_rows(hits, machine: bool) -> Iterator[dict]:
    for hit in hits:
        cards = "; ".join(
            f"{c.card_no} {c.type_name}" + ("" if c.status == "active" else f" [{c.status}]") for c in hit.cards
        )
        yield {
            "id": hit.member_id,
            "name": hit.name,
            "phone": hit.phone_masked,
            "tier": hit.tier,
            "match": hit.match,
            "stored_value": hit.stored_value_fen if machine else format_money(hit.stored_value_fen),
            "points": hit.points,
            "cards": cards,
        }


@click.group("family")
def family_group() -> None:
    """Families (家庭): members who share a visit package of a transferable card type.

    \b
    mms family show 13800138000              # the member's family, its first member marked
    mms family join 13900139000 13800138000  # put the first in the second one's family
    mms family leave 13900139000
    """


def _family_rows(member: str):
    from mms_tui.services.members.family import family_members

    for f in family_members(member):
        yield {"name": f.name, "phone": f.phone_masked, "first": _("yes") if f.head else ""}


@family_group.command("show")
@click.argument("member", metavar="PHONE|CARD")
@format_option()
@click.pass_context
def family_show(ctx: click.Context, member: str, fmt: str) -> None:
    """The family of the member with this phone or card number, its first member marked."""
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    found = find_member(member)
    if not write_rows(_family_rows(found.phone), fmt):
        click.echo(_("{name} is not in a family.").format(name=found.name), err=True)


@family_group.command("join")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("family_of", metavar="PHONE|CARD")
@staff_options("Staff recorded on the change.")
@format_option()
@click.pass_context
def family_join(ctx: click.Context, member: str, family_of: str, staff_code: str | None, pin_stdin: bool,
                fmt: str) -> None:
    """Put the first member (phone or card number) in the family of the second (who starts one when in none),
    leaving any family the first was in."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.family import set_family
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    result = set_family(member, family_of, acting_staff(staff_code, pin_stdin), new_txid())
    write_rows(_family_rows(find_member(result.member_id).phone), fmt)


@family_group.command("leave")
@click.argument("member", metavar="PHONE|CARD")
@staff_options("Staff recorded on the change.")
@click.pass_context
def family_leave(ctx: click.Context, member: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Take the member with this phone or card number out of their family (a family left with one member is no
    family)."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.family import set_family
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    set_family(member, None, acting_staff(staff_code, pin_stdin), new_txid())
    click.echo(_("{name} has left the family.").format(name=find_member(member).name))


@click.group("members")
def members_group() -> None:
    """Members: erase one member's personal data (a PIPL request)."""


@members_group.command("erase")
@click.argument("phone", metavar="PHONE")
@click.option("--reason", required=True, help="The request this answers (kept in the audit).")
@yes_option()
@staff_options("Manager or admin recorded on the erasure.")
@click.pass_context
def members_erase(ctx: click.Context, phone: str, reason: str, yes: bool, staff_code: str | None,
                  pin_stdin: bool) -> None:
    """Erase the personal data of the member with PHONE (name, phone, birthday, gender, notes, and their copies in
    the audit and stored results), keeping the shop's books: sales, visits, cards and the ledger stay, so mms check
    and every report's totals are unchanged. The audit records that it happened, by whom and why."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.privacy import erase_member

    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    confirm(yes, _("Erase the personal data of {phone}? This cannot be undone.").format(phone=phone),
            refusal=_("Erasure cannot be undone: confirm with --yes."))
    result = erase_member(phone, staff, reason, new_txid())
    click.echo(_("Erased member {id}: {events} audit events and {results} stored results cleaned.").format(
        id=result.member_id, events=result.events_scrubbed, results=result.results_scrubbed))


@members_group.command("edit")
@click.argument("member", metavar="PHONE|CARD")
@click.option("--email", help="Email address ('' for none).")
@click.option("--address", help="Postal address ('' for none).")
@click.option("--preferences", help="What the member likes or asks for ('' for none).")
@click.option("--price-level", help="The price level the member buys at, e.g. DEALER ('' for none; a manager's "
                                    "decision).")
@staff_options("Staff recorded on the change.")
@click.pass_context
def members_edit(ctx: click.Context, member: str, email: str | None, address: str | None, preferences: str | None,
                 price_level: str | None, staff_code: str | None, pin_stdin: bool) -> None:
    """Change a member's contact details, preferences or price level (what is given; the rest stays)."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.profile import find_member, update_member

    changes = {k: v for k, v in (("email", email), ("address", address), ("preferences", preferences),
                                 ("price_level", price_level)) if v is not None}
    if not changes:
        raise click.UsageError(_("Give at least one of --email, --address, --preferences, --price-level."))
    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    result = update_member(find_member(member), staff, new_txid(), **changes)
    click.echo(_("Saved {name}.").format(name=result.name))


@members_group.command("tag")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("tags", nargs=-1, required=True)
@staff_options("Staff recorded on the change.")
@click.pass_context
def members_tag(ctx: click.Context, member: str, tags: tuple[str, ...], staff_code: str | None,
                pin_stdin: bool) -> None:
    """File a member under TAGS (标签), e.g. VIP 孕期; prints the member's tags after."""
    from mms_tui.services.members.attributes import tag_member
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    click.echo(" ".join(tag_member(find_member(member), acting_staff(staff_code, pin_stdin), list(tags))))


@members_group.command("untag")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("tags", nargs=-1, required=True)
@staff_options("Staff recorded on the change.")
@click.pass_context
def members_untag(ctx: click.Context, member: str, tags: tuple[str, ...], staff_code: str | None,
                  pin_stdin: bool) -> None:
    """Take TAGS off a member; prints the member's tags after."""
    from mms_tui.services.members.attributes import untag_member
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    click.echo(" ".join(untag_member(find_member(member), acting_staff(staff_code, pin_stdin), list(tags))))


@members_group.command("tagged")
@click.argument("tag", required=False)
@format_option()
@click.pass_context
def members_tagged(ctx: click.Context, tag: str | None, fmt: str) -> None:
    """The members filed under TAG (phones masked); without TAG, every tag with how many members carry it."""
    from mms_tui.services.base.text import mask_phone
    from mms_tui.services.members.attributes import members_tagged as tagged
    from mms_tui.services.members.attributes import tag_counts

    open_database(settings_of(ctx))
    if tag is None:
        write_rows(({"tag": t, "members": n} for t, n in tag_counts()), fmt)
        return
    write_rows(({"name": m.name, "phone": mask_phone(m.phone), "tier": m.tier.name} for m in tagged(tag)), fmt)


@members_group.command("consent")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("channel", type=click.Choice(["sms", "email", "notices"]), required=False)
@click.argument("answer", type=click.Choice(["yes", "no"]), required=False)
@staff_options("Staff recorded as taking the answer.")
@format_option()
@click.pass_context
def members_consent(ctx: click.Context, member: str, channel: str | None, answer: str | None,
                    staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Record a member's yes or no to marketing on CHANNEL (sms, email) or to service notices (notices: 消费提醒
    after each stored-value payment or top-up, reminders), kept with when it was given; without an answer, show
    what is in force on each."""
    from mms_tui.services.members.attributes import consent_of, set_consent
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    m = find_member(member)
    if (channel is None) != (answer is None):
        raise click.UsageError(_("Give both a channel and yes or no, or neither."))
    states = (set_consent(m, acting_staff(staff_code, pin_stdin), channel, answer == "yes") if channel
              else consent_of(m))
    write_rows(({"channel": s.channel, "given": {True: "yes", False: "no", None: ""}[s.given],
                 "at": str(s.at or "")} for s in states), fmt)


@members_group.command("wechat")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("openid", default="")
@staff_options("Staff recorded as binding it.")
@click.pass_context
def members_wechat(ctx: click.Context, member: str, openid: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Bind the member's WeChat OPENID on the shop's Official Account (service notices go there); without one,
    unbind it."""
    from mms_tui.services.members.profile import find_member
    from mms_tui.services.messages.queries import set_openid

    open_database(settings_of(ctx))
    set_openid(acting_staff(staff_code, pin_stdin), find_member(member), openid)
    click.echo(_("WeChat bound.") if openid else _("WeChat unbound."), err=True)


@members_group.group("fields")
def fields_group() -> None:
    """The shop's own member fields (自定义字段): text, number, date or one of a list of choices.

    \b
    mms members fields add GOAL 健身目标 --kind choice --choices 减脂,增肌,塑形 --staff m01
    mms members fields set 13800138000 GOAL 增肌
    """


@fields_group.command("list")
@format_option()
@click.pass_context
def fields_list(ctx: click.Context, fmt: str) -> None:
    """The fields defined (disabled ones too), with their kinds and choices."""
    from mms_tui.services.members.attributes import field_definitions

    open_database(settings_of(ctx))
    write_rows(({"code": f.code, "name": f.name, "kind": f.kind, "choices": ",".join(f.choices),
                 "active": f.active} for f in field_definitions(inactive=True)), fmt)


@fields_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", type=click.Choice(["text", "number", "date", "choice"]), default="text",
              show_default=True, help="What the field holds.")
@click.option("--choices", default="", help="A choice field's choices, separated by commas.")
@staff_options("Manager or admin recorded on the change.")
@click.pass_context
def fields_add(ctx: click.Context, code: str, name: str, kind: str, choices: str, staff_code: str | None,
               pin_stdin: bool) -> None:
    """Define a member field (a manager's work)."""
    from mms_tui.services.members.attributes import define_field

    open_database(settings_of(ctx))
    made = define_field(acting_staff(staff_code, pin_stdin), code, name, kind,
                        [c for c in choices.split(",") if c.strip()])
    click.echo(_("Member field {code} ({name}) defined.").format(code=made.code, name=made.name))


@fields_group.command("rename")
@click.argument("code")
@click.argument("name")
@staff_options("Manager or admin recorded on the change.")
@click.pass_context
def fields_rename(ctx: click.Context, code: str, name: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Give a member field another name (its code, kind and values stay)."""
    from mms_tui.services.members.attributes import rename_field

    open_database(settings_of(ctx))
    made = rename_field(acting_staff(staff_code, pin_stdin), code, name)
    click.echo(_("Member field {code} ({name}) saved.").format(code=made.code, name=made.name))


def _field_state(name: str, active: bool, help: str) -> click.Command:
    @fields_group.command(name, help=help)
    @click.argument("code")
    @staff_options("Manager or admin recorded on the change.")
    @click.pass_context
    def command(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool) -> None:
        from mms_tui.services.members.attributes import set_field_active

        open_database(settings_of(ctx))
        made = set_field_active(acting_staff(staff_code, pin_stdin), code, active)
        click.echo(_("Member field {code} ({name}) saved.").format(code=made.code, name=made.name))

    return command


fields_disable = _field_state("disable", False, "Stop asking for a member field; the values kept stay.")
fields_enable = _field_state("enable", True, "Ask for a disabled member field again.")


@fields_group.command("set")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("code")
@click.argument("value")
@staff_options("Staff recorded on the change.")
@click.pass_context
def fields_set(ctx: click.Context, member: str, code: str, value: str, staff_code: str | None,
               pin_stdin: bool) -> None:
    """Set one of a member's fields to VALUE ('' clears it)."""
    from mms_tui.services.members.attributes import set_field
    from mms_tui.services.members.profile import find_member

    open_database(settings_of(ctx))
    values = set_field(find_member(member), acting_staff(staff_code, pin_stdin), code, value)
    click.echo(", ".join(f"{k}={v}" for k, v in values.items()))

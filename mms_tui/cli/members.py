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

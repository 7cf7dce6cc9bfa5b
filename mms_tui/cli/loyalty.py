"""Loyalty: ``mms rules`` (the rules document in and out), ``mms points gifts|gift|expire``, ``mms tiers
review`` (daily from cron) and ``mms coupons`` (issue and list)."""

from __future__ import annotations

import sys

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import (
    as_of_option,
    dry_run_option,
    file_format_option,
    file_or_stdio_argument,
    format_option,
    staff_options,
    store_option,
)
from mms_tui.cli.output import MACHINE_FORMATS, write_rows
from mms_tui.i18n import _, ngettext
from mms_tui.services.ops.jobs import record_run


@click.group("rules")
def rules_group() -> None:
    """Loyalty rules as one TOML or JSON document: points, top-up bonuses, tiers, promotions, birthdays, fees.

    \b
    mms rules export rules.toml        # the rules in force (the defaults until a manager saves some)
    mms rules import rules.toml        # check everything, list every problem, then save all or nothing
    """


@rules_group.command("export")
@file_or_stdio_argument(optional=True)
@file_format_option(["toml", "json"], help="File format (default: json for a .json FILE, else toml).")
@click.pass_context
def rules_export(ctx: click.Context, file: str, fmt: str | None) -> None:
    """Write the rules in force to FILE (whole or not at all), or to standard output."""
    from mms_tui.services.loyalty.rules_files import format_for, rules_to_text, write_rules_file
    from mms_tui.services.loyalty.rules_store import load_rules

    open_database(settings_of(ctx))
    current = load_rules()
    if file == "-":
        click.echo(rules_to_text(current, format_for("-", fmt)), nl=False)
        return
    used = write_rules_file(current, file, fmt)
    click.echo(_("Wrote the rules to {file} ({fmt}).").format(file=file, fmt=used), err=True)


@rules_group.command("import")
@file_or_stdio_argument()
@file_format_option(["toml", "json"],
                    help="File format (default: from FILE's suffix, else json when it starts with '{', else toml).")
@dry_run_option("Check everything and report, but save nothing.")
@staff_options("Manager or admin recorded on the change.")
@click.pass_context
def rules_import(ctx: click.Context, file: str, fmt: str | None, dry_run: bool, staff_code: str | None,
                 pin_stdin: bool) -> None:
    """Replace the rules in force with FILE, all or nothing: every problem is listed (with its place, such as
    promotions[2].percent) and nothing is saved unless there are none. Needs a manager."""
    from mms_tui.services.base.errors import RulesInvalid
    from mms_tui.services.loyalty.rules_files import document_from_text, read_rules_file
    from mms_tui.services.loyalty.rules_store import save_rules

    if file == "-" and pin_stdin:
        raise click.ClickException(_("Standard input cannot hold both the rules and the PIN: give the rules a file."))
    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    try:
        if file == "-":
            where = _("standard input")
            document = document_from_text(sys.stdin.read(), fmt, source=where)
        else:
            where = file
            document = read_rules_file(file, fmt)
        saved = save_rules(document, staff, dry_run=dry_run)
    except RulesInvalid as exc:
        for problem in exc.errors:
            click.echo(problem, err=True)
        n = len(exc.errors)
        raise click.ClickException(ngettext("{n} problem in {file}; nothing was changed.",
                                            "{n} problems in {file}; nothing was changed.", n).format(n=n, file=where)) from None
    verb = _("Checked (dry run, nothing saved)") if dry_run else _("Saved")
    click.echo(_("{verb}: {promotions} promotions, {bonuses} top-up bonuses, {days} points days, {gifts} gifts, "
                 "{levels} tier benefits.").format(
        verb=verb, promotions=len(saved.promotions), bonuses=len(saved.topup.bonuses), days=len(saved.points.days),
        gifts=len(saved.points.gifts), levels=len(saved.tiers.levels)))


@click.group("points")
def points_group() -> None:
    """Points: the gift catalogue, a gift for points (积分兑换, a coupon too), and expiry (daily from cron).

    \b
    mms points gifts                     # what points buy: gifts, and coupons (积分兑换现金券)
    mms points gift 88001234 CASH10      # card 88001234 takes gift CASH10 for its points
    mms points expire                    # today, as the rules' points.expire_months say
    mms points expire --as-of 2025-01-01 --dry-run
    """


@points_group.command("gifts")
@format_option()
@click.pass_context
def points_gifts(ctx: click.Context, fmt: str) -> None:
    """The points catalogue in force (the rules' points.gifts), cheapest first: a gift that is a coupon names its
    promotion and how many days the coupon stays valid."""
    from mms_tui.services.loyalty.points import gift_catalogue

    open_database(settings_of(ctx))
    write_rows(({"code": g.code, "name": g.name, "points": g.points, "coupon": g.coupon or "",
                 "valid_days": g.valid_days or ""} for g in gift_catalogue()), fmt)


@points_group.command("gift")
@click.argument("card", metavar="CARD")
@click.argument("gift", metavar="GIFT")
@click.option("--txid", metavar="ID", help="Operation id: the same id again returns the first result.")
@store_option("The store that gives it (default: the desk's store, else that of --staff).")
@staff_options("Staff member who gives it.")
@format_option()
@click.pass_context
def points_gift(ctx: click.Context, card: str, gift: str, txid: str | None, store_code: str | None,
                staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Give GIFT from the points catalogue for its points, taken from CARD (a card number), oldest points first.
    A gift that is a coupon issues it to the card's member. A refund (at the desk) gives the points back and
    withdraws an unused coupon."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.loyalty.points import redeem_gift

    settings = settings_of(ctx)
    open_database(settings)
    done = redeem_gift(card, gift, acting_staff(staff_code, pin_stdin), txid or new_txid(),
                       store=store_code or settings.store)
    write_rows([{"txid": done.txid, "card_no": done.card_no, "gift": done.gift_code, "name": done.gift_name,
                 "points": done.points, "points_after": done.points_after, "coupon": done.coupon_code or "",
                 "valid_until": done.coupon_valid_until or ""}], fmt)


@points_group.command("expire")
@as_of_option("Expire what is due on this day (default: today).")
@dry_run_option("List what would expire; write nothing.")
@staff_options("Staff recorded on the expiry.")
@format_option()
@click.pass_context
def points_expire(ctx: click.Context, as_of, dry_run: bool, staff_code: str | None, pin_stdin: bool,
                  fmt: str) -> None:
    """Expire the points whose day has come, first in first out: one ledger transaction of kind expire per card.
    Running it again for the same day changes nothing. Standard output: the cards and points; the summary goes
    to standard error."""
    from mms_tui.services.loyalty.points import expire_points
    from mms_tui.services.loyalty.rules_store import load_rules

    settings = settings_of(ctx)
    open_database(settings)
    rules = load_rules()
    if not rules.points.expire_months:
        click.echo(_("Points never expire under the rules in force (points.expire_months = 0); nothing to do."),
                   err=True)
        record_run("points_expire")
        return
    staff = acting_staff(staff_code, pin_stdin)
    run = expire_points(as_of, staff=staff, store=settings.store, dry_run=dry_run, rules=rules)
    write_rows(({"card_no": c.card_no, "member_id": c.member_id, "points": c.points, "txid": c.txid or ""}
                for c in run.cards), fmt)
    if dry_run:
        message = _("Dry run, nothing written: {points} points would expire on {cards} cards as of {date}.")
    else:
        message = _("Expired {points} points on {cards} cards as of {date}.")
    click.echo(message.format(points=run.points, cards=len(run.cards), date=run.as_of.isoformat()), err=True)
    if not dry_run:
        record_run("points_expire")


@click.group("tiers")
def tiers_group() -> None:
    """Member tiers: what each gives and takes (list, add, edit: a manager's work), and the daily review.

    \b
    mms tiers list
    mms tiers add PLAT 铂金会员 --rank 4 --pays 80 --points 2.5 --upgrade-at 50000 --staff m01
    mms tiers edit GOLD --pays 88 --upgrade-at 6000 --staff m01
    mms tiers review                  # daily from cron: keep, downgrade, catch-up upgrades
    """


def _tier_rows(tiers, fmt: str):
    from mms_tui.services.loyalty.tier_admin import describe_terms

    for t in tiers:
        if fmt in MACHINE_FORMATS:
            yield {"code": t.code, "name": t.name, "rank": t.rank, "members": t.members, "price_bp": t.price_bp,
                   "points_pct": t.points_pct, "basis": t.basis, "upgrade_at": t.upgrade_at, "keep_at": t.keep_at,
                   "category_discounts": dict(t.category_discounts)}
        else:
            terms = describe_terms(t)
            yield {_("code"): t.code, _("name"): t.name, _("rank"): t.rank, _("members"): t.members,
                   _("pays"): terms["pays"], _("points"): terms["points"], _("upgrade at"): terms["upgrade_at"],
                   _("keep at"): terms["keep_at"]}


def tier_term_options(fn):
    """What a tier gives and takes, for add and edit."""
    for option in reversed([
        click.option("--pays", help="What its members pay, in percent of the price (90 = 9折)."),
        click.option("--points", help="Points multiplier (1.5 = half as many points again)."),
        click.option("--upgrade-at", help="Reached at this much in the rules' basis: yuan spent, points or visits "
                                          "('none': given by hand only)."),
        click.option("--keep-at", help="Kept at a review with this much ('none': its upgrade threshold)."),
    ]):
        fn = option(fn)
    return fn


def _tier_terms(pays: str | None, points: str | None, upgrade_at: str | None, keep_at: str | None) -> dict:
    from mms_tui.services.loyalty.tier_admin import terms_from_text

    return terms_from_text(pays=pays, points=points, upgrade_at=upgrade_at, keep_at=keep_at)


@tiers_group.command("list")
@format_option()
@click.pass_context
def tiers_list(ctx: click.Context, fmt: str) -> None:
    """Every tier, lowest first: what its members pay, their points multiplier, the thresholds to reach and keep
    it (in the rules' basis) and how many members hold it."""
    from mms_tui.services.loyalty.tier_admin import list_tiers

    open_database(settings_of(ctx))
    write_rows(_tier_rows(list_tiers(), fmt), fmt)


@tiers_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--rank", type=int, required=True, help="Its place: 0 is the lowest tier, higher ranks rise above.")
@tier_term_options
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def tiers_add(ctx: click.Context, code: str, name: str, rank: int, pays, points, upgrade_at, keep_at,
              staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Add a tier (its terms are saved in the loyalty rules, audited)."""
    from mms_tui.services.loyalty.tier_admin import add_tier

    open_database(settings_of(ctx))
    terms = _tier_terms(pays, points, upgrade_at, keep_at)
    staff = acting_staff(staff_code, pin_stdin)
    write_rows(_tier_rows([add_tier(staff, code, name, rank, **terms)], fmt), fmt)


@tiers_group.command("edit")
@click.argument("code")
@click.option("--name", help="New name.")
@click.option("--rank", type=int, help="New place in the order.")
@tier_term_options
@staff_options("Manager or admin recorded on the change.")
@format_option()
@click.pass_context
def tiers_edit(ctx: click.Context, code: str, name: str | None, rank: int | None, pays, points, upgrade_at,
               keep_at, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Change a tier's name, rank or terms; members move at their next qualifying event or review."""
    from mms_tui.services.loyalty.tier_admin import edit_tier

    open_database(settings_of(ctx))
    changes = _tier_terms(pays, points, upgrade_at, keep_at)
    if name is not None:
        changes["name"] = name
    if rank is not None:
        changes["rank"] = rank
    if not changes:
        raise click.UsageError(_("Give at least one term to change."))
    write_rows(_tier_rows([edit_tier(acting_staff(staff_code, pin_stdin), code, **changes)], fmt), fmt)


@tiers_group.command("review")
@as_of_option("Review as of this day (default: today).")
@dry_run_option("List the changes; write nothing.")
@staff_options("Staff recorded on the changes.")
@format_option()
@click.pass_context
def tiers_review(ctx: click.Context, as_of, dry_run: bool, staff_code: str | None, pin_stdin: bool,
                 fmt: str) -> None:
    """Review every member's tier on the rules' basis (spend, points or visits in the rolling window): move up
    whoever qualifies; with tiers.downgrade, a member below their tier's keep level keeps it for grace_months
    (the grace is recorded), then moves down. Running it again for the same day changes nothing."""
    from mms_tui.services.loyalty.tiers import describe, review_tiers

    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    review = review_tiers(as_of, staff=staff, dry_run=dry_run)
    machine = fmt in MACHINE_FORMATS
    write_rows(({"member_id": c.member_id, "name": c.name, "phone": c.phone, "action": c.action,
                 "from": c.from_tier, "to": c.to_tier,
                 "value": c.value if machine else describe(review.basis, c.value),
                 "threshold": c.threshold if machine else describe(review.basis, c.threshold),
                 "grace_since": c.grace_since or "", "grace_until": c.grace_until or ""}
                for c in review.changes), fmt)
    verb = _("Dry run, nothing written") if dry_run else _("Reviewed")
    click.echo(_("{verb} as of {date} (basis {basis}): {up} up, {down} down, {grace} graces started, {ended} graces "
                 "ended.").format(verb=verb, date=review.as_of.isoformat(), basis=review.basis,
                                  up=review.count("up"), down=review.count("down"), grace=review.count("grace"),
                                  ended=review.count("grace_end")), err=True)
    if not dry_run:
        record_run("tiers_review")


@click.group("coupons")
def coupons_group() -> None:
    """Coupons of the rules' promotions: issue them by hand, by rule or in bulk, and list them.

    \b
    mms coupons issue --member 13800138000 --promotion SPRING --valid-days 14
    mms coupons issue --segment at_risk --promotion COMEBACK
    mms coupons issue --winback 90              # promotion WINBACK unless --promotion
    mms coupons issue --birthday                # the rules' birthday.promotion
    mms coupons list --member 13800138000 --unused
    """


def _coupon_rows(coupons, with_status: bool = False):
    for c in coupons:
        row = {"code": c.code, "promotion": c.promotion, "member": c.member_name, "phone": c.phone,
               "reason": c.reason, "valid_from": c.valid_from or "", "valid_until": c.valid_until or ""}
        if with_status:
            row.update({"issued_at": c.issued_at or "", "used_at": c.used_at or "", "status": c.status})
        yield row


@coupons_group.command("issue")
@click.option("--member", "phone", metavar="PHONE", help="By hand: one coupon for this member (needs --promotion).")
@click.option("--segment", metavar="NAME",
              help="In bulk: every member of this segment of the segments report (at_risk, lost, loyal, …), or "
                   "with a prompt from their pattern (due: an item due; running_out: a package); one coupon of the "
                   "promotion per member, ever.")
@click.option("--winback", "winback_days", type=click.IntRange(1, 3650), metavar="DAYS",
              help="Members away at least DAYS days; one coupon per absence.")
@click.option("--birthday", is_flag=True, help="Members in their birthday window: the rules' birthday promotion.")
@click.option("--promotion", metavar="CODE", help="The promotion (a coupon promotion of the rules in force).")
@click.option("--valid-days", type=click.IntRange(1, 3650), metavar="N",
              help="Days the coupon is valid from today (default 30; never beyond the promotion's end).")
@as_of_option("Issue as of this day (default: today).")
@dry_run_option("List who would get a coupon; write nothing.")
@staff_options("Manager or admin recorded as the issuer.")
@format_option()
@click.pass_context
def coupons_issue(ctx: click.Context, phone: str | None, segment: str | None, winback_days: int | None,
                  birthday: bool, promotion: str | None, valid_days: int | None, as_of, dry_run: bool,
                  staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Issue coupons: to one member (--member), a segment (--segment), members away (--winback) or in their
    birthday window (--birthday). Bulk ways are safe to run again: nobody gets a second coupon of the same
    campaign. Standard output: the coupons; the summary goes to standard error."""
    from mms_tui.services.base.text import normalise_phone
    from mms_tui.services.loyalty import coupons as service

    modes = [name for name, given in (("--member", phone), ("--segment", segment), ("--winback", winback_days),
                                      ("--birthday", birthday)) if given]
    if len(modes) != 1:
        raise click.ClickException(_("Say who gets coupons: one of --member, --segment, --winback or --birthday."))
    if (phone or segment) and not promotion:
        raise click.ClickException(_("{option} needs --promotion CODE.").format(option=modes[0]))
    if birthday and (promotion or valid_days):
        raise click.ClickException(_("--birthday issues the rules' birthday promotion, valid through the birthday "
                                     "window; --promotion and --valid-days do not apply."))
    if phone and dry_run:
        raise click.ClickException(_("--dry-run applies to --segment, --winback and --birthday."))
    open_database(settings_of(ctx))
    staff = acting_staff(staff_code, pin_stdin)
    day = as_of
    if phone:
        issued = service.issue_coupon(normalise_phone(phone), str(promotion), staff, valid_days=valid_days, on=day)
        run = service.IssueRun("manual", issued.promotion, False, [issued])
    elif segment:
        run = service.issue_for_segment(segment, str(promotion), staff, valid_days=valid_days, on=day,
                                        dry_run=dry_run)
    elif winback_days:
        run = service.issue_winback(winback_days, staff, promotion=promotion, valid_days=valid_days, on=day,
                                    dry_run=dry_run)
    else:
        run = service.issue_birthday_coupons(staff, on=day, dry_run=dry_run)
    write_rows(_coupon_rows(run.coupons), fmt)
    if dry_run:
        message = _("Dry run, nothing written: {n} coupons of {promotion} would be issued; {already} members "
                    "already have one.")
    else:
        message = _("Issued {n} coupons of {promotion}; {already} members already had one.")
    click.echo(message.format(n=len(run.coupons), promotion=run.promotion, already=run.already), err=True)


@coupons_group.command("list")
@click.option("--member", "phone", metavar="PHONE", help="Only this member's coupons.")
@click.option("--unused", is_flag=True, help="Only coupons not used yet (expired ones included; see status).")
@click.option("--promotion", metavar="CODE", help="Only coupons of this promotion.")
@format_option()
@click.pass_context
def coupons_list(ctx: click.Context, phone: str | None, unused: bool, promotion: str | None, fmt: str) -> None:
    """Coupons, newest first, with their status (unused, used, expired, not yet valid)."""
    from mms_tui.services.base.text import normalise_phone
    from mms_tui.services.loyalty.coupons import list_coupons

    open_database(settings_of(ctx))
    found = list_coupons(normalise_phone(phone) if phone else None, unused=unused, promotion=promotion)
    if not write_rows(_coupon_rows(found, with_status=True), fmt):
        click.echo(_("No coupons."), err=True)

"""``mms payments``: the payment codes charged at the desks (WeChat Pay, Alipay) and what became of each."""

from __future__ import annotations

import click

from mms_tui.cli.common import open_database, settings_of
from mms_tui.cli.options import DAY, format_option
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _


@click.group("payments")
def payments_group() -> None:
    """Payment codes (付款码) charged through WeChat Pay and Alipay.

    \b
    The providers are set in the configuration file (their keys are never printed):
      [payments]          wait_seconds = 45   (how long a customer has to confirm on their phone)
      [payments.wechat]   appid, mch_id, key, sign_type (MD5|HMAC-SHA256), cert_file, key_file
      [payments.alipay]   app_id, private_key_file, alipay_public_key_file
    """


#: the formats a program reads: their statuses stay the codes (pending, paid, booked, declined, reversed)
_FOR_PROGRAMS = ("csv", "json", "jsonl")


def _attempt_rows(found, fmt: str) -> list[dict]:
    from mms_tui.services.base.text import format_money
    from mms_tui.services.payments.charge import state_label
    from mms_tui.services.payments.providers import provider_label

    return [{"id": a.id, "txid": a.txid, "attempt": a.attempt, "provider": provider_label(a.provider),
             "amount": format_money(a.amount_fen),
             "status": a.status if fmt in _FOR_PROGRAMS else state_label(a.status), "out_trade_no": a.out_trade_no,
             "trade_no": a.trade_no, "code": f"…{a.code_tail}", "at": str(a.created_at)[:19], "detail": a.detail}
            for a in found]


@payments_group.command("list")
@click.option("--date", "day", type=DAY, metavar="YYYY-MM-DD", help="Only the attempts begun on this day.")
@click.option("--open", "still_open", is_flag=True, help="Only those still open (pending, or paid and not booked).")
@format_option()
@click.pass_context
def payments_list(ctx: click.Context, day, still_open: bool, fmt: str) -> None:
    """Every attempt to charge a payment code, newest first: its operation, amount, status and the provider's
    number of it."""
    from mms_tui.services.payments.charge import attempts

    open_database(settings_of(ctx))
    write_rows(_attempt_rows(attempts(day, still_open=still_open), fmt), fmt)


@payments_group.command("settle")
@format_option()
@click.pass_context
def payments_settle(ctx: click.Context, fmt: str) -> None:
    """Ask the providers about every charge a desk left open (stopped mid-charge, the network down): booked when
    its operation was booked, reversed when money was taken for nothing. Exit 1 while some stay open."""
    from mms_tui.services.base.text import format_money
    from mms_tui.services.payments.charge import config_problems, settle_open, state_label
    from mms_tui.services.payments.providers import provider_label

    settings = settings_of(ctx)
    problems = config_problems(settings.payments)
    if problems:
        raise click.ClickException(_("The payments settings cannot be used: {problems}").format(
            problems="; ".join(problems)))
    open_database(settings)
    settled = settle_open(settings.payments)
    write_rows(({"id": s.attempt_id, "txid": s.txid, "provider": provider_label(s.provider),
                 "amount": format_money(s.amount_fen),
                 "status": s.status if fmt in _FOR_PROGRAMS else state_label(s.status), "detail": s.detail}
                for s in settled), fmt)
    still = [s for s in settled if s.status in ("pending", "paid")]
    if still:
        raise click.ClickException(_("{n} payment(s) still open: the provider could not be asked or would not "
                                     "answer; run this again later.").format(n=len(still)))
    click.echo(_("{n} open payment(s) settled.").format(n=len(settled)), err=True)


@payments_group.command("reconcile")
@click.option("--date", "day", type=DAY, metavar="YYYY-MM-DD", default=None,
              help="The day of the bill (the providers' days are Beijing time).")
@click.option("--due", is_flag=True,
              help="Every day up to yesterday with charges or refunds booked and not yet reconciled (the last 60 days; "
                   "for the daily job).")
@click.option("--provider", type=click.Choice(["wechat", "alipay"]), default=None,
              help="Only this provider [default: every one set up].")
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None,
              help="Read the bill from this file (CSV, or Alipay's zip) instead of downloading it; needs --provider.")
@format_option()
@click.pass_context
def payments_reconcile(ctx: click.Context, day, due: bool, provider: str | None, path: str | None, fmt: str) -> None:
    """对账: the provider's bill of a day against the charges and refunds booked that day. Lists every difference
    (charged but no sale, sale but not charged, amounts that differ; the same for refunds); exit 1 when there is
    one. The day is noted as reconciled, with the bill's fees, for mms check and the payments report."""
    from mms_tui.services.payments.charge import config_problems, providers_configured
    from mms_tui.services.payments.providers import BillUnavailable
    from mms_tui.services.payments.reconcile import (
        download_bill,
        read_bill_file,
        reconcile,
        traded,
        unreconciled_days,
    )

    settings = settings_of(ctx)
    if (day is None) == (not due):
        raise click.UsageError(_("Give either --date or --due."))
    if path is not None and (provider is None or due):
        raise click.UsageError(_("--file needs --provider and --date: whose bill it is, and of which day."))
    providers = [provider] if provider else providers_configured(settings.payments)
    if not providers and due:  # the daily job on a shop that takes no payment code: nothing to do
        click.echo(_("No provider is set up in [payments]: nothing to reconcile."), err=True)
        return
    if not providers:
        raise click.ClickException(_("No provider is set up in [payments]: give --provider and --file."))
    if path is None:
        problems = config_problems(settings.payments)
        if problems:
            raise click.ClickException(_("The payments settings cannot be used: {problems}").format(
                problems="; ".join(problems)))
    open_database(settings)
    bills = ([(name, d) for name, d in unreconciled_days(late_after=1) if name in providers] if due
             else [(name, day) for name in providers])
    if not bills:
        click.echo(_("Every day with charges is reconciled."), err=True)
        return
    rows, missing = [], 0
    for name, day in bills:
        try:
            bill = read_bill_file(name, path, day) if path is not None else download_bill(name, settings.payments, day)
        except BillUnavailable as exc:  # no bill: nothing to compare when nothing was booked, else say so
            if traded(name, day):
                missing += 1
                click.echo(_("{message} — yet charges were booked that day.").format(message=exc), err=True)
            else:
                click.echo(_("{message} (no charge was booked that day either).").format(message=exc), err=True)
            continue
        for difference in reconcile(bill):
            rows.append({"provider": name, "day": day.isoformat(), "difference": difference.kind, "number": difference.number,
                         "txid": difference.txid, "booked": difference.ours_fen, "provider_says": difference.theirs_fen,
                         "detail": difference.text(name)})
        click.echo(_("{provider} {day}: {charges} charges, {refunds} refunds in the bill.").format(
            provider=name, day=day.isoformat(), charges=len(bill.charges), refunds=len(bill.refunds)), err=True)
    write_rows(rows, fmt)
    if missing:
        raise click.ClickException(_("{n} bill(s) could not be had: try again later (the bills are ready after "
                                     "10:00 the next day).").format(n=missing))
    if rows:
        raise click.ClickException(_("{n} difference(s) between the bills and the books.").format(n=len(rows)))
    click.echo(_("The bills and the books agree."), err=True)

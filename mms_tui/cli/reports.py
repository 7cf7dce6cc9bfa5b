"""``mms report``: the reports for the owner and the accountant, one command with the report's name."""

from __future__ import annotations

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import (
    format_option,
    period_options,
    store_option,
    viewer_options,
    write_encoding_option,
)
from mms_tui.cli.output import MACHINE_FORMATS, for_people, write_rows
from mms_tui.i18n import _


@click.command()
@click.argument("name", required=False)
@click.option("--list", "show_list", is_flag=True, help="List the reports, one line each.")
@period_options("First day (default: 30 days before --to; birthdays: today).",
                "Last day (default: today; birthdays: 30 days from --from).")
@store_option("Only this store, or a region or HQ: the stores below it.")
@click.option("--region", "region_code", metavar="CODE", help="Only this region's stores (as --store).")
@click.option("--by", type=click.Choice(["day", "week", "month"]), default="day", show_default=True,
              help="Period of a row, where the report has one.")
@click.option("--staff", "staff_code", metavar="CODE", help="Only this staff member (attendance, commissions).")
@viewer_options("a manager sees only their own store and the stores below it.")
@format_option()
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the rows to FILE instead: .xlsx a workbook, .json, .jsonl, else CSV (money in fen).")
@write_encoding_option("Text encoding of csv, json or jsonl, as mms export writes them (default: utf-8-sig for a "
                       "csv FILE, so Excel reads Chinese; utf-8 on standard output).")
@click.option("--chart", "chart", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also draw the report into FILE (.png or .svg) for email: turnover, topups, visits, tiers, "
                   "segments, stores, tier-trend, frequency, cohorts.")
@click.option("--grid", is_flag=True, help="visits: check-ins as a table of hours × weekdays.")
@click.pass_context
def report(ctx: click.Context, name: str | None, show_list: bool, start, end, store_code: str | None,
           region_code: str | None, by: str, staff_code: str | None, viewer_code: str | None, pin_stdin: bool,
           fmt: str, output: str | None, encoding: str | None, chart: str | None, grid: bool) -> None:
    """Reports for the owner and the accountant (mms report --list shows them). Money columns are fen in
    csv/json, yuan in tables."""
    from mms_tui.services.reports.catalogue import REPORTS, run_report

    if show_list or not name:
        write_rows(({"report": key, "what": _(text)} for key, (text, _fn) in REPORTS.items()), fmt)
        return
    if store_code and region_code:
        raise click.UsageError(_("Give --store or --region, not both."))
    if encoding and not output and fmt not in MACHINE_FORMATS:
        raise click.UsageError(_("--encoding applies to csv, json and jsonl, and to an --output file."))
    if grid and name != "visits":
        raise click.UsageError(_("--grid applies to the visits report."))
    if chart:
        from mms_tui.services.exchange.pictures import PICTURES, chart_format

        chart_format(chart)
        if name not in PICTURES:
            raise click.UsageError(_("--chart draws these reports: {names}.").format(names=", ".join(PICTURES)))
    open_database(settings_of(ctx))
    viewer = acting_staff(viewer_code, pin_stdin) if viewer_code else None
    rows = run_report(name, start, end, store_code or region_code, by, staff=staff_code, viewer=viewer)
    if chart or grid:
        from mms_tui.services.exchange.pictures import grid_rows, write_chart
        from mms_tui.services.reports.dashboard import visits_grid_of
        from mms_tui.services.reports.period import period

        rows = list(rows)
        if chart:
            p = period(start, end, store_code or region_code)
            write_chart(name, rows, chart, subtitle=f"{p.start} – {p.end}")
            click.echo(_("Wrote the chart to {where}.").format(where=chart), err=True)
        if grid:
            rows = grid_rows(visits_grid_of(rows))
    if output or encoding:
        import sys

        from mms_tui.services.exchange.export import export_rows

        if output:
            result = export_rows(rows, output, name, encoding=encoding)
            click.echo(_("Wrote {n} rows to {where}.").format(n=result.rows, where=output), err=True)
        else:  # machine rows on standard output, in the encoding asked for
            export_rows(rows, "-", name, fmt=fmt, encoding=encoding, stdout=sys.stdout.buffer)
        return
    if not write_rows(for_people(rows, fmt), fmt):
        click.echo(_("Nothing in this period."), err=True)

"""Rows out of the CLI: any tabulate format, CSV or JSON, written as the rows come (a generator is never listed).

Shared by every command that prints data (``--format`` is one decorator, :func:`mms_tui.cli.options.format_option`),
so scripts can rely on the same formats everywhere: ``json`` is a list of objects, ``jsonl`` one object per line,
``csv`` has a header row of the fields' names; a table is for people, its headers in the chosen language.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from tabulate import tabulate, tabulate_formats

#: the formats --format accepts
FORMATS = ("csv", "json", "jsonl", *tabulate_formats)

#: the formats for programs: exact values (money in fen), no table layout
MACHINE_FORMATS = ("csv", "json", "jsonl")


def for_people(rows: Iterable[Mapping[str, Any]], fmt: str) -> Iterator[dict[str, Any]]:
    """Money columns (``*_fen``) as ¥ amounts in tables (their headers say ¥: :func:`write_rows`); machine formats
    keep exact integers of fen."""
    from mms_tui.services.base.text import format_money

    for row in rows:
        if fmt in MACHINE_FORMATS:
            yield dict(row)
        else:
            yield {k: (format_money(v) if k.endswith("_fen") and v is not None else v) for k, v in row.items()}


def write_rows(rows: Iterable[Mapping[str, Any]], fmt: str, out: IO[str] | None = None) -> int:
    """Write ``rows`` (dicts with the same keys) to ``out``; return how many were written."""
    out = out or sys.stdout
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        if fmt == "json":
            out.write("[]\n")
        return 0
    rows_all = itertools.chain([first], iterator)
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(first), lineterminator="\n")
        writer.writeheader()
        for row in rows_all:
            writer.writerow(row)
            count += 1
    elif fmt == "jsonl":
        for row in rows_all:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for row in rows_all:
            out.write(("," if count else "") + "\n  " + json.dumps(row, ensure_ascii=False, default=str))
            count += 1
        out.write("\n]\n")
    else:  # a table for people: headers in the chosen language ('Top-ups', '充值笔数'; money 'Sales (¥)')
        from mms_tui.services.exchange.sheet_style import header_label

        columns = list(first)
        table = [[row.get(column) for column in columns] for row in rows_all]
        count = len(table)
        out.write(tabulate(table, headers=[header_label(column) for column in columns], tablefmt=fmt,
                           disable_numparse=True) + "\n")
    return count

"""What an import reports: every bad row (:class:`RowError`, :class:`ImportRejected`) and what it did, or in a
dry run would do (:class:`ImportCounts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mms_tui.i18n import _, ngettext
from mms_tui.services.base.errors import DomainError
from mms_tui.services.base.text import clip, shown


@dataclass(frozen=True)
class RowError:
    line: int
    column: str  # the file's own header
    value: str
    reason: str

    def describe(self, line_word: str = "line") -> str:
        where = (_("row {n}") if line_word == "row" else _("line {n}")).format(n=self.line)
        if self.column:
            return f"{where}, {clip(self.column)} {shown(self.value)}: {self.reason}"
        return f"{where}: {self.reason}"

    def __str__(self) -> str:
        return self.describe()


class ImportRejected(DomainError):
    """Bad rows were found; nothing was written. ``errors`` lists every one of them."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError], line_word: str = "line") -> None:
        rows = len({e.line for e in errors})
        super().__init__(ngettext("{n} bad row; nothing was imported.", "{n} bad rows; nothing was imported.",
                                  rows).format(n=rows))
        self.errors = errors
        self.line_word = line_word
        self.ignored_columns: list[str] = []  # worth saying too: a column the rows meant may have been ignored


@dataclass
class ImportCounts:
    """What an import did, or would do; a forked reader's counts are added to the writer's."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    cards_created: int = 0
    cards_updated: int = 0
    principal: int = 0
    bonus: int = 0
    points: int = 0
    visits: int = 0


def iter_errors(exc: ImportRejected) -> Iterator[str]:
    for error in exc.errors:
        yield error.describe(exc.line_word)

"""The table every screen shows: Textual's DataTable, drawn again once its column widths are known.

A DataTable works out its column widths when it is next idle after rows are added, and keeps the lines it drew before
then under the same cache key (textual#3533: the cache is cleared only when some row has an automatic height). On an
idle machine nothing is drawn in between; on a loaded one — several desks on one small server, a slow SSH link — a
history filled just before the refund dialog opened stayed drawn at its header's widths under the dialog, columns cut
to "2026  Top-". This table forgets those lines as soon as the widths change and draws itself again.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class Table(DataTable):
    """A DataTable that never keeps lines drawn before its column widths were worked out."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._clear_caches()  # lines, rows and cells drawn at the old widths (keyed alike: the widths are not in the key)
        self.refresh()

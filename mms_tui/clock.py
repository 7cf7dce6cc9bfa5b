"""The one clock: every "now" and "today" of the product comes from here.

Services, models and screens ask :func:`now` and :func:`today` instead of the standard library, so a test (or a
snapshot of a screen) can pin the moment the whole product sees with :func:`pinned`, and nothing depends on the day
it runs. Times are the desk's local wall-clock time, to the second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

_pinned: dt.datetime | None = None


def now() -> dt.datetime:
    """Local wall-clock time, to the second: the desk, the receipts and the day reports all speak it."""
    moment = _pinned if _pinned is not None else dt.datetime.now()
    return moment.replace(microsecond=0)


def today() -> dt.date:
    return now().date()


@contextmanager
def pinned(moment: dt.datetime) -> Iterator[dt.datetime]:
    """The product's clock stands at ``moment`` inside the block (tests and screen snapshots only)."""
    global _pinned
    before, _pinned = _pinned, moment
    try:
        yield moment
    finally:
        _pinned = before

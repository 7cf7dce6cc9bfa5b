"""The one clock: every "now" and "today" of the product comes from here, and every stored moment passes through
it on its way in and out of the database.

Time is decided once:

* **Stored in UTC.** The database holds every timestamp as naive UTC (``Moment`` fields in
  :mod:`mms_tui.models.base` convert at the boundary), so a moment means the same on every desk, across a change
  of summer time, and after the store's setting changes.
* **Spoken in the store's wall time.** Python code, screens, receipts and reports see naive wall-clock times of the
  store's time zone (:func:`zone`: the served store's own zone when it keeps one — :func:`serve_store` — else the
  ``time_zone`` setting, or the system's zone until one is recorded), to the
  second; an hour that happens twice when summer time ends keeps its ``fold``, so it goes back to the right
  instant. "Today" is the store's calendar day.
* **Grouped by a stored day.** SQLite knows no named zones, so what reports group by day carries its local day in
  a column of its own (``Transaction.local_day``), written with the moment.

Services, models and screens ask :func:`now` and :func:`today` instead of the standard library, so a test (or a
snapshot of a screen) can pin the moment the whole product sees with :func:`pinned`, and nothing depends on the day
it runs.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
#: how the hash chains write a moment (``history_time_zone``): new databases in UTC
CANONICAL_FORMAT = "%Y-%m-%d %H:%M:%S"

_pinned: dt.datetime | None = None
_zone: ZoneInfo | None = None  # None: the system's zone, found when first asked
_history: ZoneInfo = ZoneInfo("UTC")
#: reads (time_zone, history_time_zone) from the open database; None for what it does not record
_loader: Callable[[], tuple[str | None, str | None] | None] | None = None
_loaded = False
#: the store this process serves (a desk's, a command's ``--store``): its own time zone, when it has one, is the
#: process's zone
_store: str | None = None


def parse_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Shanghai``); ValueError for anything else."""
    text = (name or "").strip()
    try:
        if not text or text != name or text.startswith(("/", ".")) or ".." in text:
            raise ValueError
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def system_zone_name() -> str:
    """The machine's time zone as an IANA name: ``TZ`` when it names one, else the system's setting; UTC when
    neither can be told."""
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return parse_zone(env).key
        except ValueError:
            pass
    try:
        import tzlocal

        return parse_zone(tzlocal.get_localzone_name() or "UTC").key
    except Exception:  # an unreadable /etc/localtime: the product still runs, in UTC
        return "UTC"


def configure(zone: str | None, history: str | None = None) -> None:
    """Set the store's zone (None: the system's) and the zone the hash chains write moments in (None: UTC)."""
    global _zone, _history, _loaded
    _zone = parse_zone(zone) if zone else None
    _history = parse_zone(history) if history else ZoneInfo("UTC")
    _loaded = True


def serve_store(code: str | None) -> None:
    """This process works for the store ``code``: "now" and "today" are its wall time when the store keeps a zone
    of its own (read with the settings, when next needed)."""
    global _store
    _store = code or None
    forget()


def served_store() -> str | None:
    return _store


def day_in(wall: dt.datetime, zone_name: str | None) -> dt.date:
    """The calendar day, in the zone ``zone_name`` (None or empty: this process's), of ``wall`` — a wall time of
    this process's zone: a store's own day of an operation a process in another zone writes."""
    return wall_in(wall, zone_name).date()


def wall_in(wall: dt.datetime, zone_name: str | None) -> dt.datetime:
    """``wall`` — a wall time of this process's zone — as the wall time of the zone ``zone_name`` (None or empty:
    this process's): the hour a store's own clock shows for a moment a process in another zone reads."""
    if not zone_name or zone_name == zone().key:
        return wall
    return to_utc(wall).replace(tzinfo=UTC).astimezone(parse_zone(zone_name)).replace(tzinfo=None)


def read_settings_with(loader: Callable[[], tuple[str | None, str | None] | None]) -> None:
    """How the zones are read from the database (the models register it); read when first needed."""
    global _loader
    _loader = loader
    forget()


def forget() -> None:
    """Another database, or a zone setting changed: read the zones again when next needed."""
    global _loaded
    _loaded = False


def _settings() -> None:
    if _loaded or _loader is None:
        return
    found = _loader()
    if found is None:  # no settings table yet: the system's zone, and ask again once there is one
        configure(None)
        forget()
        return
    configure(*found)


def zone() -> ZoneInfo:
    global _zone
    _settings()
    if _zone is None:
        _zone = parse_zone(system_zone_name())
    return _zone


def zone_name() -> str:
    return zone().key


def history_zone_name() -> str:
    _settings()
    return _history.key


def now() -> dt.datetime:
    """The store's wall-clock time, to the second: the desk, the receipts and the day reports all speak it."""
    if _pinned is not None:
        return _pinned.replace(microsecond=0)
    return dt.datetime.now(UTC).astimezone(zone()).replace(tzinfo=None, microsecond=0)


def utc_now() -> dt.datetime:
    """This moment, aware, in UTC: when a job ran, how old a file is (the store's zone plays no part)."""
    if _pinned is not None:
        return to_utc(_pinned).replace(tzinfo=UTC)
    return dt.datetime.now(UTC)


def today() -> dt.date:
    return now().date()


def to_utc(local: dt.datetime) -> dt.datetime:
    """A store wall time (naive; its ``fold`` tells the two 01:30s of the night summer time ends) as naive UTC,
    for the database. An aware datetime is converted from its own zone."""
    aware = local if local.tzinfo is not None else local.replace(tzinfo=zone())
    return aware.astimezone(UTC).replace(tzinfo=None)


def from_utc(stored: dt.datetime) -> dt.datetime:
    """A naive UTC moment from the database as the store's naive wall time (``fold`` set where it matters)."""
    return stored.replace(tzinfo=UTC).astimezone(zone()).replace(tzinfo=None)


def parse_stored(value: object) -> object:
    """A moment as the database hands it back raw (SQLite's text, PostgreSQL's datetime) as a naive UTC datetime;
    anything else (None, text that is no moment) as it is."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def canonical_text(stored: dt.datetime) -> str:
    """A stored (naive UTC) moment as the hash chains write it: in ``history_time_zone``, which stays what it
    was when the chain began, whatever the store's zone becomes."""
    _settings()
    if _history.key == "UTC":  # (mms check reads millions: the conversion is most of the cost)
        return stored.strftime(CANONICAL_FORMAT)
    return stored.replace(tzinfo=UTC).astimezone(_history).strftime(CANONICAL_FORMAT)


class LocalDays:
    """The store's calendar day of raw stored moments (SQLite's text, PostgreSQL's naive UTC datetimes) between
    ``first`` and ``last``, by bisecting the UTC instants each day starts at: a report that reads 100,000s of
    moments converts each in a fraction of what a zone conversion costs. Moments before ``first`` come out as the
    day before it, after ``last`` as the day after it."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first = first
        days = (last - first).days + 2
        self.starts = [to_utc(dt.datetime.combine(first + dt.timedelta(days=i), dt.time())) for i in range(days)]
        self.texts = [start.strftime(CANONICAL_FORMAT) for start in self.starts]

    def __call__(self, stored: object) -> dt.date | None:
        if stored is None:
            return None
        bounds = self.texts if isinstance(stored, str) else self.starts
        return self.first + dt.timedelta(days=bisect.bisect_right(bounds, stored) - 1)


@contextmanager
def pinned(moment: dt.datetime) -> Iterator[dt.datetime]:
    """The product's clock stands at ``moment`` (store wall time) inside the block (tests and screen snapshots
    only)."""
    global _pinned
    before, _pinned = _pinned, moment
    try:
        yield moment
    finally:
        _pinned = before

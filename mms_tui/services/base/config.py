"""Business settings kept in the database (``Config``: JSON values with defaults here), the long-write notice,
and the limits every amount is held to."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import Config, Staff
from mms_tui.services.base.errors import (
    InvalidInput,
)
from mms_tui.services.base.sql import fetch_rows

#: business settings kept in the database (``Config``), with their defaults
CONFIG_DEFAULTS: dict[str, Any] = {
    # points earned per whole yuan paid with money (cash, bank card, wallets, stored-value principal)
    "points_per_yuan": 1,
    # what one point is worth when it pays a bill, in fen (1 → 100 points = ¥1)
    "point_value_fen": 1,
    # when the messages worker last looked for the daily reminders (store time, ISO; services/messages)
    "message_daily_scan": None,
    # a demo database shows its login on the login screen: {"code": "admin", "pin": "1234"}
    "demo_login": None,
    # top-up bonus tiers [threshold_fen, bonus_fen]: 充500送50, 充1000送200, 充2000送500, 充3000送900
    "topup_bonus_rules": [[50_000, 5_000], [100_000, 20_000], [200_000, 50_000], [300_000, 90_000]],
    # wrong PINs: wait this many seconds before the next try after the 1st, 2nd… wrong PIN in a row (the last
    # figure repeats), and after ``lock_after`` in a row take no PIN for ``lock_minutes`` (a manager may unlock)
    "pin_throttle": {"waits": [0, 1, 2, 4], "lock_after": 5, "lock_minutes": 5},
    # a second check-in of the same card this soon asks first: minutes for a visit package, "day" (the same
    # calendar day) or minutes for a pass; 0 never asks
    "repeat_check_in": {"visits": 10, "period": "day"},
    # 考勤: a clock-in this many minutes after the rostered start is late (attendance)
    "attendance": {"grace_minutes": 5},
    # 预约: the hours a store takes bookings (for staff without a roster, and the day view's rows), the day view's
    # step in minutes, and how long a service with no duration of its own is booked for
    "bookings": {"opens": "09:00", "closes": "21:00", "step_minutes": 30, "default_minutes": 60},
    # 备用金: the cash a drawer starts each shift with
    "shift_float_fen": 0,
    # the most one operation may move (fen), and the most a card may hold in each of its balances: far above any
    # shop's real figures, low enough that no sum of the ledger can leave 64-bit integers
    "limits": {"operation_fen": 100_000_000, "balance_fen": 1_000_000_000, "points": 1_000_000_000,
               "visits": 100_000},
    # the store's IANA time zone ("Asia/Shanghai"): its "today", the days reports group by, the times shown; a new
    # database records the system's (``mms init --time-zone`` sets it). Moments are stored in UTC (clock.py)
    "time_zone": None,
    # the zone the hash chains write moments in: UTC, or for a database made before moments were stored in UTC
    # the zone its times were kept in (migration 7); never changed after
    "history_time_zone": None,
    # when each scheduled job last finished (UTC, ISO 8601), for mms doctor: {"points_expire": "2026-…", …}
    "job_runs": {},
    # a long write (an import) in progress, so that a desk waiting for the write lock can say what it waits for
    "writer": None,
    # the payment providers' bills reconciled (services/payments/reconcile.py): {provider: {day: {differences,
    # fee_fen, at}}}, the last 400 days
    "payments_reconciled": {},
}

#: what ``limits`` falls back to for a key a saved setting leaves out
LIMIT_DEFAULTS = CONFIG_DEFAULTS["limits"]


def get_config(key: str) -> Any:
    rows = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', (key,))
    return CONFIG_DEFAULTS[key] if not rows else json.loads(rows[0][0])


def set_config(key: str, value: Any) -> None:
    if key not in CONFIG_DEFAULTS:
        raise InvalidInput(_("Unknown setting {key!r}.").format(key=key))
    Config.insert(key=key, value=json.dumps(value)).on_conflict(
        conflict_target=[Config.key], update={Config.value: json.dumps(value)}
    ).execute()
    if key in ("time_zone", "history_time_zone"):
        clock.forget()


@contextmanager
def announced_writer(what: str, staff: Staff | None = None) -> Iterator[None]:
    """A long write (an import) says so before it takes the write lock and clears it after: a desk whose save
    waits can tell the cashier who it waits for (:func:`current_writer`), instead of a silent wait."""
    from mms_tui.db import write_transaction

    note = {"what": what, "by": staff.code if staff is not None else None, "since": clock.now().strftime("%H:%M"),
            "pid": os.getpid(), "host": socket.gethostname()}
    with write_transaction():
        set_config("writer", note)
    try:
        yield
    finally:
        with contextlib.suppress(Exception), write_transaction():  # (a stale note: see current_writer)
            set_config("writer", None)


def current_writer() -> dict | None:
    """The long write going on now, as :func:`announced_writer` noted it (None: none, or its process is gone)."""
    note = get_config("writer")
    if not isinstance(note, dict):
        return None
    if note.get("host") == socket.gethostname():
        try:
            os.kill(int(note.get("pid", 0)), 0)
        except (OSError, ValueError):
            return None
    return note


def limits() -> dict[str, int]:
    """The ceilings of one operation and of a card's balances (setting ``limits``)."""
    saved = get_config("limits") or {}
    return {key: int(saved.get(key, default)) for key, default in LIMIT_DEFAULTS.items()}


def require_positive(amount: int, what: str) -> int:
    """A money amount of one operation: a whole number of fen, more than zero, at most the operation limit."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidInput(_("{what} must be a whole number of fen.").format(what=what))
    if amount <= 0:
        raise InvalidInput(_("{what} must be more than zero.").format(what=what))
    return require_within_limit(amount, what)


def require_within_limit(amount: int, what: str, ceiling: int | None = None) -> int:
    """Refuse an amount above what one operation may move (setting ``limits.operation_fen``; ``ceiling``: that
    setting as already read)."""
    from mms_tui.services.base.text import format_money

    ceiling = limits()["operation_fen"] if ceiling is None else ceiling
    if amount > ceiling:
        raise InvalidInput(_("{what} may be at most {limit} in one operation (setting limits.operation_fen).").format(
            what=what, limit=format_money(ceiling)))
    return amount

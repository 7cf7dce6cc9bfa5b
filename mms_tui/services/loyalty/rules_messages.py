"""The ``messages`` section of the rules document (消息): which triggers send, how far ahead the reminders go, the
quiet hours of marketing, every problem named by its place.

::

    [messages]
    balance = true                 # 消费提醒 after stored value moved (only to members who said yes to notices)
    card_ending_days = 7           # a card or pass ending within this many days (0: never)
    points_expiring_days = 30      # points expiring within this many days (0: never)
    birthday = true                # 生日祝福 on the day (marketing: needs consent on the channel)
    coupon = true                  # a coupon issued to the member
    booking_hours = 24             # a booking's reminder this many hours before it starts (0: never)
    quiet_hours = "21:00-08:00"    # no marketing between these times of the store ("": none)
    retry_hours = 24               # a message still failing for a temporary reason after this long has failed
    results_days = 7               # a campaign's results: members who came back or bought within this many days
"""

from __future__ import annotations

import re
from typing import Any

from mms_tui.i18n import _
from mms_tui.services.loyalty.rules import MessageRules

_KEYS = ("balance", "card_ending_days", "points_expiring_days", "birthday", "coupon", "booking_hours",
         "quiet_hours", "retry_hours", "results_days")
_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """'21:00-08:00' → (1260, 480) minutes of the day; '' → None. Raises ValueError for anything else."""
    if text == "":
        return None
    m = _QUIET.match(text)
    if not m or text[:5] == text[6:]:
        raise ValueError(text)
    return int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])


def parse_messages(r: Any, value: Any) -> MessageRules:
    """``r`` is the rules reader (rules_reader._Reader): it keeps every problem with its place."""
    path = "messages"
    d = r.table(value, path, _KEYS)
    base = MessageRules()
    values: dict[str, Any] = {}
    for key in ("balance", "birthday", "coupon"):
        if key in d:
            values[key] = r.flag(d[key], f"{path}.{key}")
    for key, hi in (("card_ending_days", 90), ("points_expiring_days", 365), ("booking_hours", 24 * 7),
                    ("retry_hours", 24 * 7), ("results_days", 90)):
        if key in d:
            values[key] = r.whole(d[key], f"{path}.{key}", 1 if key in ("retry_hours", "results_days") else 0, hi)
    if "quiet_hours" in d:
        text = d["quiet_hours"]
        try:
            parse_quiet_hours(text if isinstance(text, str) else "?")
            values["quiet_hours"] = text
        except ValueError:
            r.problem(f"{path}.quiet_hours", _('write it as "21:00-08:00" (from-to, 24-hour), or "" for none'))
    return MessageRules(**{**base.__dict__, **values})


def messages_to_dict(section: MessageRules) -> dict[str, Any]:
    """The section as plain values, leaving out what is at its default."""
    base = MessageRules()
    return {k: v for k, v in section.__dict__.items() if v != getattr(base, k)}

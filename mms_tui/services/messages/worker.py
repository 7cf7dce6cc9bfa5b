"""The sending worker (``mms messages run``): takes due messages from the outbox and sends each at most once.

A round: messages a stopped worker left "sending" are settled first (asked of the provider where it can be asked,
resent where the provider de-duplicates by our key, else marked unknown — shown, never resent blindly); the
reminders that came due are written; then due messages are claimed a few at a time in a short write transaction
that marks them "sending" (the consent, the channel, the address and the text decided there, by what is in force
now), sent at each channel's rate, and their outcome recorded in a second short transaction. A temporary failure
is tried again later, each time twice as late, until ``retry_hours`` after the message was written.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mms_tui import clock
from mms_tui.db import database as db_proxy
from mms_tui.db import is_sqlite, write_transaction
from mms_tui.i18n import _
from mms_tui.models import Campaign, Consent, Member, Message
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_messages import parse_quiet_hours
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.messages import email as email_channel
from mms_tui.services.messages.channel import ChannelError, OutcomeUnknown, Outgoing, Sent, TemporaryFailure
from mms_tui.services.messages.reminders import write_due
from mms_tui.services.messages.templates import LANGS, OPT_OUT, fill, sms_parts, template_for

CHANNEL_ORDER = ("wechat", "sms", "email")
#: messages sent per default each second on a channel (``per_second`` in the channel's settings)
DEFAULT_RATE = {"wechat": 20.0, "sms": 10.0, "email": 50.0}
#: a message still "sending" this long after its batch was claimed belongs to a worker that stopped (longer than a
#: batch of slow sends can take: each may wait out a connect and a read timeout)
LEASE = dt.timedelta(minutes=10)
#: the coupons and bookings are looked at this often (the daily reminders: once an hour)
SCAN_EVERY = 60.0
#: how long a round may spend asking the provider for carriers' receipts
DELIVERY_BUDGET = 5.0
BATCH = 10
#: receipts asked of the provider per minute, and how long after sending they are asked for
DELIVERY_BATCH = 100
DELIVERY_WINDOW = dt.timedelta(days=2)
WHAT = {"zh": {"spend": "消费", "topup": "充值", "refund": "退款"},
        "en": {"spend": "spent", "topup": "topped up", "refund": "refunded"}}


def channels_configured(config: Mapping[str, Any]) -> list[str]:
    """The channels the ``[messages]`` settings give, in the order a service notice tries them."""
    return [c for c in CHANNEL_ORDER if isinstance(config.get(c), Mapping) and config[c]]


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """Every problem of the channels' settings (``mms doctor``, and the worker before it starts)."""
    from mms_tui.services.messages import sms, wechat

    problems: list[str] = []
    checks = {"email": email_channel.check_config, "sms": sms.check_config, "wechat": wechat.check_config}
    for channel in channels_configured(config):
        problems += checks[channel](config[channel])
    if config.get("lang", "zh") not in LANGS:
        problems.append(_("messages.lang: one of {choices}").format(choices=", ".join(LANGS)))
    return problems


class RateLimit:
    """At most ``per_second`` sends a second on one channel, however many are waiting (a provider back after an
    outage gets the backlog at this pace, not at once)."""

    def __init__(self, per_second: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = 0.0
        self.sleep = sleep

    def wait(self) -> None:
        now = time.monotonic()
        if self.next_at > now:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = max(now, self.next_at) + self.interval


@dataclass
class Round:
    """What one round did, by outcome."""

    written: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    failed: int = 0
    retry: int = 0
    unknown: int = 0
    skipped: int = 0
    settled: int = 0
    delivered: int = 0  # receipts read from the provider this round

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retry + self.unknown + self.skipped


@dataclass(frozen=True)
class _Attempt:
    message_id: int
    channel: str
    outgoing: Outgoing
    attempts: int  # the message's attempt this is: its outcome is recorded only on this attempt


def in_quiet_hours(when: dt.datetime, rules: Rules) -> dt.datetime | None:
    """The end of the quiet hours ``when`` falls in (store time), or None when it is not in them."""
    span = parse_quiet_hours(rules.messages.quiet_hours)
    if span is None:
        return None
    start, end = span
    minute = when.hour * 60 + when.minute
    inside = start <= minute < end if start < end else minute >= start or minute < end
    if not inside:
        return None
    day = when.date() if minute < end else when.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(end // 60, end % 60))


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class Worker:
    """Sends from the outbox with the ``[messages]`` settings. ``senders`` replaces a channel's sending function
    (``send(outgoing) -> Sent``) — for the tests' fault injection only; the real ones are built from the settings."""

    def __init__(self, config: Mapping[str, Any], *, batch: int = BATCH) -> None:
        self.config = config
        self.lang = str(config.get("lang", "zh"))
        self.batch = batch
        self.channels = channels_configured(config)
        self.limits = {c: RateLimit(float(config[c].get("per_second", DEFAULT_RATE[c]))) for c in self.channels}
        self.token_cache: dict[str, Any] = {}
        self._mailer: email_channel.Mailer | None = None
        self.stop = threading.Event()
        self._asked_at = -60.0
        self._scanned_at = -SCAN_EVERY
        self._campaigns: dict[int, tuple[str, str, str]] = {}  # a campaign's wording never changes
        #: a message "sending" this long belongs to a worker that stopped (``lease_seconds``; sends time out sooner)
        self.lease = dt.timedelta(seconds=float(config.get("lease_seconds", LEASE.total_seconds())))

    # --- the channels ------------------------------------------------------------------------------------------

    def _send(self, channel: str, outgoing: Outgoing) -> Sent:
        self.limits[channel].wait()
        if channel == "email":
            if self._mailer is None:
                self._mailer = email_channel.Mailer(self.config["email"])
            return self._mailer.send(outgoing)
        if channel == "sms":
            from mms_tui.services.messages import sms

            return sms.send(self.config["sms"], outgoing)
        from mms_tui.services.messages import wechat

        return wechat.send(self.config["wechat"], outgoing, cache=self.token_cache)

    def _resendable(self, channel: str) -> bool:
        """Whether the provider de-duplicates by our key, so a message whose fate is unknown may go again."""
        if channel == "sms":
            from mms_tui.services.messages import sms

            return sms.idempotent(self.config["sms"])
        return False

    def _askable(self, channel: str) -> bool:
        """Whether the provider can be asked whether it took a message (Alibaba Cloud, by our OutId)."""
        return channel == "sms" and self.config["sms"].get("provider") == "aliyun"

    def _ask(self, channel: str, outgoing: Outgoing, sent_at: dt.datetime) -> bool | None:
        """Whether the provider has the message (None: it cannot say)."""
        if channel == "sms":
            from mms_tui.services.messages import sms

            try:
                return sms.query(self.config["sms"], outgoing, sent_at)
            except ChannelError:
                return None
        return None

    def close(self) -> None:
        if self._mailer is not None:
            self._mailer.close()
            self._mailer = None

    # --- a round -----------------------------------------------------------------------------------------------

    def run_round(self, *, reminders: bool = True) -> Round:
        result = Round()
        if not self.channels:  # nothing can go: the outbox waits for a channel to be set up (mms doctor says so)
            return result
        rules = load_rules()
        result.settled = self.settle_stopped(rules)
        if reminders and time.monotonic() - self._scanned_at >= SCAN_EVERY:
            self._scanned_at = time.monotonic()
            result.written = write_due(rules)
        while not self.stop.is_set():
            attempts = self._claim(rules, result)
            if attempts is None:
                break
            outcomes = []
            for attempt in attempts:
                try:
                    outcomes.append((attempt, self._send(attempt.channel, attempt.outgoing), None))
                except ChannelError as exc:
                    outcomes.append((attempt, None, exc))
                except Exception as exc:  # a channel's bug must not leave the message "sending" for ever
                    outcomes.append((attempt, None, OutcomeUnknown(_("The channel failed: {error}").format(
                        error=type(exc).__name__))))
            self._record(outcomes, rules, result)
        self.close()
        result.delivered = self.ask_deliveries()
        return result

    def run(self, *, poll_seconds: float = 5.0, once: bool = False,
            report: Callable[[Round], None] | None = None) -> None:
        """Rounds until stopped (``once``: until nothing is due now)."""
        while not self.stop.is_set():
            done = self.run_round()
            if report is not None and (done.handled or done.settled or any(done.written.values())):
                report(done)
            if once:
                return
            self.stop.wait(poll_seconds)

    def _claim(self, rules: Rules, result: Round) -> list[_Attempt] | None:
        """Mark the next few due messages "sending" and say how each goes; None when nothing is due."""
        now = clock.now()
        quiet_until = in_quiet_hours(now, rules)
        attempts: list[_Attempt] = []
        with write_transaction():
            rows = list(Message.select().where(Message.state == "queued", Message.not_before <= now)
                        .order_by(Message.not_before, Message.id).limit(self.batch))
            if not rows:
                return None
            members = {m.id: m for m in Member.select().where(Member.id.in_({r.member_id for r in rows}))}
            consent = _consent_of(list(members))
            for row in rows:
                if row.marketing and quiet_until is not None:
                    Message.update(not_before=quiet_until).where(Message.id == row.id).execute()
                    continue
                decided = self._decide(row, members[row.member_id], consent.get(row.member_id, {}))
                if isinstance(decided, str):
                    Message.update(state="skipped", reason=decided, attempted_at=now).where(
                        Message.id == row.id, Message.state == "queued").execute()
                    result.skipped += 1
                    continue
                channel, outgoing, parts = decided
                claimed = Message.update(
                    state="sending", attempted_at=now, attempts=row.attempts + 1, sent_channel=channel,
                    address=outgoing.to, text=outgoing.text, sms_parts=parts, reason="",
                ).where(Message.id == row.id, Message.state == "queued", Message.attempts == row.attempts).execute()
                if claimed:
                    attempts.append(_Attempt(row.id, channel, outgoing, row.attempts + 1))
        return attempts

    def _decide(self, row: Message, member: Member, consent: dict[str, bool]) -> tuple[str, Outgoing, int] | str:
        """The channel, the message and its SMS parts; or why it is not sent."""
        if member.status != "active":
            return _("the member's record is {status}").format(status=member.status)
        if row.marketing:
            if not consent.get(row.channel or "sms") and not any(consent.get(c) for c in ("sms", "email")):
                return _("no consent to marketing on any channel")
        elif row.trigger != "ticket":  # (an answer to what the member asked goes whatever they said to notices)
            said = consent.get("notices")
            if said is False:
                return _("the member said no to service notices")
            if said is None and row.trigger == "balance":
                return _("the member has not asked for balance notices")
        reasons = []
        for channel in ([row.channel] if row.channel else CHANNEL_ORDER):
            if channel not in self.channels:
                reasons.append(_("{channel} is not set up").format(channel=channel))
                continue
            if row.marketing and channel == "wechat":
                continue
            if row.marketing and not consent.get(channel):
                reasons.append(_("no consent to marketing by {channel}").format(channel=channel))
                continue
            address = {"sms": member.phone, "email": member.email, "wechat": member.wechat_openid}[channel]
            if not address or (channel == "sms" and not (len(address) == 11 and address.startswith("1")
                                                          and address.isdigit())):
                reasons.append(_("no {channel} address").format(channel=channel))
                continue
            wording = self._wording(row, channel)
            if wording is None:
                reasons.append(_("no {channel} template").format(channel=channel))
                continue
            subject, body, code = wording
            values = json.loads(row.fields or "{}")
            if "what" in values:
                values["what"] = WHAT.get(self.lang, WHAT["zh"]).get(values["what"], values["what"])
            text = fill(body, values)
            if row.marketing and channel == "sms" and OPT_OUT[self.lang] not in text:
                text = f"{text} {OPT_OUT[self.lang]}"
            sign = str(self.config["sms"].get("sign_name", "")) if channel == "sms" else ""
            parts = sms_parts(text, sign) if channel == "sms" else 0
            return channel, Outgoing(row.key, address, text, fill(subject, values), code,
                                     {k: str(v) for k, v in values.items()}, row.marketing), parts
        return "; ".join(reasons) or _("no channel reaches the member")

    def _wording(self, row: Message, channel: str) -> tuple[str, str, str] | None:
        if row.campaign_id is not None:
            if row.campaign_id not in self._campaigns:
                c = Campaign.get_by_id(row.campaign_id)
                self._campaigns[row.campaign_id] = (c.subject, c.body, c.provider_code)
            return self._campaigns[row.campaign_id]
        t = template_for(row.trigger, channel, self.lang)
        if t is None or not t.active:
            return None
        if channel == "sms" and self.config["sms"].get("provider") in ("aliyun", "tencent") and not t.provider_code:
            return None
        return t.subject, t.body, t.provider_code

    def _record(self, outcomes: list[tuple[_Attempt, Sent | None, ChannelError | None]], rules: Rules,
                result: Round) -> None:
        now = clock.now()
        give_up = now - dt.timedelta(hours=rules.messages.retry_hours)
        with write_transaction():
            for attempt, sent, error in outcomes:
                where = ((Message.id == attempt.message_id) & (Message.state == "sending")
                         & (Message.attempts == attempt.attempts))
                if sent is not None:
                    Message.update(state="sent", provider_id=sent.provider_id[:100]).where(where).execute()
                    result.sent += 1
                    continue
                assert error is not None
                row = Message.get_by_id(attempt.message_id)
                if isinstance(error, OutcomeUnknown) and self._askable(attempt.channel):
                    # left "sending": once the lease is over, settle_stopped asks the provider by our out-id
                    Message.update(reason=error.message).where(where).execute()
                    result.unknown += 1
                elif isinstance(error, OutcomeUnknown) and not self._resendable(attempt.channel):
                    Message.update(state="unknown", reason=error.message).where(where).execute()
                    result.unknown += 1
                elif (isinstance(error, (TemporaryFailure, OutcomeUnknown))) and row.created_at > give_up:
                    Message.update(state="queued", reason=error.message,
                                   not_before=now + backoff(row.attempts)).where(where).execute()
                    result.retry += 1
                else:
                    Message.update(state="failed", reason=error.message).where(where).execute()
                    result.failed += 1

    def ask_deliveries(self, *, limit: int = DELIVERY_BATCH) -> int:
        """Read the carriers' receipts of sent SMS from a provider that reports them (Alibaba Cloud), at most once
        a minute: a message sent at least two minutes ago and up to two days ago, waiting or not asked yet."""
        if "sms" not in self.channels or self.config["sms"].get("provider") != "aliyun":
            return 0
        if time.monotonic() - self._asked_at < 60:
            return 0
        self._asked_at = time.monotonic()
        from mms_tui.services.messages import sms

        now = clock.now()
        rows = list(Message.select(Message.id, Message.key, Message.address, Message.attempted_at)
                    .where(Message.state == "sent", Message.sent_channel == "sms",
                           Message.delivery.in_(("", "waiting")),
                           Message.attempted_at.between(now - DELIVERY_WINDOW, now - dt.timedelta(minutes=2)))
                    .order_by(Message.delivery, Message.attempted_at).limit(limit))
        read = 0
        began = time.monotonic()
        for row in rows:
            if time.monotonic() - began > DELIVERY_BUDGET or self.stop.is_set():
                break  # the rest next minute: sending comes first
            status = sms.delivery(self.config["sms"], Outgoing(row.key, row.address, ""), row.attempted_at,
                                  timeout=DELIVERY_BUDGET)
            with write_transaction():
                Message.update(delivery=status or "unreported").where(Message.id == row.id).execute()
            read += status not in (None, "waiting")
        return read

    def settle_stopped(self, rules: Rules | None = None) -> int:
        """Messages a stopped worker left "sending": asked of the provider, resent where that is safe, else unknown.
        Each is settled only as the attempt it was left at (another worker may have settled it meanwhile)."""
        rules = rules or load_rules()
        now = clock.now()
        give_up = now - dt.timedelta(hours=rules.messages.retry_hours)
        stale = list(Message.select().where(Message.state == "sending", Message.attempted_at < now - self.lease))
        for row in stale:
            outgoing = Outgoing(row.key, row.address, row.text)
            found = self._ask(row.sent_channel, outgoing, row.attempted_at) if row.sent_channel in self.channels \
                else None
            again = found is False or (row.sent_channel in self.channels and self._resendable(row.sent_channel))
            with write_transaction():
                where = (Message.id == row.id) & (Message.state == "sending") & (Message.attempts == row.attempts)
                if found is True:
                    Message.update(state="sent", reason=_("found at the provider after the worker stopped")) \
                        .where(where).execute()
                elif again and row.created_at <= give_up:
                    Message.update(state="failed", reason=_("no answer from the provider until the retries ran out")) \
                        .where(where).execute()
                elif again:
                    Message.update(state="queued", not_before=now + backoff(row.attempts),
                                   reason=_("sent again: the worker stopped while sending")).where(where).execute()
                else:
                    Message.update(state="unknown", reason=_(
                        "the worker stopped while sending it; the provider cannot tell whether it arrived")) \
                        .where(where).execute()
        return len(stale)


#: the PostgreSQL advisory lock a worker holds while it runs ("mms-msgs" as a number)
_PG_LOCK = 0x6D6D732D6D736773


@contextmanager
def only_worker(database: str) -> Iterator[bool]:
    """Whether this process may be the database's one worker (False: another one runs — a cron line that comes
    round again before the last round ended). A lock file beside a SQLite file, an advisory lock on PostgreSQL;
    both go with the process, however it ends."""
    if is_sqlite():
        path = Path(database).with_name(Path(database).name + ".messages.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o660)
        except OSError:
            yield True  # no lock file can be made here: claims stay atomic, only the rate is per process
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            yield True
        finally:
            os.close(fd)
        return
    got = bool(db_proxy.execute_sql("SELECT pg_try_advisory_lock(%s)", (_PG_LOCK,)).fetchone()[0])
    try:
        yield got
    finally:
        if got:
            db_proxy.execute_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK,))


def _consent_of(member_ids: list[int]) -> dict[int, dict[str, bool]]:
    """Each member's answer in force per channel (the last recorded)."""
    found: dict[int, dict[str, bool]] = {}
    for member_id, channel, given in (Consent.select(Consent.member, Consent.channel, Consent.given)
                                      .where(Consent.member.in_(member_ids)).order_by(Consent.id).tuples()):
        found.setdefault(member_id, {})[channel] = bool(given)
    return found

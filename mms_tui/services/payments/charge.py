"""Charging a customer's payment code (付款码) and booking what it paid for — exactly once.

The order of things is what makes it safe:

1. **The attempt is written first**, committed, with its ``out_trade_no`` (from the operation's txid and the
   attempt's number): whatever happens next, a row says a charge may have been asked for.
2. **The provider is asked.** Its answer is sorted (providers.Outcome): paid; the customer still confirming →
   the desk says "waiting for the customer's password" and the charge is asked about every few seconds, up to
   ``wait_seconds``; refused → nothing was taken, the cashier scans again (a new attempt) or takes another
   tender; not sent (the network is down) → nothing was taken; unknown → asked about (query), and when still in
   doubt, or the customer never confirmed, **reversed** (撤销) so that no money is kept without a sale.
3. **Paid → booked**: the caller's ``book`` runs (the checkout, top-up or card sale, under the same txid); if it
   refuses (stock, a closed store…), the money is given back at once.

A retry of the same operation — a double press, the desk restarted after a crash — finds its attempts: one booked
is answered again by the booking's own replay; one paid but not booked is booked now; one whose outcome is not
known is asked about before anything new is charged. A code declined and scanned again is a new attempt (a new
``out_trade_no``). :func:`settle_open` (the desk's start, ``mms payments settle``, ``mms check``) asks the providers
about every attempt left open by a desk that stopped, and reverses what was taken but never booked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import peewee

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import PAY_PURPOSES, PayAttempt, Staff, Store, Transaction
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.base.text import format_money
from mms_tui.services.payments.providers import (
    Answer,
    NotSetUp,
    Outcome,
    Provider,
    provider_label,
    provider_of_code,
)

R = TypeVar("R")

#: how long the customer has to confirm on their phone before the charge is reversed (WeChat's own guidance: 30 s
#: of polling after USERPAYING); how often the provider is asked meanwhile
WAIT_SECONDS = 45.0
POLL_SECONDS = 3.0
#: an open attempt this old is no desk's any more: settle_open asks about it
OPEN_AFTER = dt.timedelta(minutes=2)


#: how an attempt's status reads (marked for translation)
STATE_LABELS = {"pending": N_("asking the provider"), "paid": N_("taken, not booked"),
                "booked": N_("taken and booked"), "declined": N_("declined by the provider"),
                "reversed": N_("reversed: nothing kept")}


def state_label(status: str) -> str:
    return _(STATE_LABELS[status]) if status in STATE_LABELS else status


class PaymentDeclined(DomainError):
    """The provider took nothing: the cashier scans again or takes another tender."""

    code = "payment_declined"


class PaymentUncertain(DomainError):
    """The provider has not said whether it took the money and could not be made to give it back yet: the attempt
    stays open and is asked about again (settle_open)."""

    code = "payment_uncertain"


class PaymentGivenBack(DomainError):
    """The money was taken but what it paid for was refused; it was given back."""

    code = "payment_given_back"


@dataclass(frozen=True)
class Charged:
    """A charge the provider took: what ``book`` receives."""

    attempt_id: int
    provider: str
    out_trade_no: str
    trade_no: str
    amount_fen: int


@dataclass(frozen=True)
class Settled:
    """What :func:`settle_open` made of one open attempt."""

    attempt_id: int
    txid: str
    provider: str
    amount_fen: int
    status: str  # the attempt's status afterwards
    detail: str


def out_trade_no_for(txid: str, attempt: int) -> str:
    """The provider's key of one attempt: from the operation's txid and the attempt's number, 32 characters of
    letters and digits (both providers' limit and alphabet) — the same for a retry, another for a new attempt."""
    return "M" + hashlib.sha256(txid.encode()).hexdigest()[:27] + f"{attempt:04d}"


def client_for(name: str, config: Mapping[str, object]) -> Provider:
    """The client of provider ``name`` from the ``[payments]`` settings; NotSetUp when it has none."""
    from mms_tui.services.payments.alipay import Alipay
    from mms_tui.services.payments.wechat_pay import WeChatPay

    section = config.get(name)
    if not isinstance(section, Mapping) or not section:
        raise NotSetUp(_("{provider} is not set up on this desk ([payments.{name}] in the settings): take another "
                         "tender.").format(provider=provider_label(name), name=name))
    return WeChatPay(section) if name == "wechat" else Alipay(section)


def pay_by_code(code: str, amount_fen: int, txid: str, *, purpose: str, subject: str, staff: Staff,
                store: Store | str | None, config: Mapping[str, object], book: Callable[[Charged], R],
                waiting: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                client: Provider | None = None) -> R:
    """Charge ``amount_fen`` to the payment code ``code`` for the operation ``txid`` and book it with ``book``
    (see the module). Raises PaymentDeclined (nothing taken), PaymentUncertain (not known yet; the attempt stays
    open), PaymentGivenBack (taken, ``book`` refused, given back), NotSetUp, or what ``book`` raises."""
    if purpose not in PAY_PURPOSES:
        raise InvalidInput(_("A payment code pays for a checkout, a top-up or a card."))
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidInput(_("A payment code is charged a positive amount."))
    provider = provider_of_code(code)
    client = client or client_for(provider, config)
    where = resolve_store(store, staff, writing=True)
    wait, poll = _seconds(config, "wait_seconds", WAIT_SECONDS), _seconds(config, "poll_seconds", POLL_SECONDS)
    for prior in PayAttempt.select().where(PayAttempt.txid == txid).order_by(PayAttempt.attempt):
        if prior.status in ("booked", "paid"):
            _same_amount(prior, amount_fen)
            return _book(prior, client, book)
        if prior.status == "pending":
            client_of_prior = client if prior.provider == provider else client_for(prior.provider, config)
            settled = _resolve(prior, client_of_prior, prior_answer=None, wait=0, poll=poll, waiting=None,
                               sleep=sleep)
            if settled.status == "paid":
                _same_amount(settled, amount_fen)
                return _book(settled, client_of_prior, book)
            if settled.status == "pending":
                raise PaymentUncertain(_("{provider} has not said yet whether it took the earlier attempt of this "
                                         "payment ({amount}); mms keeps asking. Do not charge the customer again "
                                         "until it has.").format(provider=provider_label(prior.provider),
                                                                 amount=format_money(prior.amount_fen)))
    with write_transaction():
        number = (PayAttempt.select(PayAttempt.attempt).where(PayAttempt.txid == txid)
                  .order_by(PayAttempt.attempt.desc()).scalar() or 0) + 1
        now = clock.now()
        attempt = PayAttempt.create(txid=txid, attempt=number, provider=provider,
                                    out_trade_no=out_trade_no_for(txid, number), purpose=purpose,
                                    amount_fen=amount_fen, status="pending", code_tail=code.strip()[-4:],
                                    staff=staff, store=where, created_at=now, updated_at=now)
    answer = client.pay(attempt.out_trade_no, code.strip(), amount_fen, subject)
    attempt = _resolve(attempt, client, prior_answer=answer, wait=wait, poll=poll, waiting=waiting, sleep=sleep)
    if attempt.status != "paid":
        raise _refusal(attempt)
    return _book(attempt, client, book)


def _seconds(config: Mapping[str, object], key: str, default: float) -> float:
    """A number of seconds from the ``[payments]`` settings; NotSetUp, one line, for one that is not (nothing has
    been asked of a provider yet)."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 300:
        raise NotSetUp(_("[payments] {key} is a number of seconds from 1 to 300.").format(key=key))
    return float(value)


def _resolve(attempt: PayAttempt, client: Provider, *, prior_answer: Answer | None, wait: float, poll: float,
             waiting: Callable[[str], None] | None, sleep: Callable[[float], None]) -> PayAttempt:
    """Ask about ``attempt`` until its outcome is known or the wait is over; reverse it when in doubt. ``prior_answer``:
    the charge's own answer (None: begin by asking). Returns it as it now stands: paid, declined, reversed — or
    pending when even the reversal got no answer."""
    fresh = prior_answer is not None
    answer = prior_answer if prior_answer is not None else client.query(attempt.out_trade_no)
    deadline = time.monotonic() + wait
    doubts = 0
    while True:
        if answer.outcome is Outcome.PAID:
            if answer.amount_fen is not None and answer.amount_fen != attempt.amount_fen:
                return _reverse(attempt, client, _("{provider} took {taken} instead of {amount}").format(
                    provider=provider_label(attempt.provider), taken=format_money(answer.amount_fen),
                    amount=format_money(attempt.amount_fen)))
            return _mark(attempt, "paid", answer.message or answer.code, trade_no=answer.trade_no)
        if answer.outcome is Outcome.DECLINED:
            return _mark(attempt, "declined", answer.message or answer.code)
        if answer.outcome is Outcome.REVERSED:
            return _mark(attempt, "reversed", answer.message or answer.code)
        if answer.outcome is Outcome.NOT_SENT and fresh:
            return _mark(attempt, "declined", answer.message)  # the charge itself never reached the provider
        fresh = False
        if answer.outcome is Outcome.PAYING:
            if time.monotonic() >= deadline:
                return _reverse(attempt, client, _("the customer did not confirm in time"))
            if waiting is not None:
                waiting(_("Waiting for the customer to enter their payment password…"))
        else:  # unknown, or a question that did not reach the provider: asked twice more, then reversed
            doubts += 1
            if doubts > 2:
                return _reverse(attempt, client, answer.message or _("the outcome could not be learned"))
        sleep(poll)
        answer = client.query(attempt.out_trade_no)


def _reverse(attempt: PayAttempt, client: Provider, why: str) -> PayAttempt:
    """Reverse (撤销) an attempt whose outcome is in doubt or unwanted — given back if it was taken, closed if
    not; asked up to three times (WeChat's ``recall``, Alipay's ``retry_flag``). Pending when no answer came."""
    for _try in range(3):
        answer = client.cancel(attempt.out_trade_no)
        if answer.outcome is Outcome.REVERSED:
            return _mark(attempt, "reversed", why)
    said = answer.message or answer.code
    return _mark(attempt, "pending", why if said in ("", why) else f"{why}; {said}")


def _book(attempt: PayAttempt, client: Provider, book: Callable[[Charged], R]) -> R:
    charged = Charged(attempt.id, attempt.provider, attempt.out_trade_no, attempt.trade_no, attempt.amount_fen)
    try:
        result = book(charged)
    except Exception as exc:
        if _booked(attempt.txid) is not None:
            raise  # it was booked (by an earlier try): nothing to give back
        back = _reverse(attempt, client, _("what it paid for was refused"))
        said = str(exc) if isinstance(exc, DomainError) else _("The operation could not be saved.")
        if back.status == "reversed":
            raise PaymentGivenBack(_("{reason} The {amount} taken by {provider} was given back.").format(
                reason=said, amount=format_money(attempt.amount_fen),
                provider=provider_label(attempt.provider))) from exc
        raise PaymentUncertain(_("{reason} {provider} took {amount} and could not be made to give it back yet; mms "
                                 "keeps trying (mms payments settle).").format(
            reason=said, amount=format_money(attempt.amount_fen), provider=provider_label(attempt.provider))) from exc
    transaction = _booked(attempt.txid)
    if transaction is not None and attempt.status != "booked":
        _mark(attempt, "booked", attempt.detail, transaction=transaction)
    return result


def _booked(txid: str) -> int | None:
    return Transaction.select(Transaction.id).where(Transaction.txid == txid).scalar()


def _same_amount(attempt: PayAttempt, amount_fen: int) -> None:
    if attempt.amount_fen != amount_fen:
        raise InvalidInput(_("This operation was already paid {paid} by payment code, not {amount}: start a new "
                             "sale.").format(paid=format_money(attempt.amount_fen), amount=format_money(amount_fen)))


def _mark(attempt: PayAttempt, status: str, detail: str, *, trade_no: str | None = None,
          transaction: int | None = None) -> PayAttempt:
    changes: dict = {"status": status, "detail": (detail or "")[:200], "updated_at": clock.now()}
    if trade_no:
        changes["trade_no"] = trade_no[:64]
    if transaction is not None:
        changes["transaction"] = transaction
    with write_transaction():
        PayAttempt.update(changes).where(PayAttempt.id == attempt.id).execute()
    return PayAttempt.get_by_id(attempt.id)


def _refusal(attempt: PayAttempt) -> DomainError:
    provider = provider_label(attempt.provider)
    if attempt.status == "pending":
        return PaymentUncertain(_("{provider} has not said whether it took {amount} ({detail}); mms keeps asking. "
                                  "Do not charge the customer again until it has.").format(
            provider=provider, amount=format_money(attempt.amount_fen), detail=attempt.detail))
    if attempt.status == "reversed":
        return PaymentDeclined(_("{provider}: nothing was taken — {detail}. Scan again or take another "
                                 "tender.").format(provider=provider, detail=attempt.detail))
    return PaymentDeclined(_("{provider} declined: {detail}. Nothing was taken: scan again or take another "
                             "tender.").format(provider=provider, detail=attempt.detail or "-"))


def settle_open(config: Mapping[str, object], *, older_than: dt.timedelta = OPEN_AFTER,
                client: Callable[[str], Provider] | None = None) -> list[Settled]:
    """Every attempt a desk left open (pending, or paid and not booked) at least ``older_than`` ago: asked about,
    booked when its operation was booked, reversed when money was taken for nothing, left open when the provider
    cannot be reached. What became of each."""
    cutoff = clock.now() - older_than
    done: list[Settled] = []
    for attempt in (PayAttempt.select().where(PayAttempt.status.in_(("pending", "paid")),
                                              PayAttempt.created_at <= cutoff).order_by(PayAttempt.id)):
        try:
            provider = client(attempt.provider) if client is not None else client_for(attempt.provider, config)
        except NotSetUp as exc:
            done.append(Settled(attempt.id, attempt.txid, attempt.provider, attempt.amount_fen, attempt.status,
                                str(exc)))
            continue
        transaction = _booked(attempt.txid)
        if attempt.status == "pending":
            attempt = _resolve(attempt, provider, prior_answer=None, wait=0, poll=0, waiting=None,
                               sleep=lambda _s: None)
        if attempt.status == "paid":
            if transaction is not None and _in_the_books(attempt, transaction):
                attempt = _mark(attempt, "booked", attempt.detail, transaction=transaction)
            else:
                attempt = _reverse(attempt, provider, _("taken but never booked (the desk stopped)"))
        done.append(Settled(attempt.id, attempt.txid, attempt.provider, attempt.amount_fen, attempt.status,
                            attempt.detail))
    return done


def _in_the_books(attempt: PayAttempt, transaction: int) -> bool:
    """Whether the operation's transaction took this charge among its tenders — not only that the operation was
    booked: a cashier who gave up on a code in doubt and took cash booked the sale without it (then the charge,
    found paid later, is given back)."""
    from mms_tui.models import Entry

    through = -int(Entry.select(peewee.fn.COALESCE(peewee.fn.SUM(Entry.amount), 0)).where(
        Entry.transaction == transaction, Entry.account == f"tender.{attempt.provider}").scalar() or 0)
    others = sum(a.amount_fen for a in PayAttempt.select().where(
        PayAttempt.txid == attempt.txid, PayAttempt.status == "booked", PayAttempt.provider == attempt.provider,
        PayAttempt.id != attempt.id))
    return through - others >= attempt.amount_fen


def booked_problems() -> list[str]:
    """Charges marked booked whose operation's transaction did not take them as a tender (for mms check): each as
    'attempt N (txid): …'."""
    found = []
    for attempt in PayAttempt.select().where(PayAttempt.status == "booked").order_by(PayAttempt.id):
        if attempt.transaction_id is None or not _in_the_books(attempt, attempt.transaction_id):
            found.append(_("attempt {id} ({txid}): booked, but its operation did not take {amount} through "
                           "{provider}").format(id=attempt.id, txid=attempt.txid,
                                                amount=format_money(attempt.amount_fen),
                                                provider=provider_label(attempt.provider)))
    return found


def open_attempts(older_than: dt.timedelta = OPEN_AFTER) -> list[PayAttempt]:
    """Attempts still open at least ``older_than`` after they began (for mms check and mms doctor)."""
    cutoff = clock.now() - older_than
    return list(PayAttempt.select().where(PayAttempt.status.in_(("pending", "paid")),
                                          PayAttempt.created_at <= cutoff).order_by(PayAttempt.id))


def providers_configured(config: Mapping[str, object]) -> list[str]:
    """The providers with a section in the ``[payments]`` settings (whether usable or not: config_problems)."""
    return [name for name in ("wechat", "alipay") if isinstance(config.get(name), Mapping) and config.get(name)]


def config_problems(config: Mapping[str, object]) -> list[str]:
    """What keeps each configured provider from being used (a missing id, an unreadable key file), one line each,
    never a secret's value."""
    problems = []
    for name in providers_configured(config):
        try:
            client_for(name, config)
        except NotSetUp as exc:
            problems.append(str(exc))
    for key in ("wait_seconds", "poll_seconds"):
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not
                                  0 < value <= 300):
            problems.append(_("[payments] {key} is a number of seconds from 1 to 300.").format(key=key))
    return problems


def attempts(day: dt.date | None = None, *, still_open: bool = False) -> list[PayAttempt]:
    """The attempts begun on ``day`` (a day of this desk's store; None: every day), newest first; ``still_open``:
    only those pending or paid and not booked."""
    query = PayAttempt.select().order_by(PayAttempt.id.desc())
    if day is not None:
        start = dt.datetime.combine(day, dt.time())
        query = query.where(PayAttempt.created_at >= start, PayAttempt.created_at < start + dt.timedelta(days=1))
    if still_open:
        query = query.where(PayAttempt.status.in_(("pending", "paid")))
    return list(query)


# --- refunds through the provider ------------------------------------------------------------------------------


def out_refund_no_for(refund_txid: str, attempt: PayAttempt) -> str:
    """The provider's key of one refund of one charge: from the refund's txid and the charge's, so the same refund
    asked again (a retry, a crash) is the same refund to the provider, never a second."""
    return "R" + hashlib.sha256(f"{refund_txid}\n{attempt.out_trade_no}".encode()).hexdigest()[:31]


def booked_attempts(txid: str) -> list[PayAttempt]:
    """The charges that paid the operation ``txid`` (booked)."""
    return list(PayAttempt.select().where(PayAttempt.txid == txid, PayAttempt.status == "booked")
                .order_by(PayAttempt.attempt))


def code_refundable(txid: str, *, but: str | None = None) -> dict[str, int]:
    """provider → what payment codes paid for the operation ``txid`` and is not yet refunded through them (``but``:
    leaving the refund of that txid out, as if it were not made yet)."""
    from mms_tui.models import PayRefund

    left: dict[str, int] = {}
    for attempt in booked_attempts(txid):
        back = sum(r.amount_fen for r in PayRefund.select().where(PayRefund.attempt == attempt.id,
                                                                   PayRefund.status == "refunded",
                                                                   PayRefund.txid != (but or "")))
        if attempt.amount_fen > back:
            left[attempt.provider] = left.get(attempt.provider, 0) + attempt.amount_fen - back
    return left


def refund_asked(refund_txid: str) -> int:
    """What the refund ``refund_txid`` asked the providers to give back (refused asks left out)."""
    from mms_tui.models import PayRefund

    return sum(r.amount_fen for r in PayRefund.select().where(PayRefund.txid == refund_txid,
                                                              PayRefund.status != "failed"))


def refunded_by_code(refund_txid: str) -> dict[str, int]:
    """provider → what the refund ``refund_txid`` gave back through payment codes' providers."""
    from mms_tui.models import PayRefund

    given: dict[str, int] = {}
    for provider, amount in (PayRefund.select(PayAttempt.provider, PayRefund.amount_fen).join(PayAttempt)
                             .where(PayRefund.txid == refund_txid, PayRefund.status == "refunded").tuples()):
        given[provider] = given.get(provider, 0) + amount
    return given


def refund_by_code(original_txid: str, refund_txid: str, staff: Staff, reason: str, config: Mapping[str, object], *,
                   amount_fen: int | None = None, client: Callable[[str], Provider] | None = None) -> int:
    """Give back through the provider what payment codes paid for ``original_txid`` (``amount_fen``: that much of
    it, a partial refund; None: all), keyed by ``refund_txid`` so that asking again refunds nothing twice. Returns
    the fen refunded. PaymentDeclined when the provider refuses (nothing refunded), PaymentUncertain when it did
    not answer (ask again with the same refund txid)."""
    from mms_tui.models import PayRefund

    charges = booked_attempts(original_txid)
    others = {a.id: sum(r.amount_fen for r in PayRefund.select().where(
        PayRefund.attempt == a.id, PayRefund.status != "failed", PayRefund.txid != refund_txid)) for a in charges}
    mine = {a.id: r for a in charges
            if (r := PayRefund.get_or_none(PayRefund.attempt == a.id, PayRefund.txid == refund_txid)) is not None}
    available = sum(a.amount_fen - others[a.id] for a in charges)
    asked = sum(r.amount_fen for r in mine.values())
    if mine and amount_fen is not None and amount_fen != asked:  # the same refund asked again for another amount
        raise InvalidInput(_("This refund was already asked of the provider for {amount}: ask it again for the same "
                             "amount (it is not given twice), or start a new refund.").format(
            amount=format_money(asked)))
    left = (asked or available) if amount_fen is None else amount_fen
    if not isinstance(left, int) or left <= 0:
        raise InvalidInput(_("Nothing paid by payment code is left to refund."))
    if left > available:  # said before anything moves
        waiting = (PayRefund.select(PayRefund, PayAttempt).join(PayAttempt)
                   .where(PayRefund.attempt.in_([a.id for a in charges]), PayRefund.status == "pending",
                          PayRefund.txid != refund_txid).order_by(PayRefund.id).first())
        if waiting is not None:  # the money is held by a refund asked and not answered, not gone
            raise InvalidInput(_("Refund {txid} asked {provider} for {amount} and has no answer yet: ask it again "
                                 "first (it is never given twice); then what is left can be refunded.").format(
                txid=waiting.txid, provider=provider_label(waiting.attempt.provider),
                amount=format_money(waiting.amount_fen)))
        raise InvalidInput(_("Only {amount} paid by payment code is left to refund.").format(
            amount=format_money(available)))
    refunded = 0
    for attempt in charges:
        already = others[attempt.id]
        row = mine.get(attempt.id)
        share = row.amount_fen if row is not None else min(left, attempt.amount_fen - already)
        if share <= 0:
            continue
        # the provider's client first: settings that cannot be used (NotSetUp) leave no refund asked
        provider = client(attempt.provider) if client is not None else client_for(attempt.provider, config)
        if row is None:
            with write_transaction():
                now = clock.now()
                row = PayRefund.create(attempt=attempt, txid=refund_txid,
                                       out_refund_no=out_refund_no_for(refund_txid, attempt), amount_fen=share,
                                       status="pending", staff=staff, created_at=now, updated_at=now)
        if row.status != "refunded":
            answer = provider.refund(attempt.out_trade_no, row.out_refund_no, attempt.amount_fen, share, reason)
            label = provider_label(attempt.provider)
            if answer.outcome is Outcome.PAID:
                status = "refunded"
            elif answer.outcome is Outcome.DECLINED:
                status = "failed"
            else:
                status = "pending"
            with write_transaction():
                PayRefund.update(status=status, refund_no=answer.trade_no[:64] or row.refund_no,
                                 detail=(answer.message or answer.code)[:200], updated_at=clock.now()).where(
                    PayRefund.id == row.id).execute()
            if status == "failed":
                raise PaymentDeclined(_("{provider} refused to refund {amount}: {detail}. Nothing was given back "
                                        "through it.").format(provider=label, amount=format_money(share),
                                                              detail=answer.message or answer.code))
            if status == "pending":
                raise PaymentUncertain(_("{provider} has not confirmed the refund of {amount} ({detail}): try the "
                                         "refund again — it will not be given twice.").format(
                    provider=label, amount=format_money(share), detail=answer.message or answer.code))
        refunded += share
        left -= share
        if left <= 0:
            break
    return refunded

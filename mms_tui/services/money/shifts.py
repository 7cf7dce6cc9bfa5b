"""交班: a staff member's drawer from opening to close, reconciled against the ledger.

A shift opens when a staff member starts working a desk at a store (:func:`open_shift`, at login). What the drawer
should hold is never typed in or kept as a running total: it is read from the ledger, the tender entries of that
staff member's operations at that store within the shift — sales, top-ups, card sales and renewals, refunds (which
pay out), fees collected at checkout — plus the float (备用金) the drawer started with. A shift covers what was
done since that staff member's previous close at that store (or since it opened, for a first shift), so every
operation falls in exactly one shift.

At close (:func:`close_shift`, idempotent by txid) the staff member enters what they counted per tender; expected,
counted and the difference (over/short) are kept on the shift and in the audit, and the shift report is what the
desk prints or shows. A manager sees and may close anyone's shift; a cashier only their own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field

import peewee

from mms_tui import clock
from mms_tui.db import retrying, write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import Entry, Sale, SaleLine, Shift, Staff, Store, Transaction
from mms_tui.services.base.config import get_config
from mms_tui.services.base.errors import InvalidInput, NotFound, TxidConflict
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger.operations import audit, fingerprint
from mms_tui.services.ledger.tenders import MONEY_TENDERS, tender_label
from mms_tui.services.staff.permissions import may, require

#: how the shift report groups operations by their kind
KIND_GROUPS = {"checkout": "sales", "refund": "refunds", "refund_part": "refunds", "topup": "topups", "issue": "cards",
               "renew": "cards"}
GROUP_NAMES = {"sales": N_("Sales"), "refunds": N_("Refunds"), "topups": N_("Top-ups"), "cards": N_("Card sales"),
               "other": N_("Other")}


@dataclass(frozen=True)
class ShiftSummary:
    shift_id: int
    staff_code: str
    staff_name: str
    store_code: str
    store_name: str
    opened_at: str
    since: str  # operations after this moment count (the previous close, or the opening)
    closed_at: str | None
    float_fen: int
    #: money taken in (+) or paid out (−) per tender and per group of operations (sales, refunds, top-ups, cards)
    by_group: dict[str, dict[str, int]]
    counts: dict[str, int]  # operations per group
    fees_fen: int  # of the sales, fees collected (joining, annual, late)
    expected: dict[str, int]  # per money tender; cash includes the float
    counted: dict[str, int] = field(default_factory=dict)  # at close
    over_short: dict[str, int] = field(default_factory=dict)  # counted − expected, per tender
    closed_by: str | None = None
    close_txid: str | None = None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def over_short_fen(self) -> int:
        return sum(self.over_short.values())

    @property
    def net(self) -> dict[str, int]:
        """Money in per tender, all groups together (the float not included)."""
        total: dict[str, int] = dict.fromkeys(MONEY_TENDERS, 0)
        for amounts in self.by_group.values():
            for tender, amount in amounts.items():
                total[tender] = total.get(tender, 0) + amount
        return total


def _stamp(value: object) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _since(shift: Shift) -> dt.datetime:
    """Where the shift's span starts: the close of the same staff member's previous shift at the store."""
    previous = (Shift.select(peewee.fn.MAX(Shift.closed_at))
                .where((Shift.staff == shift.staff_id) & (Shift.store == shift.store_id) & (Shift.id != shift.id)
                       & Shift.closed_at.is_null(False) & (Shift.closed_at <= shift.opened_at)).scalar())
    # a first shift: what the staff member did in the second it opened counts too
    return _stamp(previous) if previous is not None else _stamp(shift.opened_at) - dt.timedelta(seconds=1)


def _in_span(shift: Shift, until: dt.datetime) -> peewee.Expression:
    return ((Transaction.staff == shift.staff_id) & (Transaction.store == shift.store_id)
            & (Transaction.created_at > _since(shift)) & (Transaction.created_at <= until))


def shift_of(tx: Transaction) -> Shift | None:
    """The shift an operation falls in: the first of its staff member's shifts at its store that closed at or after
    it, or the one still open — when the operation came after that shift's start (see :func:`_since`). None for an
    operation in no shift (made from the command line before the staff member's first shift opened)."""
    created = _stamp(tx.created_at)
    shift = (Shift.select()
             .where((Shift.staff == tx.staff_id) & (Shift.store == tx.store_id)
                    & (Shift.closed_at.is_null() | (Shift.closed_at >= created)))
             .order_by(Shift.closed_at.is_null(), Shift.closed_at, Shift.id).first())
    return shift if shift is not None and created > _since(shift) else None


def shift_summary(shift: Shift, until: dt.datetime | None = None) -> ShiftSummary:
    """The shift as the ledger has it up to ``until`` (its close, or now)."""
    staff = Staff.get_by_id(shift.staff_id)
    store = Store.get_by_id(shift.store_id)
    if shift.closed_at is not None:
        until = _stamp(shift.closed_at)
    until = until or clock.now()
    span = _in_span(shift, until)
    by_group: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MONEY_TENDERS, 0))
    for kind, account, amount in (
        Entry.select(Transaction.kind, Entry.account, peewee.fn.SUM(Entry.amount)).join(Transaction)
        .where(span & Entry.account.startswith("tender.")).group_by(Transaction.kind, Entry.account).tuples()
    ):
        tender = account.removeprefix("tender.")
        if tender in MONEY_TENDERS:
            by_group[KIND_GROUPS.get(kind, "other")][tender] -= int(amount)  # entries are signed from the member's side
    counts: dict[str, int] = defaultdict(int)
    for kind, n in Transaction.select(Transaction.kind, peewee.fn.COUNT(Transaction.id)).where(span).group_by(
            Transaction.kind).tuples():
        if kind in KIND_GROUPS:
            counts[KIND_GROUPS[kind]] += int(n)
    from mms_tui.services.money.fees import FEE_CATEGORY

    fees = (SaleLine.select(peewee.fn.SUM(SaleLine.line_total_fen)).join(Sale).join(Transaction)
            .where(span & (SaleLine.category == FEE_CATEGORY)).scalar())
    expected = dict.fromkeys(MONEY_TENDERS, 0)
    for amounts in by_group.values():
        for tender, amount in amounts.items():
            expected[tender] += amount
    expected["cash"] += shift.float_fen
    counted = json.loads(shift.counted_json or "{}")
    if shift.closed_at is not None:
        expected = json.loads(shift.expected_json or "{}") or expected
    over = {t: counted[t] - expected.get(t, 0) for t in counted}
    closer = Staff.get_by_id(shift.closed_by_id).code if shift.closed_by_id else None
    return ShiftSummary(shift.id, staff.code, staff.name, store.code, store.name, str(shift.opened_at)[:19],
                        str(_since(shift))[:19], str(shift.closed_at)[:19] if shift.closed_at else None,
                        shift.float_fen, {g: dict(v) for g, v in by_group.items()}, dict(counts), int(fees or 0),
                        expected, counted, over, closer, shift.close_txid)


def _open(staff: Staff, store: Store) -> Shift | None:
    return Shift.get_or_none((Shift.staff == staff.id) & (Shift.store == store.id) & Shift.closed_at.is_null())


def open_shift(staff: Staff, store: Store | str | None = None) -> ShiftSummary:
    """The staff member's open shift at the store, opened now (with the configured float) if there is none."""
    store_obj = resolve_store(store, staff, writing=True)

    def attempt() -> Shift:
        with write_transaction():
            shift = _open(staff, store_obj)
            if shift is None:
                shift = Shift.create(staff=staff.id, store=store_obj.id, opened_at=clock.now(),
                                     float_fen=int(get_config("shift_float_fen") or 0))
                audit("shift.open", f"shift:{shift.id}", staff=staff, store=store_obj,
                      payload={"float_fen": shift.float_fen})
            return shift

    try:
        shift = retrying(attempt)
    except peewee.IntegrityError:  # another desk of the same staff member opened it at the same moment
        shift = _open(staff, store_obj)
        if shift is None:
            raise
    return shift_summary(shift)


def current_shift(staff: Staff, store: Store | str | None = None) -> ShiftSummary | None:
    """The staff member's open shift at the store as it stands now, or None."""
    shift = _open(staff, resolve_store(store, staff))
    return shift_summary(shift) if shift is not None else None


def _clean_counted(counted: dict[str, int], expected: dict[str, int]) -> dict[str, int]:
    clean: dict[str, int] = {}
    for tender, amount in counted.items():
        if tender not in MONEY_TENDERS:
            raise InvalidInput(_("Unknown tender {tender!r}.").format(tender=tender))
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise InvalidInput(_("A counted amount is a whole number of fen, zero or more."))
        clean[tender] = amount
    if "cash" not in clean:
        raise InvalidInput(_("Count the cash in the drawer: the cash counted is required."))
    for tender in MONEY_TENDERS:  # the slips of the other tenders are taken as expected unless counted
        clean.setdefault(tender, expected.get(tender, 0))
    return clean


def close_shift(staff: Staff | str, counted: dict[str, int], txid: str, *, by: Staff | None = None,
                store: Store | str | None = None, note: str = "") -> ShiftSummary:
    """Close ``staff``'s open shift at the store with what was counted per tender (cash required; a tender not
    counted is taken as expected). ``by`` closes it when it is not the staff member's own (a manager). The same
    txid returns the same close."""
    from mms_tui.services.base.resolve import resolve_staff

    staff = resolve_staff(staff)
    by = by or staff
    if by.id != staff.id:
        require(by, "shift.others")
    store_obj = resolve_store(store, staff)
    request = fingerprint("shift.close", {"staff": staff.id, "store": store_obj.id,
                                          "counted": dict(sorted(counted.items())), "note": note})

    def replay(shift: Shift) -> ShiftSummary:
        if json.loads(shift.result_json or "{}").get("request") != request:
            raise TxidConflict(_(
                "Operation {txid} was already submitted with different content; nothing was changed.").format(
                txid=txid))
        return shift_summary(shift)

    def attempt() -> ShiftSummary:
        with write_transaction():
            done = Shift.get_or_none(Shift.close_txid == txid)
            if done is not None:
                return replay(done)
            shift = _open(staff, store_obj)
            if shift is None:
                raise NotFound(_("{name} has no open shift at {store}.").format(name=staff.name,
                                                                               store=store_obj.name))
            moment = clock.now()
            summary = shift_summary(shift, moment)
            clean = _clean_counted(counted, summary.expected)
            over = {t: clean[t] - summary.expected[t] for t in MONEY_TENDERS}
            Shift.update(closed_at=moment, closed_by=by.id, close_txid=txid, note=note,
                         expected_json=json.dumps(summary.expected), counted_json=json.dumps(clean),
                         over_short_fen=sum(over.values()),
                         result_json=json.dumps({"request": request})).where(Shift.id == shift.id).execute()
            audit("shift.close", f"shift:{shift.id}", staff=by, store=store_obj, txid=txid,
                  payload={"staff": staff.code, "expected": summary.expected, "counted": clean, "over_short": over,
                           "note": note})
            return shift_summary(Shift.get_by_id(shift.id))

    try:
        return retrying(attempt)
    except peewee.IntegrityError:  # the same txid closed it from another desk at the same moment
        done = Shift.get_or_none(Shift.close_txid == txid)
        if done is None:
            raise
        return replay(done)


def shifts_of_day(viewer: Staff, store: Store | str | None = None, day: dt.date | None = None
                  ) -> list[ShiftSummary]:
    """The shifts open during ``day`` at the store, open and closed: every one for a manager, the viewer's own
    otherwise."""
    store_obj = resolve_store(store, viewer)
    day = day or clock.today()
    start = dt.datetime.combine(day, dt.time())
    end = start + dt.timedelta(days=1)
    query = Shift.select().where((Shift.store == store_obj.id) & (Shift.opened_at < end)
                                 & (Shift.closed_at.is_null() | (Shift.closed_at >= start)))
    if not may(viewer, "shift.others"):
        query = query.where(Shift.staff == viewer.id)
    return [shift_summary(s) for s in query.order_by(Shift.opened_at, Shift.id)]


def shift_report_lines(summary: ShiftSummary, *, width: int = 32) -> list[str]:
    """The shift report, as the desk shows it and a receipt printer prints it (``width`` columns)."""
    from mms_tui.services.base.text import fit

    def row(left: str, right: str) -> str:
        return fit(left, width - len(right) - 1) + " " + right

    lines = [fit(_("Shift {name} ({code})").format(name=summary.staff_name, code=summary.staff_code), width),
             fit(summary.store_name, width),
             _("From {start}").format(start=summary.since[:16]),
             _("To {end}").format(end=(summary.closed_at or str(clock.now()))[:16]), "-" * width]
    for group in ("sales", "refunds", "topups", "cards", "other"):
        amounts = summary.by_group.get(group)
        if not amounts or not any(amounts.values()):
            continue
        count = summary.counts.get(group)
        lines.append(_(GROUP_NAMES[group]) + (f" ×{count}" if count else ""))
        lines += [row("  " + tender_label(t), format_money(a)) for t, a in amounts.items() if a]
    if summary.fees_fen:
        lines.append(row("  " + _("of which fees"), format_money(summary.fees_fen)))
    lines.append("-" * width)
    if summary.float_fen:
        lines.append(row(_("Float"), format_money(summary.float_fen)))
    for tender in MONEY_TENDERS:
        expected = summary.expected.get(tender, 0)
        if summary.closed and tender in summary.counted:
            counted = summary.counted[tender]
            if not (expected or counted):
                continue
            lines.append(tender_label(tender))
            lines.append(row("  " + _("expected"), format_money(expected)))
            lines.append(row("  " + _("counted"), format_money(counted)))
            diff = summary.over_short.get(tender, 0)
            if diff:
                lines.append(row("  " + (_("over") if diff > 0 else _("short")), format_money(abs(diff))))
        elif expected:
            lines.append(row(_("{tender} expected").format(tender=tender_label(tender)), format_money(expected)))
    if summary.closed:
        diff = summary.over_short_fen
        lines.append("-" * width)
        lines.append(row(_("Over") if diff > 0 else _("Short") if diff < 0 else _("Balanced"),
                         format_money(abs(diff))))
        if summary.closed_by and summary.closed_by != summary.staff_code:
            lines.append(_("Closed by {code}").format(code=summary.closed_by))
    return lines

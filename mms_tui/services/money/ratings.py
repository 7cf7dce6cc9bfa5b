"""服务评价: a member's 1–5 rating of the staff member who performed a service, recorded at the desk after the
service. One per service line and performer, never changed; ``mms report service`` averages them."""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Commission, SaleLine, ServiceRating, Staff, Transaction
from mms_tui.services.base.errors import DomainError, InvalidInput, NotFound
from mms_tui.services.base.resolve import resolve_staff
from mms_tui.services.ledger.operations import audit


class AlreadyRated(DomainError):
    code = "already_rated"


@dataclass(frozen=True)
class Performed:
    """A service line of a sale and one of its performers: what can be rated."""

    line_id: int
    code: str
    name: str
    staff_code: str
    staff_name: str
    rating: int | None


def performed(txid: str) -> list[Performed]:
    """The service lines of the sale ``txid`` with their performers (lead or assistant), and any rating given."""
    tx = Transaction.get_or_none(Transaction.txid == txid)
    if tx is None:
        raise NotFound(_("No sale {txid}.").format(txid=txid))
    rows = (Commission.select(SaleLine.id, SaleLine.code, SaleLine.name, Staff.code, Staff.name, ServiceRating.rating)
            .join(SaleLine).switch(Commission).join(Staff)
            .join(ServiceRating, on=((ServiceRating.line == Commission.line) & (ServiceRating.staff == Commission.staff)),
                  join_type=peewee.JOIN.LEFT_OUTER)
            .where((Commission.transaction == tx.id) & Commission.reverses.is_null()
                   & Commission.role.in_(("lead", "assistant")) & SaleLine.service.is_null(False))
            .order_by(SaleLine.id, Staff.code).tuples())
    return [Performed(*row) for row in rows]


def rate_service(txid: str, staff: Staff | str, rating: int, recorded_by: Staff, *, line_code: str | None = None,
                 ) -> Performed:
    """Record ``rating`` (1–5) for ``staff``'s service on the sale ``txid`` (``line_code`` when they performed more
    than one of its services). Refused: a rating outside 1–5, a staff member who performed no service on that sale,
    a second rating of the same line and performer."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidInput(_("A rating is a whole number from 1 to 5."))
    performer = resolve_staff(staff)
    lines = [p for p in performed(txid) if p.staff_code == performer.code
             and (line_code is None or p.code == line_code)]
    if not lines:
        raise InvalidInput(_("{staff} performed no service on the sale {txid}{line}.").format(
            staff=performer.code, txid=txid, line=f" ({line_code})" if line_code else ""))
    if len(lines) > 1:
        raise InvalidInput(_("{staff} performed {n} services on this sale: say which ({codes}).").format(
            staff=performer.code, n=len(lines), codes=", ".join(p.code for p in lines)))
    target = lines[0]
    if target.rating is not None:
        raise AlreadyRated(_("{staff}'s {service} on this sale is rated {rating} already.").format(
            staff=performer.code, service=target.name, rating=target.rating))
    with write_transaction():
        if ServiceRating.select().where((ServiceRating.line == target.line_id)
                                        & (ServiceRating.staff == performer.id)).exists():
            raise AlreadyRated(_("{staff}'s {service} on this sale is rated already.").format(
                staff=performer.code, service=target.name))
        ServiceRating.create(line=target.line_id, staff=performer, rating=rating, recorded_by=recorded_by)
        audit("service.rate", f"line:{target.line_id}", staff=recorded_by, store=None, txid=txid,
              payload={"performer": performer.code, "rating": rating})
    return Performed(target.line_id, target.code, target.name, target.staff_code, target.staff_name, rating)

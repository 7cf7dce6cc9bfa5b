"""What a manager sets for stock: a product's base unit, low-stock thresholds per product and store, a store's
negative-stock policy, and what a service consumes. Each change is audited."""

from __future__ import annotations

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import (
    NEGATIVE_STOCK_POLICIES,
    STOCK_UNITS,
    ServiceConsumption,
    ServiceItem,
    Staff,
    StockLevel,
    StockMove,
    Store,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require
from mms_tui.services.stock.common import product_of, store_for, whole_qty
from mms_tui.services.stock.levels import start_counting


def set_low(staff: Staff, key: str, at: int | None, *, store: Store | str | None = None) -> None:
    """The product is low at the store at or below ``at`` (None: no threshold). Starts counting it there."""
    store_obj = store_for(staff, store, "stock.manage")
    product = product_of(key)
    if at is not None:
        whole_qty(at, product.code, allow_zero=True)
    with write_transaction():
        start_counting(store_obj.id, [product.id])
        StockLevel.update(low_at=at).where((StockLevel.store == store_obj.id)
                                           & (StockLevel.product == product.id)).execute()
        audit("stock.low_at", f"product:{product.id}", staff=staff, store=store_obj, payload={"low_at": at})


def set_policy(staff: Staff, policy: str, *, store: Store | str | None = None) -> None:
    """Whether a sale below zero is refused (``refuse``) or allowed with a warning (``warn``) at the store."""
    store_obj = store_for(staff, store, "stock.manage")
    if policy not in NEGATIVE_STOCK_POLICIES:
        raise InvalidInput(_("The negative-stock policy is refuse or warn, not {value!r}.").format(value=policy))
    with write_transaction():
        Store.update(negative_stock=policy).where(Store.id == store_obj.id).execute()
        audit("stock.policy", f"store:{store_obj.id}", staff=staff, store=store_obj, payload={"policy": policy})


def set_unit(staff: Staff, key: str, unit: str) -> None:
    """A product's base unit; fixed once it has moved stock (its quantities would change meaning)."""
    require(staff, "stock.manage")
    product = product_of(key)
    if unit not in STOCK_UNITS:
        raise InvalidInput(_("A unit is one of {units}, not {value!r}.").format(units=", ".join(STOCK_UNITS),
                                                                               value=unit))
    with write_transaction():
        if unit == product.unit:
            return
        if StockMove.select().where(StockMove.product == product.id).exists():
            raise InvalidInput(_("{code} has stock movements in {unit}; its unit cannot change now.").format(
                code=product.code, unit=product.unit))
        type(product).update(unit=unit).where(type(product).id == product.id).execute()
        audit("stock.unit", f"product:{product.id}", staff=staff, store=None, payload={"unit": unit})


def set_consumption(staff: Staff, service_code: str, key: str, qty: int) -> None:
    """Each unit of the service sold takes ``qty`` of the product (0: no longer)."""
    require(staff, "stock.manage")
    service = ServiceItem.get_or_none(ServiceItem.code == (service_code or "").strip().upper())
    if service is None:
        raise InvalidInput(_("No service has the code {code}.").format(code=service_code))
    product = product_of(key)
    whole_qty(qty, product.code, allow_zero=True)
    with write_transaction():
        ServiceConsumption.delete().where((ServiceConsumption.service == service.id)
                                          & (ServiceConsumption.product == product.id)).execute()
        if qty:
            ServiceConsumption.create(service=service, product=product, qty=qty)
        audit("stock.consumption", f"service_item:{service.id}", staff=staff, store=None,
              payload={"product": product.code, "qty": qty})


def consumption() -> list[tuple[str, str, int, str]]:
    """(service code, product code, qty, unit) of every service that consumes a product."""
    from mms_tui.models import Product

    return [(s, p, q, u) for s, p, q, u in ServiceConsumption.select(ServiceItem.code, Product.code,
                                                                     ServiceConsumption.qty, Product.unit)
            .join(ServiceItem).switch(ServiceConsumption).join(Product)
            .order_by(ServiceItem.code, Product.code).tuples()]

"""The one place every role check is decided.

Roles rank cashier < manager < admin (:func:`has_role`). Permissions are named (:data:`PERMISSIONS`), each with the
least role that has it; a screen or a command asks :func:`may` to decide what to offer and the service itself
calls :func:`require`, so no entry point can skip a check.
"""

from __future__ import annotations

from mms_tui.i18n import N_, _
from mms_tui.models import Staff, Store
from mms_tui.services.base.errors import (
    PermissionDenied,
)
from mms_tui.services.base.resolve import resolve_store, up_the_tree

ROLE_RANK = {"cashier": 0, "manager": 1, "admin": 2}
ROLE_NAMES = {"cashier": N_("cashier"), "manager": N_("manager"), "admin": N_("admin")}

#: every permission the product checks, and the least role that has it
PERMISSIONS: dict[str, str] = {
    "refund": "manager",  # undo a sale, a top-up, a check-in, a card issue, a gift
    "commissions.allow": "manager",  # credit a performer with a service they are not set up to perform
    "topup.bonus": "manager",  # give a top-up bonus other than the loyalty rules'
    "topup.batch": "manager",  # 企业批量充值: post a company's batch of top-ups (services/money/topup_batch.py)
    "rules.edit": "manager",  # change the loyalty rules
    "backoffice.open": "manager",  # open the manager's area at the desk (each change there checks its own)
    "coupons.issue": "manager",  # hand out coupons, one or in bulk
    "shift.others": "manager",  # see and close other staff members' shifts
    "staff.unlock": "manager",  # lift a PIN lockout
    "import": "manager",  # import members with opening balances, or products with prices
    "erase": "manager",  # erase a member's personal data (PIPL)
    "members.fields": "manager",  # define the shop's own member fields
    "tiers.edit": "manager",  # add tiers, change what they give and take (their level in the loyalty rules)
    "catalogue.edit": "manager",  # add, change, disable or enable products and services, and their prices
    "staff.manage": "manager",  # add, edit, disable, enable staff and reset PINs (of their own store: manages)
    "attendance.correct": "manager",  # correct, take away or add staff punches (of their own store: in_store_scope)
    "roster.edit": "manager",  # set staff rosters and their exceptions (of their own store)
    "reports.read": "manager",  # run the reports and see the stores' figures (of their own subtree: in_store_scope)
    "export": "manager",  # take members, cards, the ledger, sales or a member's data out to a file (of their subtree)
    "audit.read": "manager",  # list the audited events (of their own store: may_see_store)
    "stores.manage": "admin",  # add, rename, move and close stores
    "stores.edit": "manager",  # a store's address, phone and receipt header (a manager: their own stores)
    "rooms.manage": "manager",  # add rooms and resources to a store, and take them out of use (their own stores)
    "stock.receive": "cashier",  # take goods in at their own store (入库, by scanning at the desk)
    "stock.count": "cashier",  # count stock at their own store (盘点 by scanning); posting it needs stock.approve
    "stock.approve": "manager",  # post a count's variances, adjust stock by hand
    "stock.transfer": "manager",  # send goods to another store (调拨); receiving them is stock.receive
    "stock.manage": "manager",  # suppliers, returns to them, low-stock thresholds, negative-stock policy, consumption
    "messages.templates": "manager",  # word what each trigger sends (消息模板)
    "messages.campaign": "manager",  # send a campaign to members (群发), after its preview
    "messages.read": "manager",  # what was sent to whom (the message log and report)
    "tickets.assign": "manager",  # give a member's service ticket to another staff member
    "classes.manage": "manager",  # class types, a store's timetable, generating and cancelling its sessions
    "prompts.dismiss": "cashier",  # put away a prompt from the member's pattern (顾客消费提醒) at the desk
}


def has_role(staff: Staff | None, role: str) -> bool:
    """Whether ``staff`` holds ``role`` or one above it."""
    return staff is not None and ROLE_RANK.get(staff.role, -1) >= ROLE_RANK[role]


def may(staff: Staff | None, permission: str) -> bool:
    """Whether ``staff`` has ``permission`` (a name of :data:`PERMISSIONS`): what a screen asks before offering a
    key, and what :func:`require` enforces in the service."""
    return has_role(staff, PERMISSIONS[permission])


def require(staff: Staff, permission: str) -> None:
    """Refuse, saying who may, unless ``staff`` has ``permission``."""
    if not may(staff, permission):
        require_role(staff, PERMISSIONS[permission])


def require_role(staff: Staff, role: str) -> None:
    """Refuse, saying who may, unless ``staff`` holds ``role`` or one above it."""
    if not has_role(staff, role):
        raise PermissionDenied(
            _("{name} ({role}) may not do this; a {needed} must.").format(
                name=staff.name, role=_(ROLE_NAMES.get(staff.role, staff.role)), needed=_(ROLE_NAMES[role]))
        )


def in_store_scope(staff: Staff, store_id: int | None) -> bool:
    """Whether ``store_id`` lies in the stores ``staff`` looks after: an admin's is every store; anyone else's is
    their own store and the stores below it in the tree (a region's manager looks after the region's stores; a
    manager without a store looks after none)."""
    if has_role(staff, "admin"):
        return True
    if staff.store_id is None or store_id is None:
        return False
    return store_id == staff.store_id or staff.store_id in up_the_tree(store_id)


def may_work_at(staff: Staff, store_id: int) -> bool:
    """Whether ``staff`` may work a desk opened for ``store_id``: admins anywhere, everyone else at their own
    store. An account bound to no store (made before staff were bound to stores) is not held to one."""
    return staff.store_id is None or in_store_scope(staff, store_id)


def scoped_node(viewer: Staff, store: str | None) -> str | None:
    """The node of the store tree ``viewer`` may see the figures of (a report, an export): the one named if it lies
    in their scope (an admin's: the chain), their own store without one; anything else is refused, naming it."""
    if has_role(viewer, "admin"):
        return store
    if viewer.store_id is None:
        raise PermissionDenied(_("{name} belongs to no store, so sees no store's figures.").format(name=viewer.name))
    if not store:
        return Store.get_by_id(viewer.store_id).code
    node = resolve_store(store)
    if not in_store_scope(viewer, node.id):
        raise PermissionDenied(_("{name} sees the figures of {own} and the stores below it, not of {other}.").format(
            name=viewer.name, own=Store.get_by_id(viewer.store_id).name, other=node.name))
    return node.code

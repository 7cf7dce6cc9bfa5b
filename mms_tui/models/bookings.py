"""预约 / 课程安排: appointments with a staff member (and a room when the service needs one), and group classes with
capacity and a waitlist (migration 19). The rules — conflicts, policies, promotion — live in services/bookings."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.catalog import ServiceItem
from mms_tui.models.members import Card, Member
from mms_tui.models.org import Staff, Store
from mms_tui.models.sales import Sale, Visit

#: an appointment: booked → arrived (checked in, then paid at checkout) | cancelled | no_show
BOOKING_STATUSES = ("booked", "arrived", "cancelled", "no_show")
#: a place in a class: booked | waitlisted (promoted in order) | cancelled | attended | no_show
CLASS_BOOKING_STATUSES = ("booked", "waitlisted", "cancelled", "attended", "no_show")


class Room(BaseModel):
    """A room or resource of a store (房间 / 床位 / 器械): a service that needs one books one of its rooms."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    store = peewee.ForeignKeyField(Store, backref="rooms", on_delete="RESTRICT")
    active = peewee.BooleanField(default=True)


class ServiceRoom(BaseModel):
    """A room that can host a service; a service with any such row needs one of them for each booking."""

    service = peewee.ForeignKeyField(ServiceItem, backref="room_links", on_delete="CASCADE")
    room = peewee.ForeignKeyField(Room, backref="service_links", on_delete="CASCADE")

    class Meta:
        table_name = "service_room"
        indexes = ((("service", "room"), True),)


class Booking(BaseModel):
    """One appointment: a member (or a walk-in's name and phone) with one staff member, from ``start`` to ``end``
    (the services' durations back to back), in a room when a service needs one. Never deleted: a cancellation or a
    no-show is a status with its moment, reason and the policy applied; an arrival links the check-in's sale."""

    txid = peewee.CharField(max_length=64, unique=True)
    store = peewee.ForeignKeyField(Store, backref="bookings", on_delete="RESTRICT")
    member = peewee.ForeignKeyField(Member, null=True, backref="bookings", on_delete="RESTRICT")
    guest_name = peewee.CharField(max_length=50, default="")
    guest_phone = peewee.CharField(max_length=30, default="")
    staff = peewee.ForeignKeyField(Staff, backref="bookings", on_delete="RESTRICT")
    room = peewee.ForeignKeyField(Room, null=True, backref="bookings", on_delete="RESTRICT")
    start = Moment()
    end = Moment()
    status = peewee.CharField(max_length=10, default="booked", constraints=[
        peewee.Check("status IN ('booked','arrived','cancelled','no_show')")])
    #: a recurring booking's occurrences share the txid of the request that made them
    series = peewee.CharField(max_length=64, null=True, index=True)
    note = peewee.TextField(default="")
    created_by = peewee.ForeignKeyField(Staff, backref="bookings_made", on_delete="RESTRICT")
    created_at = Moment(default=now)
    #: a cancellation, a no-show or a move: when, by whom, why, and what the policy did (``fee:2000``, ``visit``)
    closed_at = Moment(null=True)
    closed_by = peewee.ForeignKeyField(Staff, null=True, backref="bookings_closed", on_delete="RESTRICT")
    reason = peewee.TextField(default="")
    late = peewee.BooleanField(default=False)
    policy = peewee.CharField(max_length=30, default="")
    #: a fee the policy put on the member's next bill, and the checkout that collected it
    fee_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("fee_fen >= 0")])
    fee_txid = peewee.CharField(max_length=64, null=True)
    #: a move makes a new booking; the old one is cancelled and names it
    moved_to = peewee.ForeignKeyField("self", null=True, backref="moved_from", on_delete="RESTRICT")
    arrived_at = Moment(null=True)
    sale = peewee.ForeignKeyField(Sale, null=True, backref="bookings", on_delete="RESTRICT")
    #: for the member-messaging issue: when a reminder for this booking was sent
    reminded_at = Moment(null=True)

    class Meta:
        indexes = ((("staff", "start"), False), (("room", "start"), False), (("store", "start"), False),
                   (("member", "start"), False))


class BookingService(BaseModel):
    """A service of a booking, in the order they are performed, with its minutes as booked."""

    booking = peewee.ForeignKeyField(Booking, backref="services", on_delete="CASCADE")
    service = peewee.ForeignKeyField(ServiceItem, backref="bookings", on_delete="RESTRICT")
    position = peewee.SmallIntegerField(default=0)
    minutes = peewee.IntegerField(constraints=[peewee.Check("minutes > 0")])

    class Meta:
        table_name = "booking_service"
        indexes = ((("booking", "position"), True),)


class ClassType(BaseModel):
    """A kind of group class (瑜伽, 动感单车 …): its length and usual capacity."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    minutes = peewee.IntegerField(constraints=[peewee.Check("minutes > 0")])
    capacity = peewee.IntegerField(constraints=[peewee.Check("capacity > 0")])
    active = peewee.BooleanField(default=True)


class ClassSlot(BaseModel):
    """A line of a store's weekly timetable: this class, on ``weekday`` (1 Monday … 7 Sunday) at ``start`` ("HH:MM",
    the store's wall time), with this coach in this room for this many places. Sessions are generated from it."""

    class_type = peewee.ForeignKeyField(ClassType, backref="slots", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="class_slots", on_delete="RESTRICT")
    room = peewee.ForeignKeyField(Room, null=True, backref="class_slots", on_delete="RESTRICT")
    coach = peewee.ForeignKeyField(Staff, backref="class_slots", on_delete="RESTRICT")
    weekday = peewee.SmallIntegerField(constraints=[peewee.Check("weekday BETWEEN 1 AND 7")])
    start = peewee.CharField(max_length=5)
    capacity = peewee.IntegerField(constraints=[peewee.Check("capacity > 0")])
    active = peewee.BooleanField(default=True)

    class Meta:
        table_name = "class_slot"


class ClassSession(BaseModel):
    """One class on one day, generated from a timetable slot (or added on its own)."""

    class_type = peewee.ForeignKeyField(ClassType, backref="sessions", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="class_sessions", on_delete="RESTRICT")
    room = peewee.ForeignKeyField(Room, null=True, backref="class_sessions", on_delete="RESTRICT")
    coach = peewee.ForeignKeyField(Staff, backref="class_sessions", on_delete="RESTRICT")
    slot = peewee.ForeignKeyField(ClassSlot, null=True, backref="sessions", on_delete="RESTRICT")
    start = Moment(index=True)
    end = Moment()
    capacity = peewee.IntegerField(constraints=[peewee.Check("capacity > 0")])
    cancelled = peewee.BooleanField(default=False)

    class Meta:
        table_name = "class_session"
        indexes = ((("slot", "start"), True), (("store", "start"), False))


class ClassBooking(BaseModel):
    """A member's place in a class session, or their place on its waitlist (in ``id`` order). The pass or visit
    package that allows it is checked at booking; a package's visit is used at check-in (``visit``)."""

    txid = peewee.CharField(max_length=64, unique=True)
    session = peewee.ForeignKeyField(ClassSession, backref="bookings", on_delete="RESTRICT")
    member = peewee.ForeignKeyField(Member, backref="class_bookings", on_delete="RESTRICT")
    card = peewee.ForeignKeyField(Card, backref="class_bookings", on_delete="RESTRICT")
    status = peewee.CharField(max_length=10, constraints=[
        peewee.Check("status IN ('booked','waitlisted','cancelled','attended','no_show')")])
    created_by = peewee.ForeignKeyField(Staff, backref="class_bookings_made", on_delete="RESTRICT")
    created_at = Moment(default=now)
    promoted_at = Moment(null=True)
    closed_at = Moment(null=True)
    reason = peewee.TextField(default="")
    late = peewee.BooleanField(default=False)
    policy = peewee.CharField(max_length=30, default="")
    attended_at = Moment(null=True)
    visit = peewee.ForeignKeyField(Visit, null=True, backref="class_bookings", on_delete="RESTRICT")
    #: a fee the late-cancel or no-show policy put on the member's next bill, and the checkout that collected it
    fee_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("fee_fen >= 0")])
    fee_txid = peewee.CharField(max_length=64, null=True)

    class Meta:
        table_name = "class_booking"
        indexes = ((("session", "status"), False), (("member", "session"), False))


#: a member holds at most one live place (booked or waitlisted) in a session
ClassBooking.add_index(ClassBooking.index(ClassBooking.session, ClassBooking.member, unique=True,
                                          where=peewee.SQL("status IN ('booked', 'waitlisted')"),
                                          name="class_booking_one_live"))

"""The member's record edited at the desk in one form (#17): address, email, preferences, tags, consent, the price
level and the shop's own fields, saved together; a bad value refuses the whole form naming its field and nothing is
written. The service on SQLite and PostgreSQL, then the form driven by keys (Ctrl+E on the member screen)."""

from __future__ import annotations

import pytest

from mms_tui.models import AuditEvent, Consent, Member, MemberFieldValue, MemberTag
from mms_tui.screens.member_record import MemberRecordScreen
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.catalogue.prices import add_level
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.members.attributes import define_field
from mms_tui.services.members.profile import register_member
from mms_tui.services.members.record import member_record, save_record
from tests.test_tui import at_desk, settle

PHONE = "13800138123"


def everything() -> tuple:
    m = Member.get(Member.phone == PHONE)
    return (m.address, m.email, m.preferences, m.price_level_id, MemberTag.select().count(),
            MemberFieldValue.select().count(), Consent.select().count(), AuditEvent.select().count())


@pytest.fixture
def member(desk) -> int:
    define_field(desk.manager, "GOAL", "健身目标", "choice", ["减脂", "增肌"])
    define_field(desk.manager, "SIZE", "鞋码", "number")
    add_level(desk.manager, "DEALER", "经销商价")
    return register_member("李雷", PHONE, desk.cashier, "r-lilei").member_id


def save(desk, member, staff=None, **changes):
    record = member_record(member)
    values = dict(address=record.address, email=record.email, preferences=record.preferences, tags=record.tags,
                  consent=dict(record.consent), fields={f.code: f.value for f in record.fields},
                  price_level=record.price_level)
    values.update(changes)
    return save_record(member, staff or desk.manager, new_txid(), **values)


def test_the_whole_record_is_saved_together_and_each_part_audited(desk, member):
    saved = save(desk, member, address="上海市徐汇区", email="LiLei@Example.com ", tags=["VIP", "孕期"],
                 consent={"sms": True, "email": False}, fields={"GOAL": "增肌", "SIZE": "42"}, price_level="dealer")
    assert (saved.address, saved.email, saved.tags, saved.price_level) == (
        "上海市徐汇区", "lilei@example.com", ("VIP", "孕期"), "DEALER")
    assert dict(saved.consent) == {"sms": True, "email": False, "notices": None}
    assert {f.code: f.value for f in saved.fields} == {"GOAL": "增肌", "SIZE": "42"}
    actions = {a for (a,) in AuditEvent.select(AuditEvent.action).tuples()}
    assert {"member.update", "member.tag", "member.consent", "member.field"} <= actions
    again = save(desk, member, tags=["VIP"])  # one tag off, the rest as it was
    assert again.tags == ("VIP",) and again.address == "上海市徐汇区"


@pytest.mark.parametrize("changes, error, message", [
    (dict(email="not-an-email", tags=["VIP"]), InvalidInput, "mail"),
    (dict(fields={"SIZE": "四十二"}, tags=["VIP"]), InvalidInput, "鞋码"),
    (dict(fields={"GOAL": "长高"}, address="新地址"), InvalidInput, "健身目标"),
    (dict(tags=["a,b"], address="新地址"), InvalidInput, "Tag"),
    (dict(price_level="NOPE", address="新地址"), NotFound, "No price level NOPE"),
])
def test_one_bad_value_refuses_the_whole_form_and_writes_nothing(desk, member, changes, error, message):
    before = everything()
    with pytest.raises(error) as refused:
        save(desk, member, **changes)
    assert message in str(refused.value)
    assert everything() == before


def test_a_cashier_keeps_the_record_but_may_not_give_a_price_level(desk, member):
    before = everything()
    with pytest.raises(PermissionDenied):
        save(desk, member, staff=desk.cashier, price_level="DEALER", address="新地址")
    assert everything() == before
    assert save(desk, member, staff=desk.cashier, address="新地址").address == "新地址"


async def test_ctrl_e_on_the_member_screen_edits_the_record(sqlite_desk):
    define_field(sqlite_desk.manager, "GOAL", "健身目标", "choice", ["减脂", "增肌"])
    register_member("李雷", PHONE, sqlite_desk.cashier, "r-lilei")
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press(*PHONE, "enter")
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, MemberRecordScreen)
        app.screen.query_one("#email").value = "bad"
        app.screen.query_one("#tags").value = "VIP 孕期"
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, MemberRecordScreen)  # refused: the form stays with what was typed
        assert MemberTag.select().count() == 0
        app.screen.query_one("#email").value = "lilei@example.com"
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, MemberRecordScreen)
    record = member_record(PHONE)
    assert (record.email, record.tags) == ("lilei@example.com", ("VIP", "孕期"))


def test_a_field_renamed_or_disabled_keeps_its_values_and_a_cashier_may_do_neither(desk, member):
    from mms_tui.services.members.attributes import (
        field_definitions,
        field_values,
        rename_field,
        set_field_active,
    )

    save(desk, member, fields={"GOAL": "增肌", "SIZE": ""})
    with pytest.raises(PermissionDenied):
        rename_field(desk.cashier, "GOAL", "目标")
    with pytest.raises(PermissionDenied):
        set_field_active(desk.cashier, "GOAL", False)
    assert rename_field(desk.manager, "goal", "目标").name == "目标"
    assert set_field_active(desk.manager, "GOAL", False).active is False
    assert [f.code for f in field_definitions()] == ["SIZE"]  # the form asks no more
    assert field_values(member) == {"GOAL": "增肌"}  # what was kept stays
    with pytest.raises(InvalidInput, match="No member field has the code NOPE"):
        rename_field(desk.manager, "NOPE", "x")


def test_mms_members_fields_rename_disable_enable(run, sqlite_desk):
    import json

    from tests.conftest import MANAGER_PIN

    db = ("--db", sqlite_desk.target)
    staff = ("--staff", "m01", "--pin-stdin")
    pin = MANAGER_PIN + "\n"
    assert run(*db, "members", "fields", "add", "GOAL", "健身目标", "--kind", "choice", "--choices", "减脂,增肌",
               *staff, input=pin).exit_code == 0
    assert "(目标) saved" in run(*db, "members", "fields", "rename", "GOAL", "目标", *staff, input=pin).output
    assert run(*db, "members", "fields", "disable", "GOAL", *staff, input=pin).exit_code == 0
    listed = json.loads(run(*db, "members", "fields", "list", "--format", "json").output)
    assert listed == [{"code": "GOAL", "name": "目标", "kind": "choice", "choices": "减脂,增肌", "active": False}]
    assert run(*db, "members", "fields", "enable", "GOAL", *staff, input=pin).exit_code == 0
    refused = run(*db, "members", "fields", "rename", "NOPE", "x", *staff, input=pin)
    assert refused.exit_code == 1 and "No member field has the code NOPE" in refused.output

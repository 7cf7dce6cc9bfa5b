"""A member's record beyond name and phone (#17): contact details and preferences, tags, the shop's own fields,
marketing consent per channel with its history — each change audited, erasure removing what names the person,
the member document carrying all of it. Services on SQLite and PostgreSQL, then the commands."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui import clock
from mms_tui.models import AuditEvent, Consent, Member, MemberFieldValue, MemberTag
from mms_tui.services.base.errors import InvalidInput, PermissionDenied
from mms_tui.services.exchange.member_document import member_document
from mms_tui.services.ledger.chain import verify
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.members.attributes import (
    consent_of,
    define_field,
    field_values,
    may_contact,
    members_tagged,
    set_consent,
    set_field,
    tag_counts,
    tag_member,
    tags_of,
    untag_member,
)
from mms_tui.services.members.privacy import erase_member
from mms_tui.services.members.profile import register_member, update_member
from tests.conftest import CASHIER_PIN, MANAGER_PIN

PHONE = "13800138123"


@pytest.fixture
def member(desk) -> int:
    return register_member("李雷", PHONE, desk.cashier, "r-lilei").member_id


def test_contact_details_and_preferences_are_kept_cleaned_and_audited(desk, member):
    update_member(member, desk.cashier, new_txid(), email=" LiLei@Example.COM ", address="北京市海淀区１号",
                  preferences="喜欢早上的课")
    m = Member.get_by_id(member)
    assert (m.email, m.address, m.preferences) == ("lilei@example.com", "北京市海淀区1号", "喜欢早上的课")
    event = AuditEvent.select().where(AuditEvent.action == "member.update").order_by(AuditEvent.id.desc()).get()
    assert json.loads(event.payload)["after"]["email"] == "lilei@example.com"
    for bad, message in ((dict(email="not-an-email"), "Email"), (dict(address="路" * 201), "Address"),
                         (dict(preferences="x" * 501), "Preferences")):
        with pytest.raises(InvalidInput, match=message):
            update_member(member, desk.cashier, new_txid(), **bad)
    assert Member.get_by_id(member).email == "lilei@example.com"


def test_tags_file_members_and_find_them(desk, member):
    other = register_member("韩梅梅", "13800138124", desk.cashier, "r-han").member_id
    assert tag_member(member, desk.cashier, ["VIP", "#马拉松", "VIP"]) == ["VIP", "马拉松"]
    tag_member(other, desk.cashier, ["VIP"])
    assert [m.name for m in members_tagged("vip".upper())] == ["李雷", "韩梅梅"]
    assert tag_counts() == [("VIP", 2), ("马拉松", 1)]
    assert untag_member(member, desk.cashier, ["马拉松", "never-had"]) == ["VIP"]
    assert [json.loads(e.payload)["after"] for e in AuditEvent.select().where(
        AuditEvent.action.in_(["member.tag", "member.untag"]) & (AuditEvent.subject == f"member:{member}"))
        .order_by(AuditEvent.id)] == [["VIP", "马拉松"], ["VIP"]]
    for bad in ("", "a,b", "x" * 31):
        with pytest.raises(InvalidInput, match="Tag"):
            tag_member(member, desk.cashier, [bad])
    assert tags_of(member) == ["VIP"]


def test_the_shops_own_fields_hold_values_of_their_kind(desk, member):
    define_field(desk.manager, "goal", "健身目标", "choice", ["减脂", "增肌", "塑形"])
    define_field(desk.manager, "SHOE", "鞋码", "number")
    define_field(desk.manager, "REFERRED", "推荐日期", "date")
    define_field(desk.manager, "COACH", "指定教练", "text")
    set_field(member, desk.cashier, "GOAL", "增肌")
    set_field(member, desk.cashier, "shoe", "42.5")
    set_field(member, desk.cashier, "REFERRED", "2026/11/3")
    assert field_values(member) == {"GOAL": "增肌", "REFERRED": "2026-11-03", "SHOE": "42.5"}
    for code, value, message in (("GOAL", "长高", "one of 减脂 / 增肌 / 塑形"), ("SHOE", "大号", "not a number"),
                                 ("REFERRED", "下周", "not a day"), ("COACH", "x" * 201, "at most 200"),
                                 ("NOPE", "1", "No member field")):
        with pytest.raises(InvalidInput, match=message):
            set_field(member, desk.cashier, code, value)
    assert set_field(member, desk.cashier, "SHOE", "") == {"GOAL": "增肌", "REFERRED": "2026-11-03"}
    with pytest.raises(PermissionDenied):
        define_field(desk.cashier, "X", "某字段", "text")
    for args, message in ((("GOAL", "重复", "text"), "already a member field"),
                          (("ONE", "单选", "choice", ["只有一个"]), "two or more"),
                          (("T", "文本", "text", ["a", "b"]), "only a choice field"),
                          (("K", "怪", "colour"), "Kind must be one of")):
        with pytest.raises(InvalidInput, match=message):
            define_field(desk.manager, *args)


def test_consent_is_kept_per_channel_with_when_it_was_given_and_withdrawn(desk, member):
    assert [(s.channel, s.given) for s in consent_of(member)] == [("sms", None), ("email", None), ("notices", None)]
    assert not may_contact(member, "sms")
    with clock.pinned(clock.now() - dt.timedelta(hours=2)) as given_at:  # answered earlier today (or last night)
        set_consent(member, desk.cashier, "sms", True)
    set_consent(member, desk.cashier, "sms", True)  # the same answer again is kept once
    assert may_contact(member, "sms") and not may_contact(member, "email")
    state = consent_of(member)[0]
    assert (state.given, state.at) == (True, given_at)
    set_consent(member, desk.manager, "sms", False)
    assert not may_contact(member, "sms")
    assert [c.given for c in Consent.select().where(Consent.member == member).order_by(Consent.id)] == [True, False]
    with pytest.raises(InvalidInput, match="Channel"):
        set_consent(member, desk.cashier, "wechat", True)


def test_erasure_removes_tags_values_and_contact_and_keeps_the_consent_record(desk, member):
    update_member(member, desk.cashier, new_txid(), email="lilei@example.com", address="北京", preferences="瑜伽")
    tag_member(member, desk.cashier, ["VIP"])
    define_field(desk.manager, "GOAL", "目标", "text")
    set_field(member, desk.cashier, "GOAL", "减脂十斤")
    set_consent(member, desk.cashier, "email", True)
    document = member_document(PHONE)["member"]
    assert (document["email"], document["tags"], document["fields"], document["consent"][0]["given"]) == (
        "lilei@example.com", ["VIP"], {"GOAL": "减脂十斤"}, True)
    erase_member(PHONE, desk.manager, "request", new_txid())
    m = Member.get_by_id(member)
    assert (m.email, m.address, m.preferences) == ("", "", "")
    assert not MemberTag.select().where(MemberTag.member == member).exists()
    assert not MemberFieldValue.select().where(MemberFieldValue.member == member).exists()
    assert Consent.select().where(Consent.member == member).count() == 1
    assert verify() == []


def test_mms_members_edit_tag_tagged_consent_and_fields(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    register_member("李雷", PHONE, sqlite_desk.cashier, "r-cli")
    cashier = ("--staff", "c01", "--pin-stdin")
    pin = CASHIER_PIN + "\n"
    assert run(*db, "members", "edit", PHONE, "--email", "li@example.com", *cashier, input=pin).exit_code == 0
    assert Member.get(Member.phone == PHONE).email == "li@example.com"
    assert run(*db, "members", "tag", PHONE, "VIP", "孕期", *cashier, input=pin).output.split() == ["VIP", "孕期"]
    assert run(*db, "members", "untag", PHONE, "孕期", *cashier, input=pin).output.split() == ["VIP"]
    tagged = json.loads(run(*db, "members", "tagged", "VIP", "--format", "json").output)
    assert tagged == [{"name": "李雷", "phone": "138****8123", "tier": "普通会员"}]
    assert json.loads(run(*db, "members", "tagged", "--format", "json").output) == [{"tag": "VIP", "members": 1}]
    given = json.loads(run(*db, "members", "consent", PHONE, "sms", "yes", *cashier, "--format", "json",
                           input=pin).output)
    assert [(r["channel"], r["given"]) for r in given] == [("sms", "yes"), ("email", ""), ("notices", "")]
    added = run(*db, "members", "fields", "add", "GOAL", "健身目标", "--kind", "choice", "--choices", "减脂,增肌",
                "--staff", "m01", "--pin-stdin", input=MANAGER_PIN + "\n")
    assert added.exit_code == 0, added.output
    assert "GOAL" in run(*db, "members", "fields", "list").output
    assert run(*db, "members", "fields", "set", PHONE, "GOAL", "增肌", *cashier, input=pin).output.strip() == "GOAL=增肌"
    refused = run(*db, "members", "fields", "set", PHONE, "GOAL", "长高", *cashier, input=pin)
    assert refused.exit_code == 1 and "one of 减脂 / 增肌" in refused.output and "Traceback" not in refused.output
    bad = run(*db, "members", "edit", PHONE, "--email", "nope", *cashier, input=pin)
    assert bad.exit_code == 1 and "Email" in bad.output
    assert run(*db, "members", "consent", PHONE, "sms").exit_code == 2  # a channel without an answer

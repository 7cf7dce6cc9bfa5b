"""Prompts from the member's pattern (顾客消费提醒, issue #25): an item due by the member's own rhythm, a package
running out at their pace; put away at the desk until the next state; the same as campaign audiences. On SQLite
and PostgreSQL, from dated fixtures whose "today" is the product's clock."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.models import PromptDismissal
from mms_tui.services.base.errors import PermissionDenied
from mms_tui.services.loyalty.coupons import members_in_segment
from mms_tui.services.loyalty.prompts import dismiss_prompts, member_prompts, members_prompted
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.members.view import member_view
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from tests.test_reports import at


def bought(desk, member_id, item, days_ago, today, tag):
    """A paid sale of ``item`` to the member, ``days_ago`` days before today at noon, one per day listed."""
    for n, days in enumerate(days_ago):
        txid = f"{tag}{n}"
        checkout(member_id, [item], [("cash", 10_000)], desk.cashier, txid)
        at(txid, dt.datetime.combine(today - dt.timedelta(days=days), dt.time(12)))


@pytest.fixture
def regulars(desk, today):
    c = desk.cashier
    members = {name: register_member(name, phone, c, f"r{phone}").member_id
               for name, phone in (("洗发", "13800000001"), ("剪发", "13800000002"), ("刚买", "13800000003"),
                                   ("走了", "13800000004"), ("退货", "13800000005"), ("套餐", "13800000006"))}
    bought(desk, members["洗发"], "SHAMPOO", (90, 60, 30), today, "sh")  # every 30 days, 30 ago: due
    bought(desk, members["剪发"], "HAIR", (84, 63, 42), today, "hc")  # every 3 weeks, 6 weeks since
    bought(desk, members["刚买"], "SHAMPOO", (70, 40, 10), today, "fresh")  # every 30, 10 ago: not yet
    bought(desk, members["走了"], "HAIR", (200, 190, 180), today, "gone")  # every 10, 180 ago: lapsed
    bought(desk, members["退货"], "SHAMPOO", (90, 60, 30), today, "rf")
    refund("rf1", desk.manager, "退货", "rf1-back")  # two buys left: no pattern yet
    card = issue_card(members["套餐"], "V10", c, "pkg", card_no="PKG6", tender="cash").card_id
    for n, days in enumerate(range(24, 0, -3)):  # eight visits, one every 3 days: 2 left, gone in 6 days
        check_in(card, c, f"pv{n}", again=True)
        at(f"pv{n}", dt.datetime.combine(today - dt.timedelta(days=days), dt.time(10)))
    return members


def test_prompts_from_the_members_own_pattern(regulars, today):
    (shampoo,) = member_prompts(regulars["洗发"], today)
    assert shampoo.kind == "product_due"
    assert shampoo.key == f"item:SHAMPOO:{(today - dt.timedelta(days=30)).isoformat()}"
    assert "洗发水" in shampoo.text and "4 weeks" in shampoo.text and "due" in shampoo.text
    (hair,) = member_prompts(regulars["剪发"], today)
    assert hair.kind == "service_due" and "every 3 weeks" in hair.text and "6 weeks" in hair.text
    assert member_prompts(regulars["刚买"], today) == []  # not due yet
    assert member_prompts(regulars["走了"], today) == []  # lapsed: the segments' business
    assert member_prompts(regulars["退货"], today) == []  # the refunded sale does not count
    (package,) = member_prompts(regulars["套餐"], today)
    assert package.kind == "running_out" and package.key == "card:PKG6:2"
    gone = (today - dt.timedelta(days=3) + dt.timedelta(days=6)).strftime("%m-%d")
    assert "2 visits left" in package.text and "every 3 days" in package.text and gone in package.text
    # the day they were due a month earlier, nothing yet; and the member screen shows them
    assert member_prompts(regulars["洗发"], today - dt.timedelta(days=20)) == []
    assert [p.key for p in member_view(regulars["洗发"]).prompts] == [shampoo.key]


def test_put_away_until_the_next_state(regulars, desk, today):
    member = regulars["洗发"]
    (prompt,) = member_prompts(member, today)
    assert dismiss_prompts(member, [prompt.key], desk.cashier) == 1
    assert dismiss_prompts(member, [prompt.key], desk.cashier) == 0  # twice: still once
    assert member_prompts(member, today) == []
    assert PromptDismissal.select().count() == 1
    # bought again, and a month on it is due again: a new prompt
    bought(desk, member, "SHAMPOO", (0,), today, "again")
    later = today + dt.timedelta(days=31)
    (again,) = member_prompts(member, later)
    assert again.key == f"item:SHAMPOO:{today.isoformat()}"


def test_put_away_needs_a_desk_account(regulars, desk):
    from mms_tui.models import Staff

    stranger = Staff(code="x", name="x", role="visitor")
    with pytest.raises(PermissionDenied):
        dismiss_prompts(regulars["洗发"], ["item:SHAMPOO:2026-01-01"], stranger)
    assert PromptDismissal.select().count() == 0
    assert dismiss_prompts(regulars["洗发"], ["", "x" * 500], desk.cashier) == 0  # nothing sensible: nothing kept


def test_the_same_as_campaign_audiences(regulars, desk, today):
    due = sorted([regulars["洗发"], regulars["剪发"]])
    assert members_prompted("due", today) == due
    assert members_in_segment("due", today) == due
    assert members_in_segment("running_out", today) == [regulars["套餐"]]
    runner = CliRunner()
    out = runner.invoke(cli, ["--db", desk.target, "messages", "campaign", "segment:due", "--channel", "sms",
                              "--text", "该来剪头发啦", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert '"audience": "segment:due"' in out.output and '"members": 2' in out.output
    bad = runner.invoke(cli, ["--db", desk.target, "messages", "campaign", "segment:nope", "--text", "x"])
    assert bad.exit_code != 0 and "due, running_out" in bad.output and "Traceback" not in bad.output

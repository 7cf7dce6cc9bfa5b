"""Messages to members (issue #23): the outbox written with the operation, consent at send time, the template
sandbox, SMS parts, the worker against a real SMTP server (aiosmtpd) — retries, quiet hours, kill -9 mid-batch."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from aiosmtpd.controller import Controller

from mms_tui.models import Message
from mms_tui.services.base.errors import DomainError, InvalidInput, PermissionDenied
from mms_tui.services.members.attributes import set_consent
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.messages.campaigns import preview, send_campaign
from mms_tui.services.messages.templates import save_template, sms_parts, template_problems
from mms_tui.services.messages.worker import Worker, in_quiet_hours
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.topup import top_up


class Inbox:
    """An aiosmtpd handler keeping every message it accepted (optionally slow, to be killed mid-batch)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[dict] = []
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        import email
        import email.policy

        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "message_id": str(mail["Message-ID"]),
                              "subject": str(mail["Subject"]), "text": mail.get_body().get_content(),
                              "raw": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.config = {"host": "127.0.0.1", "port": controller.port, "security": "plain",
                    "sender": "Shop <desk@shop.example>", "per_second": 1000}
    yield inbox
    controller.stop()


def _member(desk, name, phone, email="", notices=None, marketing=None):
    m = register_member(name, phone, desk.cashier, f"r-{phone}").member_id
    if email:
        from mms_tui.models import Member

        Member.update(email=email).where(Member.id == m).execute()
    if notices is not None:
        set_consent(m, desk.cashier, "notices", notices)
    if marketing is not None:
        set_consent(m, desk.cashier, "email", marketing)
        set_consent(m, desk.cashier, "sms", marketing)
    return m


def _sv_card(desk, member, no):
    card = issue_card(member, "SV", desk.cashier, f"i-{no}", card_no=no).card_id
    return card


# --- the outbox is written with the operation --------------------------------------------------------------------


def test_a_top_up_writes_its_balance_notice_with_it_once_and_only_for_those_who_asked(desk):
    asked = _member(desk, "张三", "13800138000", "zs@example.com", notices=True)
    silent = _member(desk, "李四", "13900139000", "ls@example.com")
    a, b = _sv_card(desk, asked, "00010001"), _sv_card(desk, silent, "00010002")
    top_up(a, 10_000, 0, "cash", desk.cashier, "t-a")
    top_up(a, 10_000, 0, "cash", desk.cashier, "t-a")  # the same txid again: a replay, nothing new
    top_up(b, 10_000, 0, "cash", desk.cashier, "t-b")
    rows = list(Message.select())
    assert [(r.member_id, r.trigger, r.key) for r in rows] == [(asked, "balance", f"balance:t-a:{a}")]
    fields = json.loads(rows[0].fields)
    assert fields["amount"] == "100.00" and fields["balance"] == "100.00" and fields["what"] == "topup"


def test_a_checkout_that_fails_writes_no_message_and_one_that_commits_does(desk):
    m = _member(desk, "张三", "13800138000", notices=True)
    card = _sv_card(desk, m, "00010001")
    top_up(card, 5_000, 0, "cash", desk.cashier, "t-1")
    before = Message.select().count()
    with pytest.raises(DomainError):  # ¥88 from a ¥50 card: refused, rolled back
        checkout(m, ["HAIR"], [("stored_value", 8_800, card)], desk.cashier, "c-1")
    assert Message.select().count() == before
    checkout(m, ["WATER"], [("stored_value", 300, card)], desk.cashier, "c-2")
    last = Message.select().order_by(Message.id.desc()).get()
    assert last.key == f"balance:c-2:{card}"
    assert json.loads(last.fields)["balance"] == "47.00"


# --- templates: the sandbox, SMS parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", ["{name.__class__}", "{name.__class__.__mro__}", "{0}", "{name!r}",
                                     "{amount:>99999}", "{__builtins__}", "{name[0]}", "{open}", "{"])
def test_a_template_that_reaches_beyond_its_fields_is_refused_on_save_with_the_problem_named(desk, hostile):
    problems = template_problems(f"您好 {hostile}", "balance")
    assert problems
    with pytest.raises(InvalidInput) as refused:
        save_template(desk.manager, "balance", "sms", "zh", f"您好 {hostile}")
    assert "cannot be saved" in str(refused.value)
    assert Message.select().count() == 0


def test_templates_are_a_managers_and_a_good_one_is_used(desk):
    with pytest.raises(PermissionDenied):
        save_template(desk.cashier, "birthday", "email", "zh", "{name}生日快乐")
    t = save_template(desk.manager, "birthday", "email", "zh", "{name}，{store}祝您生日快乐", subject="生日快乐")
    assert not t.default and t.body.startswith("{name}")


@pytest.mark.parametrize(("length", "sign", "parts"), [(0, "", 0), (1, "", 1), (70, "", 1), (71, "", 2),
                                                       (134, "", 2), (135, "", 3), (64, "某某美容", 1),
                                                       (65, "某某美容", 2)])
def test_sms_parts_are_counted_as_the_providers_bill_them(length, sign, parts):
    assert sms_parts("好" * length, sign) == parts


def test_quiet_hours_cross_midnight():
    from mms_tui.services.loyalty.rules import MessageRules, Rules

    rules = Rules(messages=MessageRules(quiet_hours="21:00-08:00"))
    day = dt.date(2026, 5, 1)
    assert in_quiet_hours(dt.datetime.combine(day, dt.time(22, 30)), rules) == dt.datetime(2026, 5, 2, 8, 0)
    assert in_quiet_hours(dt.datetime.combine(day, dt.time(7, 59)), rules) == dt.datetime(2026, 5, 1, 8, 0)
    assert in_quiet_hours(dt.datetime.combine(day, dt.time(8, 0)), rules) is None
    assert in_quiet_hours(dt.datetime.combine(day, dt.time(20, 59)), rules) is None


# --- the worker, by email to a real SMTP server ------------------------------------------------------------------


def test_the_worker_sends_each_message_once_with_its_key_as_message_id(desk, smtp):
    for i in range(3):
        m = _member(desk, f"会员{i}", f"1380013800{i}", f"m{i}@example.com", notices=True)
        top_up(_sv_card(desk, m, f"0001000{i}"), 10_000, 0, "cash", desk.cashier, f"t-{i}")
    done = Worker({"email": smtp.config}).run_round(reminders=False)
    assert done.sent == 3
    again = Worker({"email": smtp.config}).run_round(reminders=False)
    assert again.sent == 0 and len(smtp.messages) == 3
    assert {m["to"][0] for m in smtp.messages} == {"m0@example.com", "m1@example.com", "m2@example.com"}
    sent = list(Message.select().order_by(Message.id))
    assert all(r.state == "sent" and r.sent_channel == "email" for r in sent)
    assert all(f"<{r.key.replace(':', '.')}@shop.example>" in {m["message_id"] for m in smtp.messages} for r in sent)
    assert "余额100.00元" in sent[0].text


def test_consent_withdrawn_between_writing_and_sending_sends_nothing_and_says_why(desk, smtp):
    m = _member(desk, "张三", "13800138000", "zs@example.com", notices=True)
    top_up(_sv_card(desk, m, "00010001"), 10_000, 0, "cash", desk.cashier, "t-1")
    set_consent(m, desk.cashier, "notices", False)
    done = Worker({"email": smtp.config}).run_round(reminders=False)
    assert done.skipped == 1 and smtp.messages == []
    row = Message.get()
    assert row.state == "skipped" and "said no" in row.reason


def test_a_mail_server_that_is_down_loses_nothing_and_is_tried_again_later(desk, smtp):
    m = _member(desk, "张三", "13800138000", "zs@example.com", notices=True)
    top_up(_sv_card(desk, m, "00010001"), 10_000, 0, "cash", desk.cashier, "t-1")
    down = {**smtp.config, "port": _free_port()}  # nothing listens there
    done = Worker({"email": down}).run_round(reminders=False)
    row = Message.get()
    assert done.retry == 1 and row.state == "queued" and row.attempts == 1 and "Cannot reach" in row.reason
    assert Worker({"email": smtp.config}).run_round(reminders=False).sent == 0  # not before its backoff
    Message.update(not_before=Message.created_at).execute()
    assert Worker({"email": smtp.config}).run_round(reminders=False).sent == 1
    assert len(smtp.messages) == 1


def test_marketing_waits_out_the_quiet_hours_and_needs_consent_on_its_channel(desk, smtp):
    from mms_tui.clock import now

    _member(desk, "张三", "13800138000", "zs@example.com", marketing=True)
    _member(desk, "李四", "13900139000", "ls@example.com", marketing=False)
    _member(desk, "王五", "13700137000", "ww@example.com")
    from mms_tui.models import Member
    from mms_tui.services.members.attributes import tag_member

    for member in Member.select():
        tag_member(member.id, desk.cashier, ["VIP"])
    shown = preview("tag:VIP", "email", "{name}您好，周末护理八折。")
    assert (shown.members, shown.reachable) == (3, 1)
    assert shown.sample_member == "张三" and shown.sample_text == "张三您好，周末护理八折。"
    campaign, _shown = send_campaign(desk.manager, "周末八折", "tag:VIP", "email", "{name}您好，周末护理八折。",
                                     subject="周末八折")
    assert Message.select().where(Message.campaign == campaign).count() == 1
    quiet = {"quiet_hours": f"{(now() - dt.timedelta(hours=1)):%H:%M}-{(now() + dt.timedelta(hours=1)):%H:%M}"}
    from mms_tui.services.loyalty.rules_store import load_rules, save_rules

    rules_doc = {"messages": quiet}
    save_rules(rules_doc, desk.manager)
    assert load_rules().messages.quiet_hours == quiet["quiet_hours"]
    assert Worker({"email": smtp.config}).run_round(reminders=False).sent == 0
    assert Message.get().not_before > now()
    save_rules({"messages": {"quiet_hours": ""}}, desk.manager)
    Message.update(not_before=Message.created_at).execute()
    assert Worker({"email": smtp.config}).run_round(reminders=False).sent == 1
    assert smtp.messages[0]["to"] == ["zs@example.com"] and "List-Unsubscribe" in smtp.messages[0]["raw"]


# --- kill -9 of the worker mid-batch -----------------------------------------------------------------------------


def _mms(target, config, *args, **kw):
    env = {**os.environ, "MMS_CONFIG": str(config), "MMS_LANG": "en"}
    return subprocess.Popen([sys.executable, "-m", "mms_tui", "--db", target, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_a_worker_killed_mid_batch_and_restarted_sends_nothing_twice_and_accounts_for_everything(sqlite_desk,
                                                                                                  tmp_path):
    desk = sqlite_desk
    inbox = Inbox(delay=0.15)
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        for i in range(30):
            m = _member(desk, f"会员{i}", f"138{i:08d}", f"m{i}@example.com", notices=True)
            top_up(_sv_card(desk, m, f"0002{i:04d}"), 10_000, 0, "cash", desk.cashier, f"t-{i}")
        assert Message.select().count() == 30
        config = tmp_path / "config.toml"
        config.write_text(
            '[messages]\nlease_seconds = 0\n[messages.email]\nhost = "127.0.0.1"\n'
            f'port = {controller.port}\nsecurity = "plain"\nsender = "Shop <desk@shop.example>"\nper_second = 1000\n',
            encoding="utf-8")
        worker = _mms(desk.target, config, "messages", "run", "--poll", "0.2")
        deadline = time.monotonic() + 30
        while len(inbox.messages) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert 0 < len(inbox.messages) < 30, "killed before it began or after it finished"
        time.sleep(0.5)  # a message the server was still taking when the worker died lands now
        restarted = _mms(desk.target, config, "messages", "run", "--once")
        _out, err = restarted.communicate(timeout=120)
        assert restarted.returncode == 0, err
        time.sleep(0.5)
    finally:
        controller.stop()
    ids = [m["message_id"] for m in inbox.messages]
    assert len(ids) == len(set(ids)), "a message reached the member twice"
    rows = {f"<{r.key.replace(':', '.')}@shop.example>": r for r in Message.select()}
    assert {r.state for r in rows.values()} <= {"sent", "unknown"}
    assert set(ids) <= set(rows), "the server got a message the outbox does not have"
    for mid, row in rows.items():
        if row.state == "sent":
            assert mid in ids, f"{row.key} recorded as sent but never received"
    unknown = [r for r in rows.values() if r.state == "unknown"]
    assert unknown and all("stopped" in r.reason for r in unknown)


# --- the command line --------------------------------------------------------------------------------------------


def test_the_log_shows_everything_sent_to_a_member_and_a_bad_template_is_one_line(desk, smtp, tmp_path):
    from click.testing import CliRunner

    from mms_tui.cli import cli
    from tests.conftest import MANAGER_PIN

    m = _member(desk, "张三", "13800138000", "zs@example.com", notices=True)
    top_up(_sv_card(desk, m, "00010001"), 10_000, 0, "cash", desk.cashier, "t-1")
    Worker({"email": smtp.config}).run_round(reminders=False)
    runner = CliRunner()
    shown = runner.invoke(cli, ["--db", desk.target, "messages", "log", "--member", "13800138000",
                                "--format", "json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert [(r["trigger"], r["channel"], r["state"], r["to"]) for r in rows] == [
        ("balance", "email", "sent", "zs@example.com")]
    bad = runner.invoke(cli, ["--db", desk.target, "messages", "templates", "set", "balance", "sms", "zh",
                              "--text", "{name.__class__}", "--staff", "m01", "--pin-stdin"], input=MANAGER_PIN)
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "only plain" in bad.stderr or "not a field" in bad.stderr


# --- the reports -------------------------------------------------------------------------------------------------


def test_the_messages_and_campaigns_reports_count_what_happened(desk, smtp):
    from mms_tui.clock import today
    from mms_tui.models import Member
    from mms_tui.services.loyalty.rules_store import save_rules
    from mms_tui.services.members.attributes import tag_member
    from mms_tui.services.reports.catalogue import run_report

    save_rules({"messages": {"quiet_hours": ""}}, desk.manager)
    a = _member(desk, "张三", "13800138000", "zs@example.com", notices=True, marketing=True)
    b = _member(desk, "李四", "13900139000", "ls@example.com", notices=True, marketing=True)
    for member in Member.select():
        tag_member(member.id, desk.cashier, ["VIP"])
    card = _sv_card(desk, a, "00010001")
    top_up(card, 10_000, 0, "cash", desk.cashier, "t-1")  # a balance notice to 张三
    set_consent(b, desk.cashier, "email", False)
    campaign, _shown = send_campaign(desk.manager, "周末八折", "tag:VIP", "email", "{name}您好", subject="八折")
    assert Worker({"email": smtp.config}).run_round(reminders=False).sent == 2
    checkout(a, ["WATER"], [("stored_value", 300, card)], desk.cashier, "c-1")  # 张三 came back and bought
    rows = {(r["channel"], r["trigger"]): r for r in run_report("messages", start=today(), end=today())}
    assert rows[("email", "balance")]["sent"] == 1 and rows[("email", "campaign")]["sent"] == 1
    assert rows[("-", "balance")]["waiting"] == 1  # the checkout's notice, not sent yet
    (result,) = list(run_report("campaigns", start=today(), end=today()))
    assert (result["campaign"], result["members"], result["sent"], result["bought_in_7d"],
            result["revenue_fen"]) == (campaign, 1, 1, 1, 300)
    # a second sale, ¥88 in cash, ¥30 of it given back in part (部分退款): the campaign brought in what it kept
    from mms_tui.services.money.refund import refund_part

    checkout(a, ["HAIR"], [("cash", 8_800)], desk.cashier, "c-2")
    refund_part("c-2", 3_000, desk.manager, "少剪了", "c-2-back")
    (result,) = list(run_report("campaigns", start=today(), end=today()))
    assert (result["bought_in_7d"], result["revenue_fen"]) == (1, 300 + 8_800 - 3_000)


# --- migration 21 ------------------------------------------------------------------------------------------------


def test_migration_21_keeps_the_consent_given_and_takes_consent_to_notices(desk):
    from mms_tui.db import database
    from mms_tui.models import Consent, SchemaVersion
    from mms_tui.models.migrations import LATEST
    from mms_tui.services.ops.setup import initialise

    m = _member(desk, "张三", "13800138000", marketing=True)
    for table in ("ticket_note", "ticket", "message", "campaign", "message_template"):
        database.execute_sql(f'DROP TABLE "{table}"')
    database.execute_sql('ALTER TABLE "member" DROP COLUMN "wechat_openid"')
    SchemaVersion.delete().where(SchemaVersion.version > 20).execute()
    assert initialise().applied == list(range(21, LATEST + 1))
    assert [(c.channel, c.given) for c in Consent.select().order_by(Consent.id)] == [("email", True), ("sms", True)]
    set_consent(m, desk.cashier, "notices", True)
    top_up(_sv_card(desk, m, "00010001"), 10_000, 0, "cash", desk.cashier, "t-1")
    assert Message.get().trigger == "balance"


# --- service tickets ---------------------------------------------------------------------------------------------


def test_a_ticket_is_recorded_answered_through_the_outbox_and_closed_and_the_report_times_it(desk, smtp):
    from mms_tui import clock
    from mms_tui.services.messages.tickets import (
        add_note,
        assign,
        close_ticket,
        history,
        open_ticket,
        tickets,
    )
    from mms_tui.services.reports.catalogue import run_report

    m = _member(desk, "张三", "13800138000", "zs@example.com")  # no answer on notices: an answer still goes
    start = clock.now()
    with clock.pinned(start):
        t = open_ticket(desk.cashier, m, "complaint", "水温太低", "洗头时水太凉")
    assert t.assigned_to == "c01" and t.due_at == start + dt.timedelta(hours=4)
    with pytest.raises(PermissionDenied):
        assign(desk.cashier, t.id, "m01")
    assign(desk.manager, t.id, "m01")
    with clock.pinned(start + dt.timedelta(hours=2)):
        add_note(desk.manager, t.id, "已调高热水器温度，下次到店赠送护理一次。", answer=True)
    add_note(desk.manager, t.id, "热水器需要检修")
    with clock.pinned(start + dt.timedelta(hours=3)):
        assert Worker({"email": smtp.config}).run_round(reminders=False).sent == 1
    assert smtp.messages[0]["subject"] == "回复：水温太低"
    assert smtp.messages[0]["text"].startswith("张三您好，已调高热水器温度")
    with clock.pinned(start + dt.timedelta(hours=6)):
        close_ticket(desk.manager, t.id, "会员满意")
    line, notes = history(t.id)
    # (in the order it happened: the note was written before the answer's pinned time)
    assert line.status == "closed" and [n.kind for n in notes] == ["member", "event", "note", "answer", "event"]
    assert notes[3].message_state == "sent"
    assert tickets() == []
    (row,) = [r for r in run_report("tickets", start=start.date(), end=start.date()) if r["staff"] == "m01"]
    assert (row["opened"], row["answered"], row["avg_hours_to_answer"], row["closed"],
            row["avg_hours_to_close"]) == (1, 1, 2.0, 1, 6.0)


def test_a_members_email_opens_a_ticket_and_their_reply_joins_it(desk):
    from mms_tui.services.messages.tickets import add_note, from_email, history

    _member(desk, "张三", "13800138000", "ZS@example.com")
    first = from_email("From: 张三 <zs@example.com>\nSubject: 预约改期\n\n周六能改到周日吗？\n".encode())
    assert (first.kind, first.source, first.subject, first.assigned_to) == ("question", "email", "预约改期", "")
    add_note(desk.cashier, first.id, "可以，已改到周日10点。", answer=True)
    key = Message.get().key.replace(":", ".")
    reply = from_email(f"From: zs@example.com\nSubject: Re: 预约改期\nIn-Reply-To: <{key}@shop.example>\n\n"
                       "好的谢谢\n\n> 可以，已改到周日10点。\n".encode())
    assert reply.id == first.id
    _line, notes = history(first.id)
    assert [(n.kind, n.text) for n in notes][-1] == ("member", "好的谢谢")
    with pytest.raises(DomainError, match="No member"):
        from_email(b"From: stranger@example.com\nSubject: hi\n\nhello\n")


async def test_ctrl_k_records_a_ticket_at_the_desk_and_the_member_screen_shows_it_until_closed(sqlite_desk):
    from mms_tui.models import Ticket
    from mms_tui.screens.member import MemberScreen
    from mms_tui.screens.tickets import TicketDialog
    from mms_tui.services.messages.tickets import close_ticket
    from tests.test_tui import at_desk, settle

    register_member("李雷", "13800138000", sqlite_desk.cashier, "r-lilei")
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press(*"13800138000", "enter")
        await settle(pilot)
        await pilot.press("ctrl+k")
        await settle(pilot)
        assert isinstance(app.screen, TicketDialog)
        await pilot.press("f10")  # no subject: refused, nothing written
        await settle(pilot)
        assert isinstance(app.screen, TicketDialog) and Ticket.select().count() == 0
        app.screen.query_one("#subject").value = "储值卡余额不对"
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        (ticket,) = Ticket.select()
        assert (ticket.subject, ticket.kind, ticket.created_by.code) == ("储值卡余额不对", "question", "c01")
        assert "储值卡余额不对" in str(app.screen.query_one("#alerts").render())
        close_ticket(sqlite_desk.cashier, ticket.id, "已核对，余额无误")
        app.screen.refresh_view()
        await settle(pilot)
        assert "储值卡余额不对" not in str(app.screen.query_one("#alerts").render())


def test_doctor_says_when_messages_wait_too_long_or_have_an_unknown_fate(desk, smtp):
    from mms_tui.services.ops.doctor import check_messages
    from mms_tui.settings import Settings

    settings = Settings(messages={"email": smtp.config})
    assert [(f.name, f.ok) for f in check_messages(settings)] == [("message channels", True),
                                                                  ("message worker", True)]
    m = _member(desk, "张三", "13800138000", "zs@example.com", notices=True)
    top_up(_sv_card(desk, m, "00010001"), 10_000, 0, "cash", desk.cashier, "t-1")
    from mms_tui.clock import now

    Message.update(not_before=now() - dt.timedelta(minutes=30)).execute()
    late = check_messages(settings)
    assert not late[1].ok and "1 messages" in late[1].detail and "mms-messages" in late[1].fix
    Message.update(state="unknown").execute()
    findings = check_messages(settings)
    assert findings[1].ok and not findings[2].ok and "send-again" in findings[2].fix
    broken = check_messages(Settings(messages={"email": {"host": "", "sender": "nobody"}}))
    assert not broken[0].ok and "messages.email.host" in broken[0].detail


async def test_today_f4_works_the_open_tickets_answer_then_close(sqlite_desk):
    from mms_tui.models import Ticket, TicketNote
    from mms_tui.screens.tickets import TicketsScreen, TicketStepDialog
    from mms_tui.services.messages.tickets import open_ticket
    from tests.test_tui import at_desk, settle

    m = register_member("李雷", "13800138000", sqlite_desk.cashier, "r-lilei").member_id
    t = open_ticket(sqlite_desk.cashier, m, "question", "年卡能否转让")
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press("f8")
        await settle(pilot)
        assert "1 open, 0 overdue" in str(app.screen.query_one("#today-tickets").render())
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen) and [x.id for x in app.screen.lines] == [t.id]
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, TicketStepDialog)
        app.screen.query_one("#step-text").value = "年卡不能转让，次卡可以在家人间转次数。"
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen)
        answer = TicketNote.get(TicketNote.kind == "answer")
        assert answer.message.trigger == "ticket" and answer.message.state == "queued"
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("f10")  # no resolution: refused, still open
        await settle(pilot)
        assert isinstance(app.screen, TicketStepDialog) and Ticket.get().status == "open"
        app.screen.query_one("#step-text").value = "已答复"
        await pilot.press("f10")
        await settle(pilot)
        assert Ticket.get().status == "closed" and app.screen.lines == []


# --- what the review found ----------------------------------------------------------------------------------------


def test_with_no_channel_set_up_the_messages_wait_instead_of_being_skipped(desk):
    m = _member(desk, "张三", "13800138000", "zs@example.com", notices=True)
    top_up(_sv_card(desk, m, "00010001"), 10_000, 0, "cash", desk.cashier, "t-1")
    assert Worker({}).run_round().handled == 0
    assert Message.get().state == "queued"


def test_a_refund_onto_the_card_tells_a_member_who_asked(desk):
    from mms_tui.services.money.refund import refund

    m = _member(desk, "张三", "13800138000", notices=True)
    card = _sv_card(desk, m, "00010001")
    top_up(card, 10_000, 0, "cash", desk.cashier, "t-1")
    checkout(m, ["WATER"], [("stored_value", 300, card)], desk.cashier, "c-1")
    refund("c-1", desk.manager, "不要了", "rf-1")
    last = Message.select().order_by(Message.id.desc()).get()
    assert last.key == f"balance:rf-1:{card}"
    assert (json.loads(last.fields)["what"], json.loads(last.fields)["balance"]) == ("refund", "100.00")


def test_a_mail_server_saying_try_later_at_mail_from_is_tried_again_not_failed(desk):
    class Busy(Inbox):
        async def handle_MAIL(self, server, session, envelope, address, options):
            return "451 4.7.1 greylisted, try again later"

    busy = Busy()
    controller = Controller(busy, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        config = {"host": "127.0.0.1", "port": controller.port, "security": "plain",
                  "sender": "Shop <desk@shop.example>"}
        for i in range(2):
            m = _member(desk, f"会员{i}", f"1380013800{i}", f"m{i}@example.com", notices=True)
            top_up(_sv_card(desk, m, f"0001000{i}"), 10_000, 0, "cash", desk.cashier, f"t-{i}")
        done = Worker({"email": config}).run_round(reminders=False)
    finally:
        controller.stop()
    assert done.retry == 2 and done.unknown == 0 and done.failed == 0
    assert {r.state for r in Message.select()} == {"queued"}


def test_one_worker_per_database(sqlite_desk):
    from mms_tui.services.messages.worker import only_worker

    with only_worker(sqlite_desk.target) as first, only_worker(sqlite_desk.target) as second:
        assert first and not second
    with only_worker(sqlite_desk.target) as again:
        assert again


def test_a_forged_reply_header_opens_a_new_ticket_instead_of_failing(desk):
    from mms_tui.services.messages.tickets import from_email

    _member(desk, "张三", "13800138000", "zs@example.com")
    t = from_email(b"From: zs@example.com\nSubject: x\nIn-Reply-To: <ticket.99999999999999999999999@x>\n\nhi\n")
    assert t.source == "email" and t.subject == "x"


# --- the reminders that come due by the calendar ------------------------------------------------------------------


def test_the_days_reminders_are_written_once_each_however_often_the_worker_looks(desk):
    from mms_tui import clock
    from mms_tui.models import Card, Member
    from mms_tui.services.bookings.appointments import book
    from mms_tui.services.loyalty.coupons import issue_coupon
    from mms_tui.services.loyalty.rules_store import load_rules, save_rules
    from mms_tui.services.messages.reminders import write_due
    from mms_tui.services.staff.admin import add_staff

    now = clock.now().replace(hour=12, minute=0, second=0, microsecond=0)
    with clock.pinned(now):
        save_rules({"promotions": [{"code": "SPRING", "name": "春季券", "kind": "amount", "amount": "20",
                                    "auto": False}],
                    "messages": {"card_ending_days": 7, "booking_hours": 24}}, desk.manager)
        zhang = _member(desk, "张三", "13800138000")
        Member.update(birthday=dt.date(1992, now.month, now.day)).where(Member.id == zhang).execute()
        card = issue_card(zhang, "SV", desk.cashier, "i-1", card_no="00010001").card_id
        Card.update(valid_until=now.date() + dt.timedelta(days=3)).where(Card.id == card).execute()
        issue_coupon(zhang, "SPRING", desk.manager)
        add_staff("p01", "王师傅", by=desk.admin, performer=True, services=["HAIR"])
        book(zhang, ["HAIR"], desk.cashier, "b-1", start=now + dt.timedelta(hours=22), staff="p01")
        first = write_due(load_rules())
        again = write_due(load_rules(), force=True)
    assert first == {"booking": 1, "coupon": 1, "birthday": 1, "card_ending": 1, "points_expiring": 0}
    assert set(again.values()) == {0}
    rows = {r.trigger: json.loads(r.fields) for r in Message.select()}
    assert rows["card_ending"]["days"] == "3" and rows["coupon"]["coupon"] == "春季券"
    assert rows["booking"]["staff"] == "王师傅" and rows["booking"]["service"] == "精剪"
    assert {r.marketing for r in Message.select() if r.trigger in ("birthday", "coupon")} == {True}


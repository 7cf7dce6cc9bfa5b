"""Desk safety in the services (#14): one intent, one posting; a repeat check-in asks; PINs throttled and locked
per account across processes; every role check in the service, whatever the entry point."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.models import Staff, Transaction, Visit
from mms_tui.services.base.config import set_config
from mms_tui.services.base.errors import AccountLocked, PermissionDenied, PinWait, RepeatCheckIn, WrongPin
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.topup import top_up
from mms_tui.services.staff.accounts import authenticate, unlock_staff
from mms_tui.services.staff.permissions import may
from tests.conftest import CASHIER_PIN, MANAGER_PIN

T0 = dt.datetime.combine(clock.today(), dt.time(10, 0))  # 10:00 on the product's today


def member(desk) -> int:
    return register_member("张三", "13800138000", desk.cashier, "r1").member_id


# --- check-in: a repeat within the window asks first --------------------------------------------------------------


def test_a_second_check_in_of_a_package_within_ten_minutes_is_refused_naming_the_first(desk):
    card = issue_card(member(desk), "V10", desk.cashier, "i1").card_id
    with clock.pinned(T0):
        first = check_in(card, desk.cashier, "c1")
    with clock.pinned(T0 + dt.timedelta(minutes=4)):
        assert check_in(card, desk.cashier, "c1") == first  # the same intent: the first answer, nothing more
        with pytest.raises(RepeatCheckIn, match="10:00") as refused:
            check_in(card, desk.cashier, "c2")
        assert refused.value.last_at == str(T0) and "4 min ago" in str(refused.value)
        assert Visit.select().count() == 1 and Transaction.get_or_none(Transaction.txid == "c2") is None
        again = check_in(card, desk.cashier, "c2", again=True)  # asked for on purpose
    assert (first.visits_left, again.visits_left) == (9, 8)
    with clock.pinned(T0 + dt.timedelta(minutes=30)):
        assert check_in(card, desk.cashier, "c3").visits_left == 7  # outside the window: no question


def test_a_pass_asks_for_the_rest_of_the_day_and_not_the_next(desk):
    with clock.pinned(T0):  # the pass starts on T0's day even when the run crossed midnight since T0 was read
        card = issue_card(member(desk), "M1", desk.cashier, "i1").card_id
        check_in(card, desk.cashier, "c1")
    with clock.pinned(T0 + dt.timedelta(hours=9)), pytest.raises(RepeatCheckIn):
        check_in(card, desk.cashier, "c2")
    with clock.pinned(T0 + dt.timedelta(hours=15)):  # 01:00 the next day
        check_in(card, desk.cashier, "c3")
    assert Visit.select().count() == 2


def test_the_window_is_a_setting_and_a_reversed_check_in_does_not_count(desk):
    from mms_tui.services.money.refund import refund

    card = issue_card(member(desk), "V10", desk.cashier, "i1").card_id
    with write_transaction():
        set_config("repeat_check_in", {"visits": 60, "period": 0})
    with clock.pinned(T0):
        check_in(card, desk.cashier, "c1")
    with clock.pinned(T0 + dt.timedelta(minutes=30)):
        with pytest.raises(RepeatCheckIn):
            check_in(card, desk.cashier, "c2")
        refund("c1", desk.manager, "wrong member", "rf1")
        assert check_in(card, desk.cashier, "c2").visits_left == 9


# --- PINs: throttled and locked per account, in the database --------------------------------------------------------


def test_wrong_pins_slow_down_then_lock_the_account_and_the_right_pin_waits_too(desk):
    with clock.pinned(T0), pytest.raises(WrongPin):
        authenticate("c01", "9999")  # 1st: no wait
    with clock.pinned(T0):
        with pytest.raises(WrongPin):
            authenticate("c01", "9998")  # 2nd: the next try waits 1 s
        with pytest.raises(PinWait) as wait:
            authenticate("c01", CASHIER_PIN)  # even the right PIN is not looked at during the wait
        assert wait.value.seconds == 1
    with clock.pinned(T0 + dt.timedelta(seconds=1)), pytest.raises(WrongPin):
        authenticate("c01", "9997")  # 3rd: 2 s
    with clock.pinned(T0 + dt.timedelta(seconds=3)), pytest.raises(WrongPin):
        authenticate("c01", "9996")  # 4th: 4 s
    with clock.pinned(T0 + dt.timedelta(seconds=7)):
        with pytest.raises(AccountLocked) as locked:
            authenticate("c01", "9995")  # 5th: locked 5 minutes
        assert locked.value.seconds == 300
    with clock.pinned(T0 + dt.timedelta(minutes=4)), pytest.raises(AccountLocked, match="10:05:07"):
        authenticate("c01", CASHIER_PIN)  # locked at 10:00:07 for 5 minutes
    with clock.pinned(T0 + dt.timedelta(minutes=6)):
        assert authenticate("c01", CASHIER_PIN).code == "c01"
    staff = Staff.get(Staff.code == "c01")
    assert (staff.failed_logins, staff.locked_until, staff.last_login_at) == (0, None, T0 + dt.timedelta(minutes=6))


def test_a_manager_unlocks_a_locked_cashier_and_a_cashier_may_not(desk):
    with write_transaction():
        set_config("pin_throttle", {"waits": [0], "lock_after": 2, "lock_minutes": 30})
    with clock.pinned(T0):
        with pytest.raises(WrongPin):
            authenticate("c01", "1111")
        with pytest.raises(AccountLocked):  # the second wrong PIN locks
            authenticate("c01", "2222")
        with pytest.raises(AccountLocked):
            authenticate("c01", CASHIER_PIN)
        with pytest.raises(PermissionDenied):
            unlock_staff("c01", desk.cashier)
        unlock_staff("c01", desk.manager)
        assert authenticate("c01", CASHIER_PIN).code == "c01"


def test_the_lockout_holds_in_another_process(desk, tmp_path):
    """The count lives in the database: a second desk (another process) is refused as well."""
    with write_transaction():
        set_config("pin_throttle", {"waits": [0], "lock_after": 3, "lock_minutes": 5})
    for pin in ("1111", "2222", "3333"):
        with pytest.raises((WrongPin, AccountLocked)):
            authenticate("m01", pin)
    code = (
        "from mms_tui.services.ops.setup import connect\n"
        "from mms_tui.services.staff.accounts import authenticate\n"
        "from mms_tui.services.base.errors import AccountLocked\n"
        f"connect({desk.target!r})\n"
        "try:\n"
        f"    authenticate('m01', {MANAGER_PIN!r})\n"
        "    print('in')\n"
        "except AccountLocked as exc:\n"
        "    print('locked', exc.seconds)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[0] == "locked", out.stderr
    assert int(out.stdout.split()[1]) > 0  # (under CI's moved clock each process starts its own clock anew)


def test_an_unknown_code_is_refused_like_a_wrong_pin(desk):
    with pytest.raises(WrongPin, match="Wrong staff code or PIN"):
        authenticate("nobody", CASHIER_PIN)


# --- role checks in the services ----------------------------------------------------------------------------------


def test_a_cashier_cannot_give_a_bonus_other_than_the_rules_through_the_service(desk):
    card = issue_card(member(desk), "SV", desk.cashier, "i1").card_id
    with pytest.raises(PermissionDenied, match="manager"):
        top_up(card, 100_000, 50_000, "cash", desk.cashier, "t1")  # the rule gives ¥200, not ¥500
    assert Transaction.get_or_none(Transaction.txid == "t1") is None
    assert top_up(card, 100_000, 20_000, "cash", desk.cashier, "t1").bonus_fen == 20_000  # the rule's own
    assert top_up(card, 100_000, 50_000, "cash", desk.manager, "t2").bonus_fen == 50_000


def test_permissions_are_named_and_ranked(desk):
    assert not may(desk.cashier, "refund") and may(desk.manager, "refund") and may(desk.admin, "refund")
    assert not may(None, "refund")


# --- refunds: a reason, a manager, and where the money goes -------------------------------------------------------


def test_a_cashier_refunds_with_a_managers_approval_and_the_money_goes_back_as_chosen(desk):
    from mms_tui.models import AuditEvent, Entry
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.refund import refund, refund_preview

    m = member(desk)
    checkout(m, ["HAIR"], [("wechat", 8_800)], desk.cashier, "s1")
    preview = refund_preview("s1")
    assert (preview.paid_with, preview.refundable) == ({"wechat": 8_800}, True)
    with pytest.raises(PermissionDenied):
        refund("s1", desk.cashier, "unhappy", "rf1")  # a cashier alone may not
    with pytest.raises(PermissionDenied):
        refund("s1", desk.cashier, "unhappy", "rf1", approver=desk.cashier)
    result = refund("s1", desk.cashier, "unhappy", "rf1", approver=desk.manager, to_tender="cash")
    assert (result.money_returned_fen, result.paid_out) == (8_800, {"cash": 8_800})
    tx = Transaction.get(Transaction.txid == "rf1")
    assert (tx.staff.code, tx.note) == ("c01", "unhappy")  # the cashier's drawer pays it; the reason is kept
    assert {e.account: e.amount for e in Entry.select().where(Entry.transaction == tx)}["tender.cash"] == 8_800
    event = AuditEvent.get(AuditEvent.txid == "rf1")
    assert '"approved_by": "m01"' in event.payload and '"reason": "unhappy"' in event.payload
    assert refund_preview("s1").refundable is False
    # mms check counts money handed back through another tender as the same money (it reported this refund as
    # "does not exactly undo what it reverses"); a top-up paid by WeChat and a sale paid two ways, back in cash
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.money.topup import top_up

    card = issue_card(m, "SV", desk.cashier, "sv1", card_no="S0099").card_id
    top_up(card, 100_000, 20_000, "wechat", desk.cashier, "t1")
    refund("t1", desk.manager, "wrong card", "rf2", to_tender="cash")
    checkout(m, ["HAIR"], [("wechat", 5_000), ("bank_card", 3_800)], desk.cashier, "s2")
    refund("s2", desk.manager, "unhappy", "rf3", to_tender="cash")
    assert check_ledger() == []
    Entry.update(amount=Entry.amount - 100).where(  # yet a different amount back is still caught
        Entry.transaction == Transaction.get(Transaction.txid == "rf3").id, Entry.account == "tender.cash").execute()
    assert {"unbalanced", "reversal"} <= {p.rule for p in check_ledger()}


def test_a_refund_by_default_goes_back_through_each_original_tender(desk):
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.refund import refund

    m = member(desk)
    checkout(m, ["SPA"], [("cash", 40_000), ("alipay", 9_800)], desk.cashier, "s1")
    assert refund("s1", desk.manager, "double sale", "rf1").paid_out == {"cash": 40_000, "alipay": 9_800}


# --- limits: no amount, balance or sum outgrows 64-bit integers ---------------------------------------------------


def test_amounts_above_the_limits_are_refused_with_one_message_and_nothing_moves(desk, run):
    from mms_tui.models import Card
    from mms_tui.services.base.errors import InvalidInput
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.money.checkout import checkout

    card = issue_card(member(desk), "SV", desk.cashier, "i1", card_no="SV1").card_id
    with pytest.raises(InvalidInput, match="at most"):
        top_up(card, 10**15, None, "cash", desk.manager, "huge")  # ¥10¹⁵: was accepted, a hundred times
    with pytest.raises(InvalidInput, match="at most"):
        top_up(card, 100_000, 10**15, "cash", desk.manager, "huge-bonus")
    with pytest.raises(InvalidInput, match="at most"):
        checkout(None, ["HAIR"], [("cash", 10**15)], desk.cashier, "huge-cash")
    with write_transaction():  # a card may hold ¥1,500 in all: the next top-up would pass it
        set_config("limits", {"balance_fen": 150_000})
    top_up(card, 100_000, 0, "cash", desk.manager, "t1")
    with pytest.raises(InvalidInput, match="would hold more than"):
        top_up(card, 60_000, 0, "cash", desk.manager, "t2")
    assert Card.get_by_id(card).principal_fen == 100_000 and check_ledger() == []
    assert Transaction.get_or_none(Transaction.txid == "t2") is None
    result = run("--db", desk.target, "report", "liability")
    assert result.exit_code == 0 and "¥1,000.00" in result.output


# --- the command line believes --staff only with a PIN --------------------------------------------------------------


def test_a_cashier_code_on_the_command_line_needs_its_pin_and_a_manager_to_credit_balances(sqlite_desk, run, tmp_path):
    """A cashier's code could credit ¥99,587 through import --on-duplicate update: now the code needs its PIN,
    a wrong PIN counts towards the lockout like a login, and the import itself needs a manager."""
    from mms_tui.models import Card

    source = tmp_path / "members.csv"
    source.write_text("姓名,手机,卡号,卡类型,余额\n张三,13800138000,SV1,SV,99587\n", encoding="utf-8")
    args = ("--db", sqlite_desk.target, "import", "members", str(source), "--on-duplicate", "update")
    no_pin = run(*args, "--staff", "c01")
    assert no_pin.exit_code == 1 and "--pin-stdin" in no_pin.stderr
    wrong = run(*args, "--staff", "c01", "--pin-stdin", input="9999\n")
    assert wrong.exit_code == 1 and "Wrong staff code or PIN" in wrong.stderr
    cashier = run(*args, "--staff", "c01", "--pin-stdin", input=CASHIER_PIN + "\n")
    assert cashier.exit_code == 1 and "a manager must" in cashier.stderr
    from mms_tui.services.ops.setup import connect

    connect(sqlite_desk.target)
    assert Card.get_or_none(Card.card_no == "SV1") is None
    assert Staff.get(Staff.code == "c01").failed_logins == 0  # the right PIN cleared the wrong one
    manager = run(*args, "--staff", "m01", "--pin-stdin", input=MANAGER_PIN + "\n")
    assert manager.exit_code == 0, manager.output
    connect(sqlite_desk.target)
    assert Card.get(Card.card_no == "SV1").principal_fen == 9_958_700


# --- personal data: every look and every export is recorded --------------------------------------------------------


def test_the_edit_forms_full_phone_and_every_export_of_personal_data_are_audited(desk, run, tmp_path):
    from mms_tui.models import AuditEvent
    from mms_tui.services.members.profile import member_details

    m = member(desk)
    assert member_details(m, desk.cashier).phone == "13800138000"
    looked = AuditEvent.get(AuditEvent.action == "member.view_details")
    assert (looked.subject, looked.staff_id) == (f"member:{m}", desk.cashier.id)
    assert run("--db", desk.target, "export", "members", str(tmp_path / "m.csv")).exit_code == 0
    assert run("--db", desk.target, "export", "member", "13800138000", str(tmp_path / "one.json")).exit_code == 0
    assert run("--db", desk.target, "export", "ledger", str(tmp_path / "l.csv")).exit_code == 0  # no person in it
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("export.")).order_by(
        AuditEvent.id)]
    assert actions == ["export.members", "export.member"]
    event = AuditEvent.get(AuditEvent.action == "export.member")
    assert event.subject == f"member:{m}" and "one.json" in event.payload and "os_user" in event.payload
    from mms_tui.services.ledger.check import check_ledger

    assert check_ledger() == []  # recorded on the chain like every event


# --- locks: a dry run takes none, a bad file is refused before one ---------------------------------------------------


def test_a_dry_run_and_a_bad_file_never_wait_for_the_write_lock(sqlite_desk, tmp_path):
    """Another desk holds the write lock: a dry run still answers at once, and a file with a bad row is refused at
    once (it used to take the lock first, then read the file)."""
    import sqlite3
    import time

    from mms_tui.services.exchange.import_report import ImportRejected
    from mms_tui.services.exchange.importing import import_file

    good = tmp_path / "good.csv"
    good.write_text("姓名,手机,卡号,卡类型,余额\n张三,13800138000,SV1,SV,100\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,手机\n李四,12345\n", encoding="utf-8")
    other = sqlite3.connect(sqlite_desk.target, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")  # another desk is writing
    try:
        started = time.monotonic()
        result = import_file("members", good, dry_run=True)
        assert (result.dry_run, result.created, result.principal_fen) == (True, 1, 10_000)
        with pytest.raises(ImportRejected):
            import_file("members", bad)
        assert time.monotonic() - started < 2  # neither waited for the lock (the busy timeout is 10 s)
    finally:
        other.rollback()
        other.close()
    from mms_tui.models import Member

    assert Member.select().count() == 0
    with pytest.raises(ImportRejected):
        import_file("members", bad, dry_run=True)


# --- a save waiting for another writer: bounded, and the desk says so -----------------------------------------------


def test_a_write_gives_up_at_the_limit_and_says_another_desk_or_the_import_is_writing(sqlite_desk):
    import sqlite3
    import time

    from mms_tui.db import database_fault, set_waits
    from mms_tui.screens.common import error_message
    from mms_tui.services.base.config import announced_writer, current_writer

    card = issue_card(member(sqlite_desk), "SV", sqlite_desk.cashier, "i1").card_id
    set_waits(1, 300)
    other = sqlite3.connect(sqlite_desk.target, timeout=0.1)
    try:
        from mms_tui.db import close_database, init_database

        close_database()
        init_database(sqlite_desk.target)  # as a desk opens it with lock_wait_seconds = 1
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(Exception) as waited:
            top_up(card, 10_000, None, "cash", sqlite_desk.cashier, "t-busy")
        assert 0.9 < time.monotonic() - started < 5
        assert "busy" in database_fault(waited.value)
        other.rollback()
        with announced_writer("an import of members.csv", sqlite_desk.manager):
            assert current_writer()["what"] == "an import of members.csv"
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(Exception) as waited:
                top_up(card, 10_000, None, "cash", sqlite_desk.cashier, "t-busy")
            assert "an import of members.csv" in error_message(waited.value)
            other.rollback()
        assert current_writer() is None
        assert top_up(card, 10_000, None, "cash", sqlite_desk.cashier, "t-busy").amount_fen == 10_000
    finally:
        other.close()
        set_waits(15, 300)


def test_postgresql_connections_wait_for_locks_and_run_statements_only_so_long(postgres_target):
    from mms_tui.db import database, set_waits
    from mms_tui.services.ops.setup import connect

    set_waits(7, 120)
    try:
        connect(postgres_target)
        assert database.execute_sql("SHOW lock_timeout").fetchone()[0] == "7s"
        assert database.execute_sql("SHOW statement_timeout").fetchone()[0] == "2min"
    finally:
        set_waits(15, 300)


async def test_the_desk_says_saving_while_another_desk_holds_the_write_lock(regular):
    import sqlite3

    from tests.test_tui import at_desk, open_member, settle

    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00077777")
        other = sqlite3.connect(regular.target, timeout=0.1)
        other.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("f2")
            await pilot.pause(1.0)
            assert any("another desk is writing" in str(n.message) for n in app._notifications)
        finally:
            other.rollback()
            other.close()
        await settle(pilot)
        assert Visit.select().count() == 1

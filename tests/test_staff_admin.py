"""Staff administration (issue #17): add, edit, disable/enable, reset PIN, performers, the store a login is bound
to, and the audit list — through the services and through ``mms staff`` / ``mms audit``, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui import clock
from mms_tui.models import AuditEvent, Staff, StaffService, Store
from mms_tui.services.base.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    PinChangeRequired,
    WrongPin,
)
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.reports.audit import audit_events
from mms_tui.services.staff.accounts import authenticate, set_own_pin
from mms_tui.services.staff.admin import add_staff, edit_staff, list_staff, reset_pin, set_staff_active
from tests.conftest import ADMIN_PIN, CASHIER_PIN, MANAGER_PIN


@pytest.fixture
def branch(desk):
    """A second store, B1, with its own manager and cashier."""
    Store.create(code="B1", name="一分店")
    add_staff("m02", "经理 王芳", by=desk.admin, role="manager", store="B1", pin="3456")
    add_staff("c09", "前台 小刘", by=desk.admin, role="cashier", store="B1", pin="9999")
    return desk


def staff_count() -> int:
    return Staff.select().count()


def audit_count() -> int:
    return AuditEvent.select().count()


def assert_nothing_written(before: tuple[int, int]) -> None:
    assert (staff_count(), audit_count()) == before


# ------------------------------------------------------------------------------------------------ adding


def test_an_admin_adds_a_cashier_who_can_then_log_in_at_their_store(desk):
    row = add_staff("c02", " 小王 ", by=desk.admin, role="cashier", store="HQ", pin="5555", card_no="STAFF002")
    assert (row.code, row.name, row.role, row.store, row.card_no, row.active) == (
        "c02", "小王", "cashier", "HQ", "STAFF002", True)
    assert authenticate("c02", "5555", "HQ").code == "c02"
    event = AuditEvent.select().where(AuditEvent.action == "staff.create").order_by(AuditEvent.id.desc()).get()
    payload = json.loads(event.payload)
    assert event.staff_id == desk.admin.id and payload["before"] is None
    assert payload["after"]["role"] == "cashier" and "5555" not in event.payload
    assert check_ledger() == []


def test_a_manager_adds_a_cashier_to_their_own_store_by_default(desk):
    row = add_staff("c03", "小张", by=desk.manager, pin="5555")
    assert row.store == "HQ" and row.role == "cashier"


def test_a_manager_cannot_create_an_admin(desk):
    before = (staff_count(), audit_count())
    with pytest.raises(PermissionDenied, match="admin"):
        add_staff("a02", "Boss", by=desk.manager, role="admin", store="HQ", pin="5555")
    assert_nothing_written(before)


def test_a_cashier_cannot_add_staff(desk):
    before = (staff_count(), audit_count())
    with pytest.raises(PermissionDenied):
        add_staff("c04", "小李", by=desk.cashier, pin="5555")
    assert_nothing_written(before)


def test_a_duplicate_code_or_staff_card_is_refused_naming_it(desk):
    before = (staff_count(), audit_count())
    with pytest.raises(InvalidInput, match="c01 is already taken"):
        add_staff("c01", "另一个", by=desk.admin, pin="5555")
    with pytest.raises(InvalidInput, match="STAFF001 already belongs to c01"):
        add_staff("c05", "小赵", by=desk.admin, pin="5555", card_no="STAFF001")
    assert_nothing_written(before)


def test_an_unknown_store_a_bad_pin_or_an_unknown_service_is_refused(desk):
    before = (staff_count(), audit_count())
    with pytest.raises(NotFound, match="BR9"):
        add_staff("c06", "小周", by=desk.admin, store="BR9", pin="5555")
    with pytest.raises(InvalidInput, match="PIN"):
        add_staff("c06", "小周", by=desk.admin, pin="12")
    with pytest.raises(InvalidInput, match="NOPE"):
        add_staff("t09", "师傅", by=desk.admin, performer=True, services=["HAIR", "NOPE"])
    with pytest.raises(InvalidInput, match="code"):
        add_staff("c 6", "小周", by=desk.admin, pin="5555")
    assert_nothing_written(before)


def test_a_performer_has_a_level_and_services_and_never_logs_in(desk):
    row = add_staff("t01", "李师傅", by=desk.manager, performer=True, level="高级", services=["SPA", "HAIR"])
    assert (row.role, row.level, row.services) == ("performer", "高级", ("HAIR", "SPA"))
    with pytest.raises(WrongPin):
        authenticate("t01", "")
    with pytest.raises(InvalidInput, match="PIN"):
        add_staff("t02", "王师傅", by=desk.manager, performer=True, pin="5555")
    edited = edit_staff("t01", by=desk.manager, services=["SPA"], level="首席")
    assert (edited.level, edited.services) == ("首席", ("SPA",))
    assert StaffService.select().count() == 1
    with pytest.raises(InvalidInput, match="PIN"):
        reset_pin("t01", "5555", by=desk.manager)


# ------------------------------------------------------------------------------------------------ editing


def test_an_edit_changes_what_is_given_and_audits_before_and_after(desk):
    row = edit_staff("c01", by=desk.manager, name="前台 陈", role="manager", card_no="")
    assert (row.name, row.role, row.card_no, row.store) == ("前台 陈", "manager", "", "HQ")
    payload = json.loads(AuditEvent.select().order_by(AuditEvent.id.desc()).get().payload)
    assert payload["before"]["role"] == "cashier" and payload["after"]["role"] == "manager"
    assert payload["before"]["card_no"] == "STAFF001" and payload["after"]["card_no"] == ""
    assert check_ledger() == []


def test_a_store_a_manager_cannot_touch_store_b_staff(branch):
    before = (staff_count(), audit_count())
    with pytest.raises(PermissionDenied, match="own store"):
        edit_staff("c09", by=branch.manager, name="改名")
    with pytest.raises(PermissionDenied, match="own store"):
        set_staff_active("c09", False, by=branch.manager)
    with pytest.raises(PermissionDenied, match="own store"):
        reset_pin("c09", "5555", by=branch.manager)
    with pytest.raises(PermissionDenied, match="own store"):
        edit_staff("c01", by=branch.manager, store="B1")  # nor move their own staff away
    with pytest.raises(PermissionDenied, match="own store"):
        add_staff("c10", "小吴", by=branch.manager, store="B1", pin="5555")
    assert_nothing_written(before)
    assert Staff.get(Staff.code == "c09").name == "前台 小刘"


def test_a_manager_cannot_promote_to_admin_nor_edit_an_admin(desk):
    with pytest.raises(PermissionDenied, match="admin"):
        edit_staff("c01", by=desk.manager, role="admin")
    with pytest.raises(PermissionDenied):
        edit_staff("admin", by=desk.manager, name="x")
    assert Staff.get(Staff.code == "c01").role == "cashier"


def test_an_admin_moves_staff_between_stores(branch):
    assert edit_staff("c01", by=branch.admin, store="B1").store == "B1"
    assert [r.code for r in list_staff(Staff.get(Staff.code == "m02"))] == ["c01", "c09", "m02"]


def test_nobody_disables_themselves_or_changes_their_own_role(desk):
    """So the last admin can never shut the shop out of its own back office."""
    with pytest.raises(PermissionDenied, match="own account"):
        set_staff_active("admin", False, by=desk.admin)
    with pytest.raises(PermissionDenied, match="own role"):
        edit_staff("admin", by=desk.admin, role="manager")
    assert Staff.get(Staff.code == "admin").role == "admin" and Staff.get(Staff.code == "admin").active


# ------------------------------------------------------------------------------------------------ logging in


def test_a_disabled_account_cannot_log_in_until_enabled(desk):
    row = set_staff_active("c01", False, by=desk.manager)
    assert row.active is False
    with pytest.raises(WrongPin):
        authenticate("c01", CASHIER_PIN)
    assert set_staff_active("c01", True, by=desk.manager).active is True
    assert authenticate("c01", CASHIER_PIN).code == "c01"
    assert [e.action for e in audit_events(desk.admin, subject="staff:c01")][:2] == ["staff.enable", "staff.disable"]


def test_a_reset_pin_forces_a_new_one_before_the_login_finishes(desk):
    assert reset_pin("c01", "7777", by=desk.manager).must_change_pin is True
    with pytest.raises(WrongPin):
        authenticate("c01", CASHIER_PIN)  # the old PIN is gone
    with pytest.raises(PinChangeRequired):
        authenticate("c01", "7777", "HQ")
    assert Staff.get(Staff.code == "c01").last_login_at is None
    with pytest.raises(InvalidInput, match="differ"):
        set_own_pin("c01", "7777", "7777")
    set_own_pin("c01", "7777", "8888")
    assert authenticate("c01", "8888", "HQ").code == "c01"
    assert Staff.get(Staff.code == "c01").last_login_at is not None
    with pytest.raises(WrongPin):
        authenticate("c01", "7777")
    assert check_ledger() == []


def test_staff_work_only_at_their_own_store_and_admins_anywhere(branch):
    with pytest.raises(PermissionDenied, match="B1"):
        authenticate("c01", CASHIER_PIN, "B1")
    with pytest.raises(PermissionDenied, match="B1"):
        authenticate("m01", MANAGER_PIN, "B1")
    with pytest.raises(PermissionDenied, match="HQ"):
        authenticate("c09", "9999", "HQ")
    assert authenticate("c01", CASHIER_PIN, "HQ").code == "c01"
    assert authenticate("c09", "9999", "B1").code == "c09"
    assert authenticate("admin", ADMIN_PIN, "B1").code == "admin"
    assert Staff.get(Staff.code == "c01").failed_logins == 0  # a right PIN at the wrong desk is no wrong PIN


def test_the_desk_login_refuses_another_stores_cashier(branch):
    from mms_tui.screens.login import log_in

    with pytest.raises(PermissionDenied):
        log_in("c09", "9999", "HQ")
    assert log_in("c09", "9999", "B1").code == "c09"


# ------------------------------------------------------------------------------------------------ listing


def test_the_list_shows_a_managers_own_store_with_last_login(branch):
    authenticate("c01", CASHIER_PIN)
    rows = {r.code: r for r in list_staff(branch.manager)}
    assert set(rows) == {"admin", "m01", "c01"}
    assert rows["c01"].last_login_at is not None and rows["m01"].last_login_at is None
    assert {r.code for r in list_staff(branch.admin)} == {"admin", "m01", "c01", "m02", "c09"}
    assert {r.code for r in list_staff(branch.admin, store="B1")} == {"m02", "c09"}
    with pytest.raises(PermissionDenied):
        list_staff(branch.cashier)


# ------------------------------------------------------------------------------------------------ the audit list


def test_audit_events_filter_by_staff_subject_and_days(branch, today):
    m02 = Staff.get(Staff.code == "m02")
    with clock.pinned(dt.datetime.combine(today - dt.timedelta(days=3), dt.time(10))):
        edit_staff("c09", by=m02, level="技师")
    edit_staff("c01", by=branch.manager, name="小陈")
    newest = list(audit_events(branch.admin))
    assert newest[0].action == "staff.edit" and newest[0].subject == "staff:c01" and newest[0].staff == "m01"
    assert "name: 前台 小陈 → 小陈" in newest[0].change
    assert [(e.subject, e.change) for e in audit_events(branch.admin, staff="m02")] == [
        ("staff:c09", "level:  → 技师")]
    assert {e.subject for e in audit_events(branch.admin, subject="staff")} >= {"staff:c01", "staff:c09"}
    assert [e.store for e in audit_events(branch.admin, subject="staff:c09")] == ["B1", "B1"]
    old = today - dt.timedelta(days=3)
    assert [e.subject for e in audit_events(branch.admin, start=old, end=old)] == ["staff:c09"]
    assert ("staff.edit", "staff:c09") not in {(e.action, e.subject) for e in audit_events(branch.admin, start=today)}
    assert "staff:c09" not in {e.subject for e in audit_events(branch.manager)}  # another store's
    with pytest.raises(InvalidInput):
        list(audit_events(branch.admin, start=today, end=old))
    with pytest.raises(PermissionDenied):
        list(audit_events(branch.cashier))


# ------------------------------------------------------------------------------------------------ commands


def cli_rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_mms_staff_add_reads_the_pin_from_stdin_and_the_new_cashier_logs_in(desk, run):
    rows = cli_rows(run("--db", desk.target, "staff", "add", "c02", "小王", "--role", "cashier", "--store", "HQ",
                        "--pin-stdin", "--format", "json", input="5555\n"))
    assert rows[0]["code"] == "c02" and rows[0]["store"] == "HQ"
    assert authenticate("c02", "5555", "HQ").code == "c02"


def test_mms_staff_add_as_a_manager_takes_both_pins_from_stdin(desk, run):
    result = run("--db", desk.target, "staff", "add", "c03", "小张", "--staff", "m01", "--pin-stdin",
                 "--format", "json", input=f"{MANAGER_PIN}\n6666\n")
    assert cli_rows(result)[0]["store"] == "HQ"
    assert authenticate("c03", "6666").code == "c03"
    event = AuditEvent.select().where(AuditEvent.action == "staff.create").order_by(AuditEvent.id.desc()).get()
    assert event.staff_id == desk.manager.id


def test_mms_staff_add_without_a_terminal_or_stdin_asks_for_pin_stdin_and_writes_nothing(desk, run):
    before = staff_count()
    result = run("--db", desk.target, "staff", "add", "c02", "小王")
    assert result.exit_code == 1 and "--pin-stdin" in result.output and "Traceback" not in result.output
    assert staff_count() == before


def test_mms_staff_refusals_are_one_line(desk, run):
    result = run("--db", desk.target, "staff", "add", "c01", "重复", "--pin-stdin", input="5555\n")
    assert result.exit_code == 1 and result.output.strip() == "Error: Staff code c01 is already taken."
    result = run("--db", desk.target, "staff", "add", "a02", "Boss", "--role", "admin", "--staff", "m01",
                 "--pin-stdin", input=f"{MANAGER_PIN}\n5555\n")
    assert result.exit_code == 1 and "may not grant the role admin" in result.output
    result = run("--db", desk.target, "staff", "add", "c07", "小孙", "--store", "BR9", "--pin-stdin", input="5555\n")
    assert result.exit_code == 1 and "BR9" in result.output
    assert not Staff.select().where(Staff.code.in_(["a02", "c07"])).exists()


def test_mms_staff_performer_edit_disable_enable_reset_and_list(desk, run):
    db = ("--db", desk.target)
    rows = cli_rows(run(*db, "staff", "add", "t01", "李师傅", "--performer", "--level", "高级",
                        "--services", "HAIR,SPA", "--format", "json"))
    assert (rows[0]["role"], rows[0]["level"], rows[0]["services"]) == ("performer", "高级", "HAIR,SPA")
    rows = cli_rows(run(*db, "staff", "edit", "c01", "--name", "小陈", "--card", "STAFF009", "--format", "json"))
    assert (rows[0]["name"], rows[0]["card_no"]) == ("小陈", "STAFF009")
    assert cli_rows(run(*db, "staff", "disable", "c01", "--format", "json"))[0]["active"] is False
    with pytest.raises(WrongPin):
        authenticate("c01", CASHIER_PIN)
    assert cli_rows(run(*db, "staff", "enable", "c01", "--format", "json"))[0]["active"] is True
    rows = cli_rows(run(*db, "staff", "reset-pin", "c01", "--pin-stdin", "--format", "json", input="4321\n"))
    assert rows[0]["must_change_pin"] is True
    with pytest.raises(PinChangeRequired):
        authenticate("c01", "4321")
    listed = {r["code"]: r for r in cli_rows(run(*db, "staff", "list", "--format", "json"))}
    assert set(listed) == {"admin", "m01", "c01", "t01"} and listed["t01"]["services"] == "HAIR,SPA"
    result = run(*db, "staff", "list", "--staff", "c01", "--pin-stdin", input="4321\n")
    assert result.exit_code == 1 and "PIN was reset" in result.output
    assert run(*db, "check").exit_code == 0


def test_mms_audit_lists_newest_first_and_filters(desk, run, today):
    db = ("--db", desk.target)
    with clock.pinned(dt.datetime.combine(today - dt.timedelta(days=2), dt.time(9))):
        edit_staff("c01", by=desk.manager, level="技师")
    edit_staff("m01", by=desk.admin, name="李强")
    rows = cli_rows(run(*db, "audit", "--subject", "staff", "--format", "json"))
    assert [r["subject"] for r in rows[:2]] == ["staff:m01", "staff:c01"]
    assert rows[0]["change"] == "name: 经理 李强 → 李强" and rows[0]["staff"] == "admin"
    assert [r["subject"] for r in cli_rows(run(*db, "audit", "--staff", "m01", "--format", "json"))] == ["staff:c01"]
    day = (today - dt.timedelta(days=2)).isoformat()
    rows = cli_rows(run(*db, "audit", "--from", day, "--to", day, "--format", "json"))
    assert [(r["action"], r["subject"]) for r in rows] == [("staff.edit", "staff:c01")]
    result = run(*db, "audit", "--staff", "nobody")
    assert result.exit_code == 1 and "nobody" in result.output
    csv = run(*db, "audit", "--subject", "staff:m01", "--format", "csv").output.splitlines()
    assert csv[0] == "at,staff,store,action,subject,change" and "staff:m01" in csv[1]


# --- the desk: a reset PIN is replaced at the next login ---------------------------------------------------------


async def test_at_the_desk_a_reset_pin_asks_for_a_new_one_twice_then_logs_in(sqlite_desk):
    """A manager resets c01's PIN to 8642: at the desk 8642 opens the new-PIN dialog, not the desk; two different
    PINs are refused there, the reset one again is refused by the services, a new one typed twice logs in — and
    from then on the new PIN logs in straight away, the reset one not at all."""
    from textual.widgets import Label

    from mms_tui.app import create_app
    from mms_tui.screens.desk import DeskScreen
    from mms_tui.screens.login import LoginScreen
    from mms_tui.screens.pin import NewPinScreen
    from mms_tui.services.staff.admin import reset_pin
    from mms_tui.settings import Settings
    from tests.test_tui import login, settle, text

    reset_pin("c01", "8642", by=sqlite_desk.manager)
    app = create_app(Settings(db=sqlite_desk.target, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await login(pilot, "c01", "8642")
        assert isinstance(app.screen, NewPinScreen)
        await pilot.press(*"1357", "enter", *"1358", "enter")
        await settle(pilot)
        assert "differ" in text(app.screen.query_one("#new-pin-message", Label))
        await pilot.press(*"8642", "enter", *"8642", "enter")  # the reset PIN itself
        await settle(pilot)
        assert isinstance(app.screen, NewPinScreen)
        assert "differ from the current one" in text(app.screen.query_one("#new-pin-message", Label))
        await pilot.press(*"1357", "enter", *"1357", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen) and app.staff.code == "c01"
    assert not Staff.get(Staff.code == "c01").must_change_pin
    assert authenticate("c01", "1357").code == "c01"
    with pytest.raises(WrongPin):
        authenticate("c01", "8642")
    app = create_app(Settings(db=sqlite_desk.target, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        reset_pin("c01", "9753", by=sqlite_desk.manager)
        await login(pilot, "c01", "9753")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "must be replaced first" in text(app.screen.query_one("#pin-message", Label))


def test_mms_init_with_an_admin_code_on_a_database_that_has_an_admin_says_it_created_none(run, sqlite_desk):
    result = run("--db", sqlite_desk.target, "init", "--admin-code", "c02", "--admin-pin", "5555")
    assert result.exit_code == 1 and "No admin c02 created" in result.output and "mms staff add" in result.output
    assert Staff.get_or_none(Staff.code == "c02") is None
    assert run("--db", sqlite_desk.target, "init").exit_code == 0  # an upgrade alone says nothing of admins


def test_mms_init_reads_the_first_admins_pin_from_standard_input(run, tmp_path):
    """The first admin's PIN need not be on the command line, where ps shows it."""
    target = tmp_path / "fresh.sqlite3"
    made = run("--db", target, "init", "--admin-code", "boss", "--pin-stdin", input="7531\n")
    assert made.exit_code == 0 and "boss" in made.output
    assert authenticate("boss", "7531").role == "admin"
    other = tmp_path / "other.sqlite3"
    bad = run("--db", other, "init", "--pin-stdin", input="12\n")
    assert bad.exit_code == 1 and "Traceback" not in bad.output and not other.exists()
    both = run("--db", other, "init", "--admin-pin", "1234", "--pin-stdin", input="1234\n")
    assert both.exit_code == 2 and not other.exists()
    none = run("--db", other, "init")
    assert none.exit_code == 1 and "--pin-stdin" in none.output

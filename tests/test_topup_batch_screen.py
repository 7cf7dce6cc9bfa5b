"""企业批量充值 at the desk (issue #25): the manager's area (F10, then B) reads a company's file, shows every line
with its bonus rule, posts what was shown after a yes — all of it or none, never twice — and asks twice before the
same lines go in again under a new reference. Driven by keys against a real SQLite file; every assertion is on the
screen or the database."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Label

from mms_tui.models import Card, Transaction
from mms_tui.screens.dialog import ConfirmScreen, MenuScreen
from mms_tui.screens.topup_batch import BatchTopUpScreen
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.reports.catalogue import run_report
from tests.test_manage_screens import open_area
from tests.test_tui import at_desk, settle, text

RULES = {"topup": {"bonuses": [{"threshold": "1000", "bonus": "200"}, {"threshold": "500", "bonus": "50"}]}}


def company(desk, tmp_path):
    save_rules(RULES, desk.manager)
    for i, phone in enumerate(("13900000001", "13900000002")):
        member = register_member(f"王{i}", phone, desk.cashier, f"reg{i}").member_id
        issue_card(member, "SV", desk.cashier, f"sv{i}", card_no=f"SV00{i + 1}")
    sheet = tmp_path / "batch.csv"
    sheet.write_text("卡号,金额\nSV001,1000\n13900000002,500\n", encoding="utf-8")
    return sheet


def balances() -> tuple[tuple[int, int], ...]:
    return tuple((c.principal_fen, c.bonus_fen) for c in Card.select().where(Card.card_no.in_(["SV001", "SV002"]))
                 .order_by(Card.card_no))


def status(app) -> str:
    return text(app.screen.query_one("#batch-status", Label))


async def open_batch(pilot) -> BatchTopUpScreen:
    await open_area(pilot)
    assert isinstance(pilot.app.screen, MenuScreen)
    await pilot.press("b")
    await settle(pilot)
    assert isinstance(pilot.app.screen, BatchTopUpScreen)
    return pilot.app.screen


async def check(pilot, path, reference: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#batch-file", Input).focus()
    screen.query_one("#batch-file", Input).value = str(path)
    await pilot.press("enter")  # on to the reference
    await pilot.pause()
    assert screen.focused is screen.query_one("#batch-reference", Input)
    screen.query_one("#batch-reference", Input).value = reference
    await pilot.press("enter")  # reads and checks
    await settle(pilot)


async def test_a_manager_previews_then_posts_a_batch_once_in_the_top_ups_report(sqlite_desk, tmp_path):
    sheet = company(sqlite_desk, tmp_path)
    async with at_desk(sqlite_desk) as (app, pilot):
        screen = await open_batch(pilot)
        await pilot.press("f10")  # nothing checked yet: nothing to post
        await settle(pilot)
        assert app.screen is screen
        await check(pilot, sheet, "TR-1")
        table = screen.query_one("#batch-lines", DataTable)
        assert table.row_count == 2
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first[:2] == ["2", "SV001"] and first[3:5] == ["¥1,000.00", "¥200.00"] and "1000" in first[5]
        assert "2 top-ups, ¥1,500.00 + bonus ¥250.00" in text(screen.query_one("#batch-summary", Label))
        assert balances() == ((0, 0), (0, 0))  # checked, not posted
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("f10")
        await settle(pilot)
        assert app.screen is screen and "Posted batch TR-1" in status(app)
        await pilot.press("f10")  # a second F10: nothing more to post
        await settle(pilot)
        assert app.screen is screen
    assert balances() == ((100_000, 20_000), (50_000, 5_000))
    topups = Transaction.select().where(Transaction.txid.startswith("batch-TR-1-"))
    assert topups.count() == 2 and {t.kind for t in topups} == {"topup"}
    report = [r for r in run_report("topups") if r["tender"] == "bank_card"]  # the tender the screen offers first
    assert [(r["topup_count"], r["principal_fen"], r["bonus_fen"]) for r in report] == [(2, 150_000, 25_000)]


async def test_the_same_lines_under_a_new_reference_ask_twice_and_no_posts_nothing(sqlite_desk, tmp_path):
    sheet = company(sqlite_desk, tmp_path)
    async with at_desk(sqlite_desk) as (app, pilot):
        screen = await open_batch(pilot)
        await check(pilot, sheet, "TR-1")
        await pilot.press("f10", "f10")
        await settle(pilot)
        assert "Posted batch TR-1" in status(app)
        await check(pilot, sheet, "TR-1")  # the same batch again: nothing to post
        assert "posting it again changes nothing" in status(app)
        await pilot.press("f10")
        await settle(pilot)
        assert app.screen is screen
        await check(pilot, sheet, "TR-2")
        assert "same lines were posted as batch TR-1" in status(app)
        await pilot.press("f10", "f10")  # the first yes: the louder second question comes
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "really pay twice" in text(app.screen.query_one(".dialog-title"))
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert balances() == ((100_000, 20_000), (50_000, 5_000))
        await pilot.press("f10", "f10")
        await settle(pilot)
        await pilot.press("f10")  # yes, the company paid twice
        await settle(pilot)
        assert "Posted batch TR-2" in status(app)
    assert balances() == ((200_000, 40_000), (100_000, 10_000))


async def test_a_bad_file_names_every_bad_line_and_leaving_unposted_asks_first(sqlite_desk, tmp_path):
    company(sqlite_desk, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("卡号,金额\nSV001,-5\nNOPE,100\nSV002,100\n", encoding="utf-8")
    async with at_desk(sqlite_desk) as (app, pilot):
        screen = await open_batch(pilot)
        await check(pilot, tmp_path / "missing.csv", "TR-9")
        assert status(app).startswith("✗") and "missing.csv" in status(app)
        await check(pilot, bad, "TR-9")
        assert "2 bad lines: nothing was posted" in status(app)
        listed = text(screen.query_one("#batch-problem-list")).splitlines()
        assert [line.split(":")[0] for line in listed] == ["line 2", "line 3"]
        assert not screen.query_one("#batch-lines", DataTable).display
        good = tmp_path / "good.csv"
        good.write_text("card,amount\nSV002,100\n", encoding="utf-8")
        await check(pilot, good, "TR-9")
        assert screen.query_one("#batch-lines", DataTable).row_count == 1
        assert not screen.query_one("#batch-problems").display
        screen.query_one("#batch-reference", Input).value = "TR-10"  # changed after the check: F5 again first
        await pilot.pause()
        assert screen.query_one("#batch-lines", DataTable).row_count == 0 and "F5" in status(app)
        await pilot.press("f5")
        await settle(pilot)
        assert screen.query_one("#batch-lines", DataTable).row_count == 1
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # checked but not posted: leave?
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)
    assert balances() == ((0, 0), (0, 0))

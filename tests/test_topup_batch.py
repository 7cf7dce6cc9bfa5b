"""企业批量充值 (issue #25): a company's batch of top-ups read from a file, previewed with each line's bonus rule,
posted by a manager as ordinary top-ups all or nothing, idempotent per reference, repeated lines refused under a
new reference unless said again; in the top-ups report. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from mms_tui.db import write_transaction
from mms_tui.models import AuditEvent, Card, Entry, Transaction
from mms_tui.services.base.config import set_config
from mms_tui.services.base.errors import InvalidInput, PermissionDenied
from mms_tui.services.exchange.import_topups import read_batch_lines
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.topup_batch import BatchLine, BatchRepeated, post_batch, preview_batch
from mms_tui.services.reports.catalogue import run_report

RULES = {"topup": {"bonuses": [{"threshold": "1000", "bonus": "200"}, {"threshold": "500", "bonus": "50"}]}}


@pytest.fixture
def company(desk):
    """Three employees of one company with stored-value cards (one found by phone), and a points card."""
    save_rules(RULES, desk.manager)
    desk.cards = {}
    for i, (name, phone) in enumerate([("王一", "13900000001"), ("王二", "13900000002"), ("王三", "13900000003")]):
        member = register_member(name, phone, desk.cashier, f"reg{i}").member_id
        desk.cards[phone] = issue_card(member, "SV", desk.cashier, f"sv{i}", card_no=f"SV00{i + 1}").card_id
    issue_card(register_member("李四", "13900000009", desk.cashier, "reg9").member_id, "PT", desk.cashier, "pt",
               card_no="PT009")
    return desk


def _balance(card_no: str) -> tuple[int, int]:
    card = Card.get(Card.card_no == card_no)
    return card.principal_fen, card.bonus_fen


LINES = [BatchLine(2, "SV001", 100_000), BatchLine(3, "13900000002", 50_000), BatchLine(4, "SV003", 30_000, 10_000)]


def test_the_preview_names_whose_card_how_much_and_which_bonus_rule(company):
    preview = preview_batch(LINES, "TR-1", "bank_card")
    assert [(r.line, r.card_no, r.member, r.amount_fen, r.bonus_fen) for r in preview.rows] == [
        (2, "SV001", "王一", 100_000, 20_000), (3, "SV002", "王二", 50_000, 5_000), (4, "SV003", "王三", 30_000, 10_000)]
    assert "200" in preview.rows[0].rule and preview.rows[2].rule == "given in the file"
    assert preview.rows[1].phone == "139****0002"
    assert (preview.total_fen, preview.bonus_fen, preview.posted_on, preview.same_lines_as) == (180_000, 35_000,
                                                                                               None, ())
    assert Transaction.select().where(Transaction.kind == "topup").count() == 0


def test_every_bad_line_is_named_at_once_and_nothing_is_posted(company):
    bad = [BatchLine(2, "SV001", 100_000), BatchLine(3, "NOPE", 100), BatchLine(4, "PT009", 100),
           BatchLine(5, "SV002", -5), BatchLine(6, "SV001", 100), BatchLine(7, "SV003", 100, -1)]
    with pytest.raises(InvalidInput) as caught:
        post_batch(bad, "TR-1", "bank_card", company.manager)
    text = str(caught.value)
    for expected in ("line 3: no card or member NOPE", "line 4: card PT009 is not a stored-value card",
                     "line 5: the amount must be more than zero", "line 6: card SV001 is on line 2 too",
                     "line 7: the bonus cannot be negative", "Nothing was posted"):
        assert expected in text
    assert "line 2:" not in text
    assert Transaction.select().where(Transaction.kind == "topup").count() == 0


def test_a_manager_posts_the_batch_as_top_ups_in_the_report_with_one_reference(company):
    done = post_batch(LINES, "TR-1", "bank_card", company.manager)
    assert done.posted and (done.total_fen, done.bonus_fen) == (180_000, 35_000)
    assert [_balance(c) for c in ("SV001", "SV002", "SV003")] == [(100_000, 20_000), (50_000, 5_000),
                                                                  (30_000, 10_000)]
    txs = list(Transaction.select().where(Transaction.kind == "topup").order_by(Transaction.id))
    assert [t.txid for t in txs] == ["batch-TR-1-2", "batch-TR-1-3", "batch-TR-1-4"]
    assert {t.note for t in txs} == {"batch TR-1"}
    tender = Entry.select().where(Entry.account == "tender.bank_card")
    assert sum(e.amount for e in tender) == -180_000
    event = AuditEvent.get(AuditEvent.action == "topup.batch")
    payload = json.loads(event.payload)
    assert (event.subject, payload["lines"], payload["total_fen"], payload["bonus_fen"]) == ("batch:TR-1", 3,
                                                                                             180_000, 35_000)
    report = [r for r in run_report("topups") if r["tender"] == "bank_card"]
    assert [(r["topup_count"], r["principal_fen"], r["bonus_fen"]) for r in report] == [(3, 180_000, 35_000)]
    assert check_ledger() == []


def test_a_cashier_cannot_post_a_batch(company):
    with pytest.raises(PermissionDenied):
        post_batch(LINES, "TR-1", "bank_card", company.cashier)
    assert Transaction.select().count() == Transaction.select().where(Transaction.kind != "topup").count()


def test_a_line_refused_while_posting_leaves_every_card_as_it_was(company):
    with write_transaction():
        set_config("limits", {"balance_fen": 60_000})  # SV001's ¥1000 + ¥200 no longer fits
    with pytest.raises(InvalidInput, match="SV001 would hold more than"):
        post_batch([BatchLine(2, "SV002", 10_000), BatchLine(3, "SV001", 100_000)], "TR-1", "cash", company.manager)
    assert [_balance(c) for c in ("SV001", "SV002")] == [(0, 0), (0, 0)]
    assert Transaction.select().where(Transaction.kind == "topup").count() == 0
    assert not AuditEvent.select().where(AuditEvent.action == "topup.batch").exists()


def test_the_same_batch_again_changes_nothing_and_the_same_lines_under_a_new_reference_ask_first(company):
    post_batch(LINES, "TR-1", "bank_card", company.manager)
    again = post_batch(LINES, "TR-1", "bank_card", company.manager)
    assert not again.posted and again.bonus_fen == 35_000
    assert Transaction.select().where(Transaction.kind == "topup").count() == 3
    assert preview_batch(LINES, "TR-1", "bank_card").posted_on is not None
    with pytest.raises(BatchRepeated, match="These same lines were posted as batch TR-1"):
        post_batch(LINES, "TR-2", "bank_card", company.manager)
    assert Transaction.select().where(Transaction.kind == "topup").count() == 3
    with pytest.raises(InvalidInput, match=r"Batch TR-1 was posted on .* with other lines"):
        post_batch(LINES[:2], "TR-1", "bank_card", company.manager)
    twice = post_batch(LINES, "TR-2", "bank_card", company.manager, again=True)
    assert twice.posted and _balance("SV001") == (200_000, 40_000)
    assert check_ledger() == []


def test_a_batch_top_up_is_refunded_on_its_own_like_any_top_up(company):
    from mms_tui.services.money.refund import refund

    post_batch(LINES, "TR-1", "bank_card", company.manager)
    refund("batch-TR-1-3", company.manager, "left the company", "r1")
    assert [_balance(c) for c in ("SV001", "SV002")] == [(100_000, 20_000), (0, 0)]
    assert check_ledger() == []


def test_the_file_is_read_with_chinese_headers_in_gb18030_and_bad_rows_named(company, tmp_path):
    good = tmp_path / "batch.csv"
    good.write_bytes("卡号,金额,赠送\nSV001,1000,\n13900000002,500.50,20\n\n".encode("gb18030"))
    assert read_batch_lines(good) == [BatchLine(2, "SV001", 100_000, None), BatchLine(3, "13900000002", 50_050, 2_000)]
    bad = tmp_path / "bad.csv"
    bad.write_text("card,amount\nSV001,12.345\n,100\nSV002,abc\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        read_batch_lines(bad)
    assert "line 2" in str(caught.value) and "line 3: no card number or phone" in str(caught.value)
    assert "line 4" in str(caught.value) and "Nothing was posted" in str(caught.value)
    headless = tmp_path / "headless.csv"
    headless.write_text("name,money\nx,1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="needs a card \\(or phone\\) column and an amount column"):
        read_batch_lines(headless)


def test_mms_topup_batch_dry_run_then_post_then_again(run, sqlite_desk, tmp_path):
    from tests.conftest import MANAGER_PIN

    save_rules(RULES, sqlite_desk.manager)
    member = register_member("王一", "13900000001", sqlite_desk.cashier, "reg").member_id
    issue_card(member, "SV", sqlite_desk.cashier, "sv", card_no="SV001")
    sheet = tmp_path / "batch.xlsx"
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["卡号", "金额"])
    book.active.append(["SV001", 1000])
    book.save(sheet)
    db = sqlite_desk.target
    base = ("--db", db, "topup", "batch", sheet, "--reference", "TR-9")
    dry = run(*base, "--dry-run", "--format", "csv")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[1].startswith("2,SV001,王一,139****0001,100000,20000,")
    assert "Dry run, nothing posted: 1 top-ups, ¥1,000.00 + bonus ¥200.00." in dry.stderr
    unasked = run(*base, "--staff", "m01", "--pin-stdin", input=f"{MANAGER_PIN}\n")
    assert unasked.exit_code == 1 and "asks first" in unasked.stderr
    posted = run(*base, "--staff", "m01", "--pin-stdin", "--yes", input=f"{MANAGER_PIN}\n")
    assert posted.exit_code == 0, posted.output
    assert "Posted batch TR-9: 1 top-ups, ¥1,000.00 + bonus ¥200.00." in posted.stderr
    again = run(*base, "--staff", "m01", "--pin-stdin", "--yes", input=f"{MANAGER_PIN}\n")
    assert again.exit_code == 0 and "was already posted on" in again.stderr
    assert "posting it again changes nothing" in run(*base, "--dry-run").stderr
    book.active["B2"] = 500  # the same reference, other lines: the dry run says posting would be refused
    book.save(sheet)
    changed = run(*base, "--dry-run")
    assert changed.exit_code == 0 and "with other lines: posting this file under it would be refused" in changed.stderr
    book.active["B2"] = 1000
    book.save(sheet)
    other = run("--db", db, "topup", "batch", sheet, "--reference", "TR-10", "--staff", "m01", "--pin-stdin",
                "--yes", input=f"{MANAGER_PIN}\n")
    assert other.exit_code == 1 and "These same lines were posted as batch TR-9" in other.stderr
    assert "Traceback" not in other.output
    cashier = run("--db", db, "topup", "batch", sheet, "--reference", "TR-11", "--staff", "c01", "--pin-stdin",
                  "--yes", "--again", input="0000\n")
    assert cashier.exit_code == 1 and "Traceback" not in cashier.output

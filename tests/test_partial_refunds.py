"""部分退款 (issue #26: "a refund of such a sale refunds through the provider, partial too"): part of a sale's money
given back, the sale staying sold — through the payment code's provider first, then the other money tenders;
revenue, points earned, tier spend and commissions giving back their share; a whole refund afterwards giving back
only the rest; mms check holding every step."""

from __future__ import annotations

import pytest

from mms_tui.models import Card, Commission, Member, Sale, Transaction
from mms_tui.services.base.errors import (
    AlreadyReversed,
    InsufficientBalance,
    InvalidInput,
    NotRefundable,
    PermissionDenied,
)
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund, refund_part, refund_preview
from mms_tui.services.money.topup import top_up
from mms_tui.services.payments.charge import pay_by_code
from tests.pay_fakes import WECHAT_CODES, FakeWeChatPay
from tests.test_commissions import shop


def entries(txid: str) -> dict[str, int]:
    from mms_tui.models import Entry

    found: dict[str, int] = {}
    for e in Entry.select().join(Transaction).where(Transaction.txid == txid):
        found[e.account] = found.get(e.account, 0) + e.amount
    return found


@pytest.fixture
def zhang(desk):
    """张三 with a stored-value card holding ¥100 (it earns his points)."""
    m = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    desk.card = issue_card(m, "SV", desk.cashier, "i1", card_no="S001").card_id
    top_up(desk.card, 10_000, 0, "cash", desk.cashier, "t1")
    desk.member = m
    return desk


def test_part_of_a_sale_goes_back_in_money_and_its_share_of_points_and_spend(zhang):
    d = zhang
    spend_before = Member.get_by_id(d.member).total_spend_fen
    sale = checkout(d.member, ["SPA"], [("stored_value", 9_800), ("cash", 20_000), ("bank_card", 20_000)],
                    d.cashier, "s1")
    earned = sale.points_earned
    points_after_sale = Card.get_by_id(d.card).points
    assert earned > 0
    done = refund_part("s1", 15_000, d.manager, "少做了一项", "p1")
    assert (done.money_returned_fen, done.paid_out) == (15_000, {"cash": 15_000})
    assert done.part["from_tenders"] == {"cash": 15_000}  # the tenders in their order: cash first
    assert entries("p1")["revenue.sales"] == -15_000 and entries("p1")["tender.cash"] == 15_000
    taken = earned * 15_000 // 49_800  # its share of the points the sale earned (the spend: all ¥498)
    assert Card.get_by_id(d.card).points == points_after_sale - taken
    assert Member.get_by_id(d.member).total_spend_fen == spend_before + 49_800 - 15_000
    assert Sale.get().status == "paid" and check_ledger() == []
    assert refund_part("s1", 15_000, d.manager, "少做了一项", "p1").txid == "p1"  # a retry gives nothing twice
    second = refund_part("s1", 10_000, d.manager, "又少一项", "p2", to_tender="cash")  # ¥50 cash + ¥50 bank card
    assert second.part["from_tenders"] == {"cash": 5_000, "bank_card": 5_000} and second.paid_out == {"cash": 10_000}
    preview = refund_preview("s1")
    assert (preview.part_left_fen, preview.parts_fen) == (15_000, 25_000)
    assert preview.paid_with == {"bank_card": 15_000} and preview.to_cards["principal_fen"] == 9_800
    assert check_ledger() == []


def test_a_whole_refund_after_parts_gives_back_only_the_rest(zhang):
    d = zhang
    spend_before = Member.get_by_id(d.member).total_spend_fen
    checkout(d.member, ["SPA"], [("stored_value", 9_800), ("cash", 40_000)], d.cashier, "s1")
    refund_part("s1", 12_345, d.manager, "少做了一项", "p1")
    refund_part("s1", 7_655, d.manager, "再退一点", "p2", to_tender="wechat")
    whole = refund("s1", d.manager, "全退", "rf1")
    assert whole.paid_out == {"cash": 20_000} and whole.to_cards["principal_fen"] == 9_800
    card = Card.get_by_id(d.card)
    assert (card.principal_fen, card.points) == (10_000, 0)  # every point the sale earned is back off the card
    assert Member.get_by_id(d.member).total_spend_fen == spend_before
    assert sum(entries(t).get("revenue.sales", 0) for t in ("s1", "p1", "p2", "rf1")) == 0
    assert Sale.get().status == "refunded" and check_ledger() == []
    with pytest.raises(AlreadyReversed):
        refund_part("s1", 100, d.manager, "还要", "p3")
    assert Transaction.get_or_none(Transaction.txid == "p3") is None


def test_what_a_part_cannot_do_is_refused_and_nothing_moves(zhang):
    d = zhang
    checkout(d.member, ["HAIR"], [("stored_value", 3_800), ("cash", 5_000)], d.cashier, "s1")
    for amount in (0, -100, 5_001, 1.5, True):
        with pytest.raises(InvalidInput):
            refund_part("s1", amount, d.manager, "x", "p1")
    with pytest.raises(InvalidInput, match=r"¥50\.00 of this sale's money is left"):
        refund_part("s1", 5_001, d.manager, "x", "p1")
    with pytest.raises(InvalidInput, match="reason"):
        refund_part("s1", 100, d.manager, " ", "p1")
    with pytest.raises(PermissionDenied):
        refund_part("s1", 100, d.cashier, "x", "p1")
    with pytest.raises(NotRefundable, match="refunded whole"):
        refund_part("t1", 100, d.manager, "x", "p1")  # a top-up
    assert Transaction.get_or_none(Transaction.txid == "p1") is None and check_ledger() == []
    assert refund_part("s1", 100, d.cashier, "x", "p1", approver=d.manager).paid_out == {"cash": 100}


def test_points_spent_since_refuse_the_part_that_would_take_them_back(zhang):
    d = zhang
    sale = checkout(d.member, ["SPA"], [("cash", 49_800)], d.cashier, "s1")
    Card.update(points=0).where(Card.id == d.card).execute()  # spent (as if), for this test only
    with pytest.raises(InsufficientBalance, match="points"):
        refund_part("s1", 49_800, d.manager, "x", "p1")
    assert sale.points_earned and Transaction.get_or_none(Transaction.txid == "p1") is None


def test_commissions_give_back_their_share_of_each_line(desk):
    zhang = shop(desk)
    checkout(zhang, ["HAIR", "SPA"], [("cash", 8_800 + 49_800)], desk.cashier, "s1",
             performers={"HAIR": [("p01", 7000), ("p02", 3000)], "SPA": [("p03", 10_000)]})
    earned = sum(c.amount_fen for c in Commission.select())
    refund_part("s1", 29_300, desk.manager, "半价", "p1")  # half of the bill
    back = -sum(c.amount_fen for c in Commission.select().where(Commission.reverses.is_null(False)))
    assert 0 < back <= earned // 2 + 2 and back >= earned // 2 - 2
    assert check_ledger() == []
    refund("s1", desk.manager, "全退", "rf1")
    assert sum(c.amount_fen for c in Commission.select()) == 0 and check_ledger() == []


def test_a_part_of_a_sale_paid_by_code_goes_back_through_the_provider_first(zhang, tmp_path):
    d = zhang
    fake = FakeWeChatPay()
    try:
        payments = {"wechat": fake.config(tmp_path), "wait_seconds": 1, "poll_seconds": 0.05}

        def sell(charged):
            return checkout(d.member, ["SPA"], [("cash", 9_800), ("wechat", charged.amount_fen)], d.cashier, "s1")

        pay_by_code(WECHAT_CODES["success"], 40_000, "s1", purpose="checkout", subject="SPA", staff=d.cashier,
                    store=None, config=payments, book=sell, sleep=lambda _s: None)
        first = refund_part("s1", 30_000, d.manager, "少做了一项", "p1", payments=payments)
        assert first.by_provider == {"wechat": 30_000} and fake.taken() == 10_000
        assert refund_part("s1", 30_000, d.manager, "少做了一项", "p1", payments=payments).txid == "p1"
        assert fake.taken() == 10_000  # asked again: not refunded twice
        second = refund_part("s1", 15_000, d.manager, "再退", "p2", payments=payments)
        assert second.part["from_tenders"] == {"wechat": 10_000, "cash": 5_000}
        assert second.by_provider == {"wechat": 10_000} and fake.taken() == 0
        whole = refund("s1", d.manager, "全退", "rf1", payments=payments)
        assert whole.paid_out == {"cash": 4_800} and whole.by_provider == {} and check_ledger() == []
    finally:
        fake.close()


def test_mms_check_catches_a_part_that_gives_back_other_than_it_says(zhang):
    from mms_tui.db import database
    from mms_tui.models import Entry

    d = zhang
    checkout(d.member, ["SPA"], [("cash", 49_800)], d.cashier, "s1")
    refund_part("s1", 10_000, d.manager, "x", "p1")
    refund("s1", d.manager, "全退", "rf1")
    assert check_ledger() == []

    def entry(txid, account):
        return (Entry.transaction == Transaction.get(Transaction.txid == txid).id) & (Entry.account == account)

    for txid, account, rules in (("p1", "tender.cash", {"part"}), ("p1", "revenue.sales", {"part", "reversal"}),
                                 ("rf1", "revenue.sales", {"reversal"})):
        with database.atomic() as held:
            Entry.update(amount=Entry.amount + 100).where(entry(txid, account)).execute()
            assert rules <= {p.rule for p in check_ledger()}, txid
            held.rollback()
    assert check_ledger() == []


def test_mms_check_proves_the_points_each_part_took_back(zhang):
    """A part takes back its share of the points the sale earned; mms check proved only the money. Points moved
    between the part and the card (the card's cache moved too, so its balance still agrees) are caught now."""
    from mms_tui.db import database
    from mms_tui.models import Entry

    d = zhang
    sale = checkout(d.member, ["SPA"], [("stored_value", 9_800), ("cash", 40_000)], d.cashier, "s1")
    assert sale.points_earned > 0
    refund_part("s1", 10_000, d.manager, "x", "p1")
    refund_part("s1", 7_000, d.manager, "y", "p2")
    assert check_ledger() == []
    part = Transaction.get(Transaction.txid == "p2").id
    with database.atomic() as held:  # p2 gives 5 of the points it took back to the member
        Entry.update(amount=Entry.amount + 5).where((Entry.transaction == part) & (Entry.account == "card.points")
                                                    ).execute()
        Entry.update(amount=Entry.amount - 5).where((Entry.transaction == part) & (Entry.account == "points.issued")
                                                    ).execute()
        Card.update(points=Card.points + 5).where(Card.id == d.card).execute()
        found = [p for p in check_ledger() if p.rule == "part"]
        assert [p.subject for p in found] == ["tx p2"] and "its share" in found[0].detail
        held.rollback()
    assert check_ledger() == []


def test_mms_check_says_a_refunded_in_part_sale_whose_record_is_damaged_and_goes_on(zhang):
    d = zhang
    checkout(d.member, ["SPA"], [("stored_value", 9_800), ("cash", 40_000)], d.cashier, "s1")
    refund_part("s1", 10_000, d.manager, "x", "p1")
    Transaction.update(result=b"\x01" + b"\xff" * 8).where(Transaction.txid == "s1").execute()
    assert [(p.rule, p.subject) for p in check_ledger() if p.rule == "part"] == [("part", "tx s1")]


def test_the_turnover_and_stores_reports_count_each_part_on_its_day_and_the_rest_once(zhang):
    import datetime as dt

    from mms_tui.services.reports.catalogue import run_report
    from tests.test_reports import at

    d = zhang
    checkout(d.member, ["SPA"], [("cash", 20_000), ("bank_card", 29_800)], d.cashier, "s1")
    refund_part("s1", 10_000, d.manager, "少做一项", "p1", to_tender="wechat")  # from the cash, handed back by WeChat
    refund("s1", d.manager, "全退", "rf1")
    days = [dt.datetime(2026, 11, n, 12) for n in (2, 3, 4)]
    for txid, when in zip(("s1", "p1", "rf1"), days, strict=True):
        at(txid, when)

    def turnover(start, end, by="day"):
        return list(run_report("turnover", start, end, by=by))

    sold, part, rest = turnover(dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert (sold["sales_fen"], sold["cash_fen"], sold["bank_card_fen"], sold["理疗_fen"]) == (49_800, 20_000, 29_800,
                                                                                            49_800)
    assert (part["refund_count"], part["refunds_fen"], part["net_fen"], part["cash_fen"], part["wechat_fen"],
            part["理疗_fen"]) == (1, 10_000, -10_000, -10_000, 0, -10_000)
    assert (rest["refund_count"], rest["refunds_fen"], rest["cash_fen"], rest["bank_card_fen"], rest["理疗_fen"]) == (
        1, 39_800, -10_000, -29_800, -39_800)
    (month,) = turnover(dt.date(2026, 11, 1), dt.date(2026, 11, 30), by="month")
    assert (month["net_fen"], month["cash_fen"], month["bank_card_fen"], month["refund_count"]) == (0, 0, 0, 2)

    def net(start, end):
        return {r["store"]: r["net_fen"] for r in run_report("stores", start, end)}

    assert net(dt.date(2026, 11, 2), dt.date(2026, 11, 3))["HQ"] == 39_800
    assert net(dt.date(2026, 11, 1), dt.date(2026, 11, 30))["HQ"] == 0


def test_the_staff_and_products_reports_take_a_part_off_its_sale_like_a_whole_refund(zhang):
    """A partial refund left the staff and products reports counting the whole sale (a whole refund leaves its sale
    out). A part is now taken off its sale's lines as the refund spread it: by the lines' totals, cumulatively."""
    import datetime as dt

    from mms_tui.services.reports.catalogue import run_report
    from tests.test_reports import at

    d = zhang
    checkout(None, ["SPA", "HAIR"], [("cash", 58_600)], d.cashier, "s1")  # ¥498 + ¥88, a walk-in
    checkout(None, ["HAIR"], [("cash", 8_800)], d.manager, "s2")
    refund_part("s1", 10_000, d.manager, "少做一项", "p1")
    refund_part("s1", 5_000, d.manager, "又少一项", "p2")
    for txid, day in (("s1", 2), ("s2", 2), ("p1", 3), ("p2", 20)):
        at(txid, dt.datetime(2026, 11, day, 12))
    # by hand: ¥150 over the lines ¥498 and ¥88 (¥586): SPA floor(15000 × 49800 / 58600) = 12,747, HAIR 2,253
    products = {r["code"]: (r["qty"], r["revenue_fen"])
                for r in run_report("products", dt.date(2026, 11, 1), dt.date(2026, 11, 30))}
    assert products == {"SPA": (1, 49_800 - 12_747), "HAIR": (2, 8_800 + 8_800 - 2_253)}
    staff = {r["staff"]: r["revenue_fen"] for r in run_report("staff", dt.date(2026, 11, 1), dt.date(2026, 11, 30))}
    assert staff == {d.cashier.code: 58_600 - 15_000, d.manager.code: 8_800}
    # the sale's period, whenever the parts were made (a whole refund leaves its sale out the same way)
    assert {r["code"]: r["revenue_fen"] for r in run_report("products", dt.date(2026, 11, 2),
                                                             dt.date(2026, 11, 2))} == products_revenue(products)
    refund("s1", d.manager, "全退", "rf1")
    assert {r["code"]: r["revenue_fen"] for r in run_report("products", dt.date(2026, 11, 1),
                                                             dt.date(2026, 11, 30))} == {"HAIR": 8_800}


def products_revenue(products: dict[str, tuple[int, int]]) -> dict[str, int]:
    return {code: revenue for code, (_qty, revenue) in products.items()}


def test_the_shift_and_the_day_count_a_part_among_the_refunds(zhang, today):
    from mms_tui.services.money.shifts import current_shift, open_shift
    from mms_tui.services.reports.day import day_summary

    d = zhang
    open_shift(d.cashier)
    checkout(d.member, ["HAIR"], [("cash", 8_800)], d.cashier, "s1")
    refund_part("s1", 3_000, d.cashier, "剪短了", "p1", approver=d.manager)  # paid from the cashier's drawer
    shift = current_shift(d.cashier)
    assert shift.by_group["refunds"]["cash"] == -3_000 and shift.counts["refunds"] == 1
    day = day_summary("HQ", today)
    assert (day.refunds, day.refunds_paid_fen, day.sale_refunds_fen) == (1, 3_000, 3_000)


async def test_f8_with_an_amount_gives_back_part_of_the_sale(regular):
    from textual.widgets import DataTable, Input, Static

    from mms_tui.models import Card
    from tests.test_tui import at_desk, refund_dialog_of, settle, text

    member = Card.get(Card.card_no == "00012345").member_id
    checkout(member, ["HAIR"], [("cash", 8_800)], regular.cashier, "s-part")
    async with at_desk(regular) as (app, pilot):
        app.staff = regular.manager
        history, dialog = await refund_dialog_of(pilot, "00012345", lambda r: r.txid == "s-part")
        assert "part of it (up to ¥88.00)" in text(dialog.query_one("#refund-terms", Static))
        dialog.query_one("#refund-amount", Input).focus()
        await pilot.press(*"20", "tab", *"剪短了", "f10")
        await settle(pilot)
        await settle(pilot)
        assert app.screen is history
        assert "✓ Refunded ¥20.00 in part; pay back Cash ¥20.00" in text(history.query_one("#history-status", Static))
        assert history.rows[0].label == "Partial refund" and "¥20.00" in history.rows[0].detail
        history.query_one("#history", DataTable).move_cursor(
            row=next(i for i, r in enumerate(history.rows) if r.txid == "s-part"))
        await pilot.press("f8")
        await settle(pilot)
        terms = text(app.screen.query_one("#refund-terms", Static))
        assert "Money back: Cash ¥68.00" in terms and "Given back in part before: ¥20.00" in terms
    assert Sale.get(Sale.transaction == Transaction.get(Transaction.txid == "s-part")).status == "paid"
    from mms_tui.services.money.receipt import sale_receipt

    assert "*** ￥20.00 REFUNDED ***" in [line.strip() for line in sale_receipt("s-part").lines]  # a reprint says so
    assert check_ledger() == []

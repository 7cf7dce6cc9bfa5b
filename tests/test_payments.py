"""Payment codes (付款码, issue #26): a customer's WeChat Pay or Alipay code charged through the provider's documented
API — local servers that check every signature as the providers do (tests/pay_fakes.py) — and the checkout booked
exactly once: never a sale without the money, never money kept without a sale, whatever the provider, the network
or a kill -9 of the desk does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from mms_tui.models import PayAttempt, Payment, Sale, Transaction
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.money.checkout import checkout
from mms_tui.services.payments.charge import (
    PaymentDeclined,
    PaymentGivenBack,
    PaymentUncertain,
    out_trade_no_for,
    pay_by_code,
    settle_open,
)
from mms_tui.services.payments.providers import NotSetUp, provider_of_code
from tests.pay_fakes import ALIPAY_CODES, WECHAT_CODES, FakeAlipay, FakeWeChatPay, wait_for

HAIR = 8_800  # ¥88.00, the demo catalogue's haircut


@pytest.fixture(params=["wechat", "alipay"])
def provider(request, tmp_path):
    fake = FakeWeChatPay() if request.param == "wechat" else FakeAlipay()
    fake.name = request.param
    fake.codes = WECHAT_CODES if request.param == "wechat" else ALIPAY_CODES
    fake.settings = {request.param: fake.config(tmp_path),
                     "wait_seconds": 0.5, "poll_seconds": 0.02}
    yield fake
    fake.close()


def charge(desk, provider, script: str, txid: str, *, amount: int = HAIR, book=None, waiting=None):
    """A walk-in's haircut paid by payment code (the checkout is what is booked)."""
    def sell(charged):
        return checkout(None, ["HAIR"], [(provider.name, charged.amount_fen)], desk.cashier, txid)

    return pay_by_code(provider.codes[script], amount, txid, purpose="checkout", subject="剪发", staff=desk.cashier,
                       store=None, config=provider.settings, book=book or sell, waiting=waiting,
                       sleep=lambda _s: None)


def sales(txid: str) -> list[tuple[str, int]]:
    return [(p.tender, p.amount_fen) for p in Payment.select().join(Sale).join(Transaction)
            .where(Transaction.txid == txid)]


def states(txid: str) -> list[str]:
    return [a.status for a in PayAttempt.select().where(PayAttempt.txid == txid).order_by(PayAttempt.attempt)]


def test_a_payment_code_names_its_provider_and_anything_else_is_refused():
    assert provider_of_code("134567890123456789") == "wechat"
    assert provider_of_code(" 281234567890123456 ") == "alipay"
    for other in ("7700000001", "6901234567892", "13456789012345678", "99" * 9, ""):
        with pytest.raises(InvalidInput, match="payment code"):
            provider_of_code(other)


def test_out_trade_no_is_the_same_for_a_retry_and_new_for_a_new_attempt_within_32_characters():
    first, again, second = out_trade_no_for("t-1", 1), out_trade_no_for("t-1", 1), out_trade_no_for("t-1", 2)
    assert first == again != second and len(first) == 32 and first.isalnum()
    assert out_trade_no_for("x" * 64, 9999) != out_trade_no_for("x" * 63, 9999)


def test_paid_at_once_books_the_sale_once(desk, provider):
    result = charge(desk, provider, "success", "s-1")
    assert sales("s-1") == [(provider.name, HAIR)]
    attempt = PayAttempt.get(PayAttempt.txid == "s-1")
    assert (attempt.status, attempt.transaction_id, attempt.amount_fen) == (
        "booked", Transaction.get(Transaction.txid == "s-1").id, HAIR)
    assert attempt.trade_no and attempt.code_tail == provider.codes["success"][-4:]
    assert provider.taken() == HAIR and provider.bad_signatures == 0
    assert result.txid == "s-1"
    assert check_ledger() == []


def test_a_double_press_charges_once_and_answers_the_same(desk, provider):
    first = charge(desk, provider, "success", "s-2")
    second = charge(desk, provider, "success", "s-2")
    assert second == first
    assert [c for c, _f in provider.calls if "pay" in c and "query" not in c] == (
        ["/pay/micropay"] if provider.name == "wechat" else ["alipay.trade.pay"])
    assert provider.taken() == HAIR and sales("s-2") == [(provider.name, HAIR)] and states("s-2") == ["booked"]


def test_the_customer_entering_a_password_is_waited_for(desk, provider):
    said = []
    charge(desk, provider, "paying", "s-3", waiting=said.append)
    assert said and "password" in said[0]
    assert states("s-3") == ["booked"] and provider.taken() == HAIR


def test_a_customer_who_never_confirms_is_reversed_and_nothing_is_booked(desk, provider):
    with pytest.raises(PaymentDeclined, match="did not confirm in time"):
        charge(desk, provider, "paying_forever", "s-4")
    assert states("s-4") == ["reversed"] and sales("s-4") == [] and provider.taken() == 0


def test_a_refused_code_takes_nothing_and_the_next_scan_is_a_new_attempt(desk, provider):
    with pytest.raises(PaymentDeclined) as refused:
        charge(desk, provider, "poor", "s-5")
    assert "余额不足" in str(refused.value) and "Nothing was taken" in str(refused.value)
    assert states("s-5") == ["declined"] and sales("s-5") == []
    charge(desk, provider, "success", "s-5")
    assert states("s-5") == ["declined", "booked"] and provider.taken() == HAIR
    numbers = {a.out_trade_no for a in PayAttempt.select().where(PayAttempt.txid == "s-5")}
    assert numbers == {out_trade_no_for("s-5", 1), out_trade_no_for("s-5", 2)}


@pytest.mark.parametrize("script", ["error_paid", "drop_paid"])
def test_an_unknown_outcome_is_asked_about_and_booked_when_paid(desk, provider, script):
    """A system error after the money was taken, or the connection dropped before the answer: the charge is
    asked about (query) and the sale booked — not charged again."""
    charge(desk, provider, script, "s-6")
    assert states("s-6") == ["booked"] and sales("s-6") == [(provider.name, HAIR)] and provider.taken() == HAIR
    assert len(provider.orders) == 1


def test_an_unknown_outcome_not_paid_takes_nothing(desk, provider):
    with pytest.raises(PaymentDeclined):
        charge(desk, provider, "error_unpaid", "s-7")
    assert states("s-7")[0] in ("declined", "reversed") and sales("s-7") == [] and provider.taken() == 0


def test_what_the_money_paid_for_refused_gives_the_money_back(desk, provider):
    def refuse(_charged):
        raise InsufficientBalance("Not enough stock of 洗发水.")

    with pytest.raises(PaymentGivenBack, match=r"洗发水.*given back"):
        charge(desk, provider, "success", "s-8", book=refuse)
    assert states("s-8") == ["reversed"] and provider.taken() == 0 and sales("s-8") == []


def test_the_network_down_takes_nothing_and_says_so(desk, provider):
    provider.settings[provider.name]["url"] = "http://127.0.0.1:9/"  # nothing listens on the discard port
    with pytest.raises(PaymentDeclined, match="Could not reach"):
        charge(desk, provider, "success", "s-9")
    assert states("s-9") == ["declined"] and provider.orders == {}


def test_a_wrong_key_is_refused_by_the_provider_and_takes_nothing(desk, provider):
    section = provider.settings[provider.name]
    if provider.name == "wechat":
        section["key"] = "f" * 32
    else:
        from tests.pay_fakes import _key_pair

        section["private_key"] = _key_pair()[1]
        section.pop("private_key_file")
    with pytest.raises(PaymentDeclined):
        charge(desk, provider, "success", "s-10")
    assert provider.bad_signatures == 1 and provider.orders == {} and states("s-10") == ["declined"]


def test_an_answer_not_signed_by_the_provider_is_not_believed(desk, provider):
    """A forged 'paid' (an answer signed with another key) is no payment: nothing is booked, and since no answer
    of that server can be believed — not even to the reversal — the attempt stays open for mms to ask again."""
    if provider.name == "wechat":
        provider.answer_key = "e" * 32  # answers signed with a key that is not the merchant's
    else:
        from tests.pay_fakes import _key_pair

        provider.own_key = _key_pair()[0]  # answers signed with a key that is not Alipay's
    with pytest.raises(PaymentUncertain, match="not signed"):
        charge(desk, provider, "success", "s-11")
    assert sales("s-11") == [] and states("s-11") == ["pending"]


def test_a_provider_not_set_up_is_one_clear_line(desk):
    with pytest.raises(NotSetUp, match="not set up"):
        pay_by_code(WECHAT_CODES["success"], HAIR, "s-12", purpose="checkout", subject="剪发", staff=desk.cashier,
                    store=None, config={}, book=lambda c: None)
    assert PayAttempt.select().count() == 0


# --- a desk killed mid-charge ----------------------------------------------------------------------------------

_DESK = """
import sys
from mms_tui.services.ops.setup import connect
from mms_tui.models import Staff
from mms_tui.services.money.checkout import checkout
from mms_tui.services.payments.charge import pay_by_code
import json
target, code, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
connect(target)
cashier = Staff.get(Staff.code == "c01")
name = "wechat" if "wechat" in settings else "alipay"
pay_by_code(code, 8800, "k-1", purpose="checkout", subject="剪发", staff=cashier, store=None, config=settings,
            book=lambda charged: checkout(None, ["HAIR"], [(name, charged.amount_fen)], cashier, "k-1"))
print("booked")
"""


def _killed_mid_charge(desk, provider) -> None:
    import json

    proc = subprocess.Popen([sys.executable, "-c", _DESK, desk.target, provider.codes["hang_paid"],
                             json.dumps(provider.settings)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(provider.held)  # the provider took the money and holds its answer
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        provider.release.set()
    assert states("k-1") == ["pending"] and provider.taken() == HAIR and sales("k-1") == []


def test_a_desk_killed_mid_charge_is_settled_and_the_money_given_back(sqlite_desk, provider):
    _killed_mid_charge(sqlite_desk, provider)
    settled = settle_open(provider.settings, older_than=__import__("datetime").timedelta(0))
    assert [(s.txid, s.status) for s in settled] == [("k-1", "reversed")]
    assert provider.taken() == 0 and sales("k-1") == [] and check_ledger() == []


def test_a_desk_killed_mid_charge_and_retried_books_the_charge_once(sqlite_desk, provider):
    _killed_mid_charge(sqlite_desk, provider)
    charge(sqlite_desk, provider, "success", "k-1")  # the same operation again, after the restart
    assert states("k-1") == ["booked"] and sales("k-1") == [(provider.name, HAIR)] and provider.taken() == HAIR
    assert len(provider.orders) == 1 and check_ledger() == []


# --- refunds ---------------------------------------------------------------------------------------------------


def test_a_refund_of_a_code_paid_sale_goes_back_through_the_provider_once(desk, provider):
    from mms_tui.models import PayRefund
    from mms_tui.services.money.refund import refund

    charge(desk, provider, "success", "r-1")
    done = refund("r-1", desk.manager, "剪坏了", "rf-1", payments=provider.settings)
    again = refund("r-1", desk.manager, "剪坏了", "rf-1", payments=provider.settings)  # a retry of the same refund
    assert again == done and done.paid_out == {provider.name: HAIR}
    assert provider.taken() == 0
    assert [(r.status, r.amount_fen) for r in PayRefund.select()] == [("refunded", HAIR)]
    refunds = [c for c, _f in provider.calls if "refund" in c]
    assert len(refunds) == 1  # the retry found its refund done and asked nothing
    assert check_ledger() == []


def test_a_refund_the_provider_does_not_confirm_books_nothing_and_is_given_once_when_tried_again(desk, provider):
    from mms_tui.services.money.refund import refund

    charge(desk, provider, "success", "r-2")
    provider.down = True
    with pytest.raises(PaymentUncertain, match="not be given twice"):
        refund("r-2", desk.manager, "剪坏了", "rf-2", payments=provider.settings)
    assert Transaction.get_or_none(Transaction.txid == "rf-2") is None and provider.taken() == HAIR
    provider.down = False
    refund("r-2", desk.manager, "剪坏了", "rf-2", payments=provider.settings)
    assert provider.taken() == 0 and Transaction.get_or_none(Transaction.txid == "rf-2") is not None


def test_a_partial_refund_through_the_provider_and_then_the_rest(desk, provider):
    from mms_tui.services.payments.charge import refund_by_code

    charge(desk, provider, "success", "r-3")
    assert refund_by_code("r-3", "rf-3a", desk.manager, "少剪了", provider.settings, amount_fen=3_000) == 3_000
    assert provider.taken() == HAIR - 3_000
    with pytest.raises(InvalidInput, match="Only"):
        refund_by_code("r-3", "rf-3b", desk.manager, "多退", provider.settings, amount_fen=HAIR)
    assert refund_by_code("r-3", "rf-3c", desk.manager, "余下", provider.settings) == HAIR - 3_000
    assert provider.taken() == 0


def test_a_part_paid_out_in_cash_is_not_refunded_again_through_the_provider(desk, provider):
    """A ¥88 sale paid by code: ¥30 of it handed back in cash, then the whole refund: the provider gives back only
    the ¥58 left (it gave back all ¥88 — ¥118 for ¥88 paid — before)."""
    from mms_tui.services.money.refund import refund, refund_part

    charge(desk, provider, "success", "r-5")
    refund_part("r-5", 3_000, desk.manager, "少剪了", "rp-5", to_tender="cash", payments=provider.settings)
    assert provider.taken() == HAIR
    whole = refund("r-5", desk.manager, "全退", "rf-5", payments=provider.settings)
    assert whole.by_provider == {provider.name: HAIR - 3_000} and whole.paid_out == {provider.name: HAIR - 3_000}
    assert provider.taken() == 3_000 and check_ledger() == []


def test_a_refund_asked_of_the_provider_cannot_be_asked_again_for_another_amount_or_tender(desk, provider):
    """The provider did not answer a ¥50 part; the cashier changes the amount to ¥30, or the tender to cash, and
    presses F10 again under the same txid: refused (the provider may give the ¥50 yet); the same ask books once."""
    from mms_tui.services.money.refund import refund, refund_part

    charge(desk, provider, "success", "r-6")
    provider.down = True
    with pytest.raises(PaymentUncertain):
        refund_part("r-6", 5_000, desk.manager, "少剪了", "rp-6", payments=provider.settings)
    provider.down = False
    with pytest.raises(InvalidInput, match="already asked"):
        refund_part("r-6", 3_000, desk.manager, "少剪了", "rp-6", payments=provider.settings)
    with pytest.raises(InvalidInput, match="already asked"):
        refund_part("r-6", 5_000, desk.manager, "少剪了", "rp-6", to_tender="cash", payments=provider.settings)
    with pytest.raises(InvalidInput, match="already asked"):
        refund("r-6", desk.manager, "全退", "rp-6", payments=provider.settings)  # the whole, under the part's txid
    assert Transaction.get_or_none(Transaction.txid == "rp-6") is None and provider.taken() == HAIR
    done = refund_part("r-6", 5_000, desk.manager, "少剪了", "rp-6", payments=provider.settings)
    assert done.by_provider == {provider.name: 5_000} and provider.taken() == HAIR - 5_000
    refund("r-6", desk.manager, "全退", "rf-6", payments=provider.settings)
    assert provider.taken() == 0 and check_ledger() == []


def test_a_code_paid_sale_refunded_without_the_providers_settings_is_refused_before_anything_moves(desk, provider):
    from mms_tui.services.money.refund import refund

    charge(desk, provider, "success", "r-4")
    with pytest.raises(NotSetUp):
        refund("r-4", desk.manager, "剪坏了", "rf-4")
    assert Transaction.get_or_none(Transaction.txid == "rf-4") is None and provider.taken() == HAIR
    done = refund("r-4", desk.manager, "剪坏了", "rf-4", to_tender="cash")  # handed back in cash instead
    assert done.paid_out == {"cash": HAIR} and provider.taken() == HAIR


def test_a_code_paid_sale_whose_record_is_damaged_is_refused_before_the_provider_is_asked(desk, provider):
    """The provider gives money back at once and for good: a refund that would then fail on the sale's unreadable
    record must fail before it — the preview says so, and the refund asks nothing and books nothing."""
    from mms_tui.models import PayRefund
    from mms_tui.services.base.errors import DamagedRecord
    from mms_tui.services.money.refund import refund, refund_preview

    charge(desk, provider, "success", "r-5")
    Transaction.update(result=b"\x01" + b"\xff" * 8).where(Transaction.txid == "r-5").execute()
    with pytest.raises(DamagedRecord, match="operation r-5 is damaged"):
        refund_preview("r-5")
    with pytest.raises(DamagedRecord, match="operation r-5 is damaged"):
        refund("r-5", desk.manager, "剪坏了", "rf-5", payments=provider.settings)
    assert provider.taken() == HAIR and not [c for c, _f in provider.calls if "refund" in c]
    assert PayRefund.select().count() == 0 and Transaction.get_or_none(Transaction.txid == "rf-5") is None


def _sv_card(desk, phone: str = "13900000021") -> tuple[int, int]:
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    member = register_member("赵六", phone, desk.cashier, f"reg-{phone}").member_id
    return member, issue_card(member, "SV", desk.cashier, f"iss-{phone}", card_no=f"SV{phone[-4:]}").card_id


def test_a_code_paid_top_up_spent_since_is_refused_before_the_provider_is_asked(desk, provider):
    """Its stored value is gone: the refund would fail on the card — it must fail before the provider gives the
    money back, not after (the customer paid back, the card keeping the value)."""
    from mms_tui.services.money.refund import refund
    from mms_tui.services.money.topup import top_up

    member, card = _sv_card(desk)
    pay_by_code(provider.codes["success"], 10_000, "tp-1", purpose="topup", subject="充值", staff=desk.cashier,
                store=None, config=provider.settings, sleep=lambda _s: None,
                book=lambda charged: top_up(card, charged.amount_fen, None, provider.name, desk.cashier, "tp-1"))
    assert provider.taken() == 10_000
    checkout(member, ["HAIR"], [("stored_value", HAIR, card)], desk.cashier, "spent")
    with pytest.raises(InsufficientBalance, match="cannot be refunded"):
        refund("tp-1", desk.manager, "不要了", "rf-tp-1", payments=provider.settings)
    assert provider.taken() == 10_000 and not [c for c, _f in provider.calls if "refund" in c]
    assert Transaction.get_or_none(Transaction.txid == "rf-tp-1") is None and check_ledger() == []


def test_a_code_paid_sale_whose_card_would_go_over_its_ceiling_is_refused_before_the_provider_is_asked(
        desk, provider):
    from mms_tui.db import write_transaction
    from mms_tui.services.base.config import set_config
    from mms_tui.services.money.refund import refund
    from mms_tui.services.money.topup import top_up

    member, card = _sv_card(desk, "13900000022")
    top_up(card, 10_000, None, "cash", desk.manager, "tp-2")

    def sell(charged):
        return checkout(member, ["HAIR", "HAIR"], [("stored_value", HAIR, card), (provider.name, charged.amount_fen)],
                        desk.cashier, "s-2")

    pay_by_code(provider.codes["success"], HAIR, "s-2", purpose="checkout", subject="剪发", staff=desk.cashier,
                store=None, config=provider.settings, sleep=lambda _s: None, book=sell)
    with write_transaction():  # the card is full now: the stored value the refund puts back would not fit
        set_config("limits", {"balance_fen": 10_000 - HAIR})
    with pytest.raises(InvalidInput, match="would hold more than"):
        refund("s-2", desk.manager, "剪坏了", "rf-s-2", payments=provider.settings)
    assert provider.taken() == HAIR and not [c for c, _f in provider.calls if "refund" in c]
    assert Transaction.get_or_none(Transaction.txid == "rf-s-2") is None and check_ledger() == []


def test_a_new_part_while_an_earlier_one_waits_on_the_provider_names_that_one_not_only_0_left(desk, provider):
    """A partial refund asked of the provider with no answer holds the money it asked for: a second part said
    "Only ¥0.00 paid by payment code is left to refund" while the preview offered all of it. Now it names the
    refund waiting, and once that one is asked again the money adds up."""
    from mms_tui.services.money.refund import refund_part

    charge(desk, provider, "success", "s-w")
    provider.down = True
    with pytest.raises(PaymentUncertain):
        refund_part("s-w", HAIR, desk.manager, "全部", "pw-1", payments=provider.settings)
    provider.down = False
    with pytest.raises(InvalidInput, match=r"Refund pw-1 asked .* for ¥88\.00 and has no answer yet: ask it again"):
        refund_part("s-w", 3_000, desk.manager, "一部分", "pw-2", payments=provider.settings)
    assert Transaction.get_or_none(Transaction.txid == "pw-2") is None
    refund_part("s-w", HAIR, desk.manager, "全部", "pw-1", payments=provider.settings)
    assert provider.taken() == 0 and check_ledger() == []


# --- the commands ----------------------------------------------------------------------------------------------


def test_the_commands_list_warn_about_and_settle_what_a_desk_left_open(sqlite_desk, provider, run, tmp_path):
    """A charge a desk left open an hour ago (the provider took the money): mms check warns and still passes, mms
    payments list --open shows it, mms payments settle gives the money back; mms info says which providers are set
    up and never a key."""
    import datetime as dt

    import tomli_w

    from mms_tui import clock
    from mms_tui.services.ops.doctor import check_payments
    from mms_tui.services.payments.charge import client_for
    from mms_tui.settings import load_settings

    out = out_trade_no_for("left-1", 1)
    client_for(provider.name, provider.settings).pay(out, provider.codes["success"], HAIR, "剪发")
    an_hour_ago = clock.now() - dt.timedelta(hours=1)
    PayAttempt.create(txid="left-1", attempt=1, provider=provider.name, out_trade_no=out, purpose="checkout",
                      amount_fen=HAIR, status="pending", staff=sqlite_desk.cashier, store=sqlite_desk.store,
                      created_at=an_hour_ago, updated_at=an_hour_ago)
    config = tmp_path / "mms.toml"
    config.write_text(tomli_w.dumps({"db": sqlite_desk.target, "payments": provider.settings}))
    env = {"MMS_CONFIG": str(config)}
    checked = run("check", extra_env=env)
    assert checked.exit_code == 0 and "warning: payment" in checked.stderr and "left-1" in checked.stderr
    assert not check_payments(load_settings(config_path=config))[-1].ok
    listed = run("payments", "list", "--open", "--format", "json", extra_env=env)
    assert [(r["txid"], r["status"]) for r in __import__("json").loads(listed.stdout)] == [("left-1", "pending")]
    settled = run("payments", "settle", extra_env=env)
    assert settled.exit_code == 0, settled.output
    assert "reversed" in settled.stdout and provider.taken() == 0 and states("left-1") == ["reversed"]
    assert "warning" not in run("check", extra_env=env).stderr
    info = run("info", extra_env=env)
    assert provider.name in info.stdout
    secret = provider.key if provider.name == "wechat" else provider.app_private_pem.splitlines()[1]
    assert secret not in info.output and secret not in run("doctor", extra_env=env).output


# --- at the desk -----------------------------------------------------------------------------------------------


async def test_f11_at_checkout_charges_the_customers_code_and_the_receipt_shows(regular, tmp_path):
    """A member's bill: ¥50 from stored value, the rest (¥44) by the customer's WeChat code scanned into F11's
    dialog — a refusal first (scanned again: a new attempt), then paid; one sale, both tenders."""
    from textual.widgets import Input, Label, Static

    from mms_tui.screens.checkout import CheckoutScreen
    from mms_tui.screens.paycode import PayCodeDialog
    from tests.test_tui import at_desk, open_member, settle, text

    fake = FakeWeChatPay()
    try:
        payments = {"wechat": fake.config(tmp_path), "wait_seconds": 1, "poll_seconds": 0.05}
        async with at_desk(regular, payments=payments) as (app, pilot):
            await open_member(pilot, "00012345")
            await pilot.press("f3")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, CheckoutScreen)
            await pilot.press(*"HAIR", "enter")
            await settle(pilot)
            await pilot.press(*"2*6920000000012", "enter")
            await settle(pilot)
            await pilot.press("enter", *"50", "f2")
            await pilot.press("f11")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, PayCodeDialog) and dialog.amount_fen == 4_400
            await pilot.press(*WECHAT_CODES["poor"], "enter")
            await settle(pilot)
            assert app.screen is dialog and "余额不足" in text(dialog.query_one("#dialog-error", Label))
            assert dialog.query_one("#paycode", Input).value == ""  # ready for the next scan
            await pilot.press(*WECHAT_CODES["success"], "enter")
            await settle(pilot)
            await settle(pilot)
            assert app.screen is screen and screen.result is not None
            assert "✓ Paid" in text(screen.query_one("#checkout-message", Label))
            assert "Total" in text(screen.query_one("#receipt", Static))
            trade_no = PayAttempt.get(PayAttempt.txid == screen.txid, PayAttempt.status == "booked").trade_no
            assert trade_no and f"No. {trade_no}" in text(screen.query_one("#receipt", Static))
        assert sorted(sales(screen.txid)) == [("stored_value", 5_000), ("wechat", 4_400)]
        assert states(screen.txid) == ["declined", "booked"] and fake.taken() == 4_400
        from mms_tui.services.money.receipt import sale_receipt

        printed = sale_receipt(screen.txid).lines  # the print and every reprint: under its tender
        assert printed[next(i for i, x in enumerate(printed) if x.startswith("WeChat")) + 1].strip() == f"No. {trade_no}"
        assert check_ledger() == []
    finally:
        fake.close()


async def test_a_refund_from_the_history_goes_back_through_the_provider_and_says_so(regular, tmp_path):
    """F8 on a sale paid ¥50 from stored value and ¥38 by WeChat code: the terms say WeChat Pay gives the ¥38 back
    itself (not when the money is to go back as cash), the refund is made through the provider, and the desk is
    told what the provider gave back — nothing for the cashier to hand over."""
    from textual.widgets import Input, Static

    from mms_tui.models import Card
    from tests.test_tui import at_desk, refund_dialog_of, settle, text

    fake = FakeWeChatPay()
    try:
        payments = {"wechat": fake.config(tmp_path), "wait_seconds": 1, "poll_seconds": 0.05}
        member = Card.get(Card.card_no == "00012345").member_id

        def sell(charged):
            return checkout(member, ["HAIR"], [("stored_value", 5_000), ("wechat", charged.amount_fen)],
                            regular.cashier, "s-hist")

        pay_by_code(WECHAT_CODES["success"], HAIR - 5_000, "s-hist", purpose="checkout", subject="剪发",
                    staff=regular.cashier, store=None, config=payments, book=sell, sleep=lambda _s: None)
        assert fake.taken() == HAIR - 5_000
        async with at_desk(regular, payments=payments) as (app, pilot):
            app.staff = regular.manager
            history, dialog = await refund_dialog_of(pilot, "00012345", lambda r: r.txid == "s-hist")
            terms = dialog.query_one("#refund-terms", Static)
            assert "WeChat Pay gives ¥38.00 back to the customer itself" in text(terms)
            dialog.query_one("#refund-tender").value = "cash"
            await settle(pilot)
            assert "WeChat Pay" not in text(terms) and "WeChat ¥38.00" in text(terms)
            dialog.query_one("#refund-tender").value = "original"
            await settle(pilot)
            assert "WeChat Pay gives ¥38.00" in text(terms)
            dialog.query_one("#refund-reason", Input).focus()
            await pilot.press(*"wrong member", "f10")
            await settle(pilot)
            await settle(pilot)
            assert app.screen is history
            said = text(history.query_one("#history-status", Static))
            assert "WeChat Pay gave ¥38.00 back to the customer" in said and "pay back" not in said
        assert fake.taken() == 0 and Card.get(Card.card_no == "00012345").principal_fen == 10_000
        assert check_ledger() == []
    finally:
        fake.close()


def test_the_refund_message_names_what_the_desk_still_pays_out():
    from mms_tui.screens.history import refunded_message
    from mms_tui.services.money.refund import RefundResult

    both = RefundResult("r", "o", "checkout", 1, 9_000, 4, paid_out={"wechat": 8_000, "cash": 1_000},
                        by_provider={"wechat": 8_000})
    assert refunded_message(both) == "✓ Refunded; WeChat Pay gave ¥80.00 back to the customer; pay back Cash ¥10.00"
    cash = RefundResult("r", "o", "checkout", 1, 1_000, 2, paid_out={"cash": 1_000})
    assert refunded_message(cash) == "✓ Refunded; pay back Cash ¥10.00"
    assert refunded_message(RefundResult("r", "o", "checkin", 1, 0, 1)) == "✓ Refunded."


async def test_f11_with_no_provider_set_up_says_so_and_the_bill_stays(regular):
    from textual.widgets import Label

    from mms_tui.screens.checkout import CheckoutScreen
    from tests.test_tui import at_desk, open_member, settle, text

    async with at_desk(regular) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        await pilot.press(*"HAIR", "enter")
        await settle(pilot)
        await pilot.press("f11")
        await settle(pilot)
        await pilot.press(*"7700000001", "enter")  # a member card scanned by mistake
        await settle(pilot)
        assert "not a WeChat Pay or Alipay payment code" in text(app.screen.query_one("#dialog-error", Label))
        await pilot.press(*WECHAT_CODES["success"], "enter")
        await settle(pilot)
        assert "not set up" in text(app.screen.query_one("#dialog-error", Label))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CheckoutScreen) and app.screen is screen and screen.result is None
        assert screen.lines and PayAttempt.select().count() == 0


def test_a_code_in_doubt_given_up_for_cash_is_given_back_when_found_paid(sqlite_desk, provider):
    """The desk was killed while the provider held its answer; the cashier, back, took cash for the same bill.
    The charge, found paid when settled, was not what paid the sale: it is given back."""
    import datetime as dt

    _killed_mid_charge(sqlite_desk, provider)
    checkout(None, ["HAIR"], [("cash", HAIR)], sqlite_desk.cashier, "k-1")  # the same bill, paid in cash
    settled = settle_open(provider.settings, older_than=dt.timedelta(0))
    assert [(s.txid, s.status) for s in settled] == [("k-1", "reversed")]
    assert provider.taken() == 0 and sales("k-1") == [("cash", HAIR)] and check_ledger() == []


def test_a_charge_booked_just_before_the_desk_stopped_is_marked_booked_not_given_back(desk, provider):
    import datetime as dt

    charge(desk, provider, "success", "k-2")
    # the desk stopped between booking the sale and noting it on the attempt
    PayAttempt.update(status="paid", transaction=None).where(PayAttempt.txid == "k-2").execute()
    settled = settle_open(provider.settings, older_than=dt.timedelta(0))
    assert [(s.txid, s.status) for s in settled] == [("k-2", "booked")]
    assert provider.taken() == HAIR and PayAttempt.get(PayAttempt.txid == "k-2").transaction_id is not None


# --- reconciliation (对账) ---------------------------------------------------------------------------------------


def _a_day_with_differences(desk, provider):
    """Three sales by code and a refund; then planted in the provider's bill: a charge no desk made, a booked
    charge the bill leaves out, another charged for a different amount."""
    from mms_tui.services.money.refund import refund
    from tests.pay_fakes import Order

    for txid in ("d-1", "d-2", "d-3"):
        charge(desk, provider, "success", txid)
    refund("d-3", desk.manager, "剪坏了", "rf-d3", payments=provider.settings)
    provider.strangers.append(Order("M" + "9" * 31, 1_000, "success", "SUCCESS", "T99999999"))
    provider.hidden.add(PayAttempt.get(PayAttempt.txid == "d-1").out_trade_no)
    provider.changed[PayAttempt.get(PayAttempt.txid == "d-2").out_trade_no] = HAIR - 100


def _today_in_beijing():
    from mms_tui import clock
    from mms_tui.services.payments.reconcile import BEIJING

    return clock.utc_now().astimezone(BEIJING).date()


def test_reconciling_a_bill_names_every_planted_difference(desk, provider):
    from mms_tui.services.payments.reconcile import download_bill, reconcile, reconciled_days

    _a_day_with_differences(desk, provider)
    day = _today_in_beijing()
    bill = download_bill(provider.name, provider.settings, day)
    found = sorted((d.kind, d.txid, d.ours_fen, d.theirs_fen) for d in reconcile(bill))
    assert found == [("amount_differs", "d-2", HAIR, HAIR - 100), ("booked_not_charged", "d-1", HAIR, None),
                     ("charged_not_booked", "", None, 1_000)]
    assert bill.refunds == {PayAttempt.get(PayAttempt.txid == "d-3").refunds[0].out_refund_no: HAIR}
    assert bill.fee_fen > 0 and reconciled_days()[provider.name][day.isoformat()]["differences"] == 3


def test_a_clean_day_reconciles_with_no_difference_from_a_file_too(desk, provider, tmp_path):
    from mms_tui.services.payments.reconcile import read_bill_file, reconcile

    charge(desk, provider, "success", "c-1")
    day = _today_in_beijing()
    if provider.name == "wechat":
        path = tmp_path / "wechat.csv"
        path.write_text(provider.bill_text(day.strftime("%Y%m%d")), encoding="utf-8")
    else:
        path = tmp_path / "alipay.zip"
        path.write_bytes(provider.bill_zip(day.isoformat()))
    assert reconcile(read_bill_file(provider.name, str(path), day)) == []


def test_a_file_that_is_no_bill_is_one_clear_line(desk, tmp_path):
    from mms_tui.services.payments.reconcile import read_bill_file

    path = tmp_path / "members.csv"
    path.write_text("姓名,手机\n张三,13800138000\n", encoding="utf-8")
    for provider in ("wechat", "alipay"):
        with pytest.raises(InvalidInput, match="not a"):
            read_bill_file(provider, str(path), _today_in_beijing())
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(InvalidInput, match="damaged zip"):
        read_bill_file("alipay", str(broken), _today_in_beijing())


def test_the_reconcile_command_and_check_warning_an_old_day_unreconciled(sqlite_desk, provider, run, tmp_path):
    import datetime as dt

    import tomli_w

    from mms_tui import clock

    _a_day_with_differences(sqlite_desk, provider)
    config = tmp_path / "mms.toml"
    config.write_text(tomli_w.dumps({"db": sqlite_desk.target, "payments": provider.settings}))
    env = {"MMS_CONFIG": str(config)}
    day = _today_in_beijing()
    with clock.pinned(clock.now() + dt.timedelta(days=4)):
        warned = run("check", extra_env=env)
    assert warned.exit_code == 0 and "not reconciled" in warned.stderr and day.isoformat() in warned.stderr
    done = run("payments", "reconcile", "--date", day.isoformat(), "--format", "json", extra_env=env)
    assert done.exit_code == 1 and "3 difference(s)" in done.stderr
    kinds = sorted(r["difference"] for r in __import__("json").loads(done.stdout))
    assert kinds == ["amount_differs", "booked_not_charged", "charged_not_booked"]
    with clock.pinned(clock.now() + dt.timedelta(days=4)):
        assert "not reconciled" not in run("check", extra_env=env).stderr
    assert run("payments", "reconcile", "--date", day.isoformat(), "--file", str(config), extra_env=env).exit_code == 2


def test_the_daily_job_reconciles_every_day_due_once(sqlite_desk, provider, run, tmp_path):
    """``reconcile --due`` (the timer's): each day up to yesterday with charges or refunds booked and no
    reconciliation — a refund's day too — then nothing; today's bill is not asked for before tomorrow."""
    import datetime as dt
    import json

    import tomli_w

    from mms_tui import clock
    from mms_tui.services.money.refund import refund

    _a_day_with_differences(sqlite_desk, provider)
    config = tmp_path / "mms.toml"
    config.write_text(tomli_w.dumps({"db": sqlite_desk.target, "payments": provider.settings}))
    env = {"MMS_CONFIG": str(config)}
    day = _today_in_beijing()
    assert run("payments", "reconcile", "--due", extra_env=env).stderr.strip() == "Every day with charges is reconciled."
    with clock.pinned(clock.now() + dt.timedelta(days=1)):
        refund("d-2", sqlite_desk.manager, "退款", "rf-d2", payments=provider.settings)
        first = run("payments", "reconcile", "--due", "--format", "json", extra_env=env)
        assert first.exit_code == 1 and "3 difference(s)" in first.stderr, first.stderr
        assert {r["day"] for r in json.loads(first.stdout)} == {day.isoformat()}
    with clock.pinned(clock.now() + dt.timedelta(days=2)):
        second = run("payments", "reconcile", "--due", extra_env=env)  # the refund's day: it agrees
        assert second.exit_code == 0, second.stderr
        assert f"{(day + dt.timedelta(days=1)).isoformat()}: 0 charges, 1 refunds" in second.stderr
        third = run("payments", "reconcile", "--due", extra_env=env)
        assert third.exit_code == 0 and "Every day with charges is reconciled." in third.stderr
    assert run("payments", "reconcile", extra_env=env).exit_code == 2  # neither --date nor --due
    assert run("payments", "reconcile", "--due", "--date", day.isoformat(), extra_env=env).exit_code == 2


def test_the_payments_report_per_day_and_provider_with_the_bills_fees(desk, provider):
    from mms_tui.services.reports.catalogue import run_report

    _a_day_with_differences(desk, provider)
    day = _today_in_beijing()
    before = list(run_report("paycodes", day, day))
    assert [(r["provider"], r["charges"], r["charged_fen"], r["refunds"], r["refunded_fen"], r["net_fen"],
             r["provider_fee_fen"], r["reconciled"]) for r in before] == [
        (provider.name, 3, 3 * HAIR, 1, HAIR, 2 * HAIR, None, "no")]
    from mms_tui.services.payments.reconcile import download_bill, reconcile

    bill = download_bill(provider.name, provider.settings, day)
    reconcile(bill)
    after = next(iter(run_report("paycodes", day, day)))
    assert (after["provider_fee_fen"], after["reconciled"]) == (bill.fee_fen, "3 differences")


async def test_f11_on_a_top_up_and_on_a_card_sale_charges_the_code(regular, tmp_path):
    """充1000送200 paid by the customer's Alipay code; a 10-visit package sold for their WeChat code."""
    from textual.widgets import Select, Static

    from mms_tui.models import Card, Entry
    from mms_tui.screens.member import MemberScreen
    from tests.test_tui import at_desk, open_member, settle, text

    alipay, wechat = FakeAlipay(), FakeWeChatPay()
    try:
        payments = {"alipay": alipay.config(tmp_path), "wechat": wechat.config(tmp_path), "wait_seconds": 1,
                    "poll_seconds": 0.05}
        async with at_desk(regular, payments=payments) as (app, pilot):
            await open_member(pilot, "00012345")
            await pilot.press("f4")
            await pilot.pause()
            topup = app.screen
            await pilot.press(*"1000")
            await settle(pilot)
            await pilot.press("f11")
            await settle(pilot)
            await pilot.press(*ALIPAY_CODES["paying"], "enter")  # the customer confirms on their phone
            await settle(pilot)
            await settle(pilot)
            assert isinstance(app.screen, MemberScreen), app.screen
            assert "¥1,000.00" in text(app.screen.query_one("#outcome", Static))
            top_up_txid = topup.txid
            await pilot.press("f6")  # issue a card
            await settle(pilot)
            issue = app.screen
            issue.query_one("#issue-type", Select).value = "V10"
            await pilot.press("f11")
            await settle(pilot)
            await pilot.press(*WECHAT_CODES["success"], "enter")
            await settle(pilot)
            await settle(pilot)
            assert isinstance(app.screen, MemberScreen), app.screen
        card = Card.get(Card.card_no == "00012345")
        assert (card.principal_fen, card.bonus_fen) == (110_000, 20_000)
        assert states(top_up_txid) == ["booked"] and alipay.taken() == 100_000
        tendered = {e.account: e.amount for e in Entry.select().join(Transaction)
                    .where(Transaction.txid == issue.txid, Entry.account.startswith("tender."))}
        assert list(tendered) == ["tender.wechat"] and wechat.taken() == abs(tendered["tender.wechat"]) > 0
        assert states(issue.txid) == ["booked"] and check_ledger() == []
    finally:
        alipay.close()
        wechat.close()


def test_the_same_out_trade_no_sent_twice_is_asked_about_not_charged_twice(desk, provider):
    """A charge sent again under the same number (the providers answer ORDERPAID / ACQ.TRADE_HAS_SUCCESS): the
    client says 'ask', and asking finds the first charge paid — one order, charged once."""
    from mms_tui.services.payments.charge import client_for
    from mms_tui.services.payments.providers import Outcome

    client = client_for(provider.name, provider.settings)
    number = out_trade_no_for("dup-1", 1)
    assert client.pay(number, provider.codes["success"], HAIR, "剪发").outcome is Outcome.PAID
    again = client.pay(number, provider.codes["success"], HAIR, "剪发")
    assert again.outcome is Outcome.UNKNOWN and again.code in ("ORDERPAID", "ACQ.TRADE_HAS_SUCCESS")
    assert client.query(number).outcome is Outcome.PAID
    assert len(provider.orders) == 1 and provider.taken() == HAIR


async def test_esc_while_the_provider_is_asked_waits_for_the_answer(regular, tmp_path):
    """A hurried Esc while the customer is still confirming does not leave the charge behind: the dialog stays until
    the answer (here: never confirmed, reversed), then Esc closes it and nothing was booked."""
    from textual.widgets import Label

    from mms_tui.screens.checkout import CheckoutScreen
    from mms_tui.screens.paycode import PayCodeDialog
    from tests.test_tui import at_desk, open_member, settle, text

    fake = FakeWeChatPay()
    try:
        payments = {"wechat": fake.config(tmp_path), "wait_seconds": 1, "poll_seconds": 0.2}
        async with at_desk(regular, payments=payments) as (app, pilot):
            await open_member(pilot, "00012345")
            await pilot.press("f3")
            await pilot.pause()
            await pilot.press(*"HAIR", "enter")
            await settle(pilot)
            await pilot.press("f11")
            await settle(pilot)
            dialog = app.screen
            await pilot.press(*WECHAT_CODES["paying_forever"], "enter")
            await pilot.pause(0.3)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is dialog and isinstance(dialog, PayCodeDialog)
            assert any("Still charging" in str(n.message) for n in app._notifications)
            # the wait is the provider's: never "another desk is writing"
            assert not any("Saving" in str(n.message) for n in app._notifications)
            await settle(pilot)
            assert "did not confirm in time" in text(dialog.query_one("#dialog-error", Label))
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, CheckoutScreen) and app.screen.result is None
        assert fake.taken() == 0 and PayAttempt.get().status == "reversed"
    finally:
        fake.close()


def test_a_day_without_a_bill_is_said_and_fails_only_when_charges_were_booked(sqlite_desk, provider, run, tmp_path):
    import datetime as dt

    import tomli_w

    config = tmp_path / "mms.toml"
    config.write_text(tomli_w.dumps({"db": sqlite_desk.target, "payments": provider.settings}))
    env = {"MMS_CONFIG": str(config)}
    day = _today_in_beijing().isoformat()
    quiet = run("payments", "reconcile", "--date", day, extra_env=env)  # nothing charged: no bill, nothing owed
    assert quiet.exit_code == 0 and "no charge was booked that day either" in quiet.stderr
    charge(sqlite_desk, provider, "success", "nb-1")
    provider.hidden.add(PayAttempt.get().out_trade_no)  # the provider's bill not made yet
    late = run("payments", "reconcile", "--date", day, extra_env=env)
    assert late.exit_code == 1 and "yet charges were booked" in late.stderr and "try again later" in late.stderr
    assert "payments_reconciled" not in str(run("payments", "list", extra_env=env).stdout)
    assert (_today_in_beijing() - dt.timedelta(days=0)).isoformat() == day


def test_mms_check_finds_a_charge_marked_booked_that_its_sale_did_not_take(sqlite_desk, provider, run, tmp_path):
    import tomli_w

    charge(sqlite_desk, provider, "success", "bk-1")
    config = tmp_path / "mms.toml"
    config.write_text(tomli_w.dumps({"db": sqlite_desk.target}))
    env = {"MMS_CONFIG": str(config)}
    assert run("check", extra_env=env).exit_code == 0
    PayAttempt.update(amount_fen=HAIR + 1).where(PayAttempt.txid == "bk-1").execute()  # not what the sale took
    checked = run("check", extra_env=env)
    assert checked.exit_code == 1 and "payment: attempt" in checked.output and "bk-1" in checked.output


def test_a_wait_that_is_no_number_is_one_line_and_nothing_is_asked(desk, provider):
    provider.settings["wait_seconds"] = "soon"
    with pytest.raises(NotSetUp, match="wait_seconds"):
        charge(desk, provider, "success", "w-1")
    assert PayAttempt.select().count() == 0 and provider.orders == {}

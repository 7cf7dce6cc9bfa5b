"""Random sequences of desk operations against a tiny reference model: balances always agree, books always hold.

The model knows only the rules a member would be told: stored value pays principal first, then bonus; one point
per yuan of money paid (cash or principal), floored over the whole bill; a refund undoes exactly one operation,
once, and only while the value it takes back is still there (a top-up's bonus: as much of it as is still there).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mms_tui.db import close_database
from mms_tui.models import Card, Entry
from mms_tui.services.base.errors import AlreadyReversed, InsufficientBalance, InvalidInput
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.tier_admin import edit_tier, list_tiers
from mms_tui.services.members.cards import issue_card, replace_card, report_lost
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund, refund_part
from mms_tui.services.money.topup import top_up
from tests.conftest import setup_desk

PRICES = {"HAIR": 8_800, "WATER": 300, "SHAMPOO": 6_800}
FIELDS = ("principal_fen", "bonus_fen", "points", "visits_left")


class DeskMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="mms-sm-")
        self.desk = setup_desk(str(Path(self.dir) / "sm.sqlite3"))
        for tier in list_tiers():  # keep the member in one tier: prices and points stay the model's
            if tier.rank > 0:
                edit_tier(self.desk.admin, tier.code, upgrade_at=10**12)
        staff = self.desk.cashier
        self.member = register_member("张三", "13800138000", staff, "reg").member_id
        self.sv = issue_card(self.member, "SV", staff, "i-sv", card_no="SV0").card_id
        self.pt = issue_card(self.member, "PT", staff, "i-pt", card_no="PT0").card_id
        self.pkg = issue_card(self.member, "V10", staff, "i-pkg", card_no="PKG0").card_id
        self.model: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
        self.model[self.pkg]["visits_left"] = 10
        self.model[self.sv]
        self.model[self.pt]
        self.done: list[tuple[str, dict[int, dict[str, int]]]] = []  # refundable: (txid, deltas)
        self.refunded: set[str] = set()
        self.topups: set[str] = set()
        #: sales paid in cash: txid → (money paid, given back in part, points those parts took back)
        self.cash_sales: dict[str, tuple[int, int, int]] = {}
        self.last: tuple | None = None  # (function, args, kwargs, result) of the last success, for a replay
        self.n = 0

    def teardown(self) -> None:
        close_database()
        shutil.rmtree(self.dir, ignore_errors=True)

    def txid(self) -> str:
        self.n += 1
        return f"op{self.n}"

    def apply(self, deltas: dict[int, dict[str, int]]) -> None:
        for card, change in deltas.items():
            for field, value in change.items():
                self.model[card][field] += value

    def would_stay_positive(self, deltas: dict[int, dict[str, int]]) -> bool:
        return all(self.model[c][f] + v >= 0 for c, change in deltas.items() for f, v in change.items())

    def run(self, fn, *args, **kwargs):
        result = fn(*args, **kwargs)
        self.last = (fn, args, kwargs, result)
        return result

    # --- rules ---------------------------------------------------------------------------------------------

    @rule(amount=st.integers(-500, 300_000), bonus=st.integers(0, 60_000),
          tender=st.sampled_from(["cash", "wechat", "alipay", "bank_card"]))
    def top_up(self, amount, bonus, tender):
        txid = self.txid()
        if amount <= 0:
            try:
                top_up(self.sv, amount, bonus, tender, self.desk.manager, txid)
            except InvalidInput:
                return
            raise AssertionError("a top-up of zero or less was accepted")
        self.run(top_up, self.sv, amount, bonus, tender, self.desk.manager, txid)
        deltas = {self.sv: {"principal_fen": amount, "bonus_fen": bonus}}
        self.apply(deltas)
        self.done.append((txid, deltas))
        self.topups.add(txid)

    @rule(lines=st.lists(st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 3)), min_size=1, max_size=3),
          how=st.sampled_from(["stored_value", "cash", "points", "split"]), extra_cash=st.integers(0, 5_000))
    def checkout(self, lines, how, extra_cash):
        total = sum(PRICES[code] * qty for code, qty in lines)
        sv, pts = self.model[self.sv], self.model[self.pt]
        if how == "stored_value":
            tenders, sv_part, cash_part = [("stored_value", total, self.sv)], total, 0
        elif how == "cash":
            tenders, sv_part, cash_part = [("cash", total + extra_cash)], 0, total
        elif how == "points":
            tenders, sv_part, cash_part = [("points", total)], 0, 0
        else:
            sv_part = total // 2
            tenders, cash_part = [("stored_value", sv_part, self.sv), ("cash", total - sv_part)], total - sv_part
        principal = min(sv["principal_fen"], sv_part)
        deltas: dict[int, dict[str, int]] = {}
        ok = True
        if sv_part:
            ok = sv["principal_fen"] + sv["bonus_fen"] >= sv_part
            deltas[self.sv] = {"principal_fen": -principal, "bonus_fen": -(sv_part - principal)}
        if how == "points":
            ok = pts["points"] >= total
            deltas[self.pt] = {"points": -total}
        earned = (principal + cash_part) // 100
        if earned:
            deltas.setdefault(self.pt, {})
            deltas[self.pt]["points"] = deltas[self.pt].get("points", 0) + earned
        txid = self.txid()
        if not ok:
            try:
                checkout(self.member, lines, tenders, self.desk.cashier, txid)
            except InsufficientBalance:
                return
            raise AssertionError(f"checkout of {total} by {how} should have been refused")
        result = self.run(checkout, self.member, lines, tenders, self.desk.cashier, txid)
        assert result.total_fen == total
        assert result.points_earned == earned
        assert result.change_fen == (extra_cash if how == "cash" else 0)
        self.apply(deltas)
        self.done.append((txid, deltas))
        if how == "cash":
            self.cash_sales[txid] = (total, 0, 0)

    @rule()
    def check_in(self):
        txid = self.txid()
        if self.model[self.pkg]["visits_left"] == 0:
            try:
                check_in(self.pkg, self.desk.cashier, txid, again=True)
            except InsufficientBalance:
                return
            raise AssertionError("a check-in on a used-up package was accepted")
        self.run(check_in, self.pkg, self.desk.cashier, txid, again=True)
        deltas = {self.pkg: {"visits_left": -1}}
        self.apply(deltas)
        self.done.append((txid, deltas))

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def refund(self, data):
        original, deltas = data.draw(st.sampled_from(self.done))
        undo = {c: {f: -v for f, v in change.items()} for c, change in deltas.items()}
        if original in self.topups:  # a top-up's refund takes back only the bonus still on the card
            for card, change in undo.items():
                change["bonus_fen"] = -min(-change["bonus_fen"], self.model[card]["bonus_fen"])
        if original in self.cash_sales:  # its parts took back some of its points already
            undo[self.pt]["points"] = undo.get(self.pt, {}).get("points", 0) + self.cash_sales[original][2]
        txid = self.txid()
        if original in self.refunded:
            try:
                refund(original, self.desk.manager, "again", txid)
            except AlreadyReversed:
                return
            raise AssertionError("a second refund of the same operation was accepted")
        if not self.would_stay_positive(undo):
            try:
                refund(original, self.desk.manager, "spent", txid)
            except InsufficientBalance:
                return
            raise AssertionError("a refund taking back value already spent was accepted")
        self.run(refund, original, self.desk.manager, "test", txid)
        self.apply(undo)
        self.refunded.add(original)

    @precondition(lambda self: self.cash_sales)
    @rule(data=st.data())
    def refund_in_part(self, data):
        """部分退款 of a cash sale: its share of the points the sale earned goes back off the card, exactly."""
        original = data.draw(st.sampled_from(sorted(self.cash_sales)))
        paid, given, taken = self.cash_sales[original]
        earned = dict(self.done)[original].get(self.pt, {}).get("points", 0)
        amount = data.draw(st.integers(1, paid - given + 100)) if paid > given else 1
        txid = self.txid()
        share = earned * (given + amount) // paid - earned * given // paid
        if original in self.refunded or amount > paid - given or self.model[self.pt]["points"] < share:
            try:
                refund_part(original, amount, self.desk.manager, "part", txid)
            except (AlreadyReversed, InvalidInput, InsufficientBalance):
                return
            raise AssertionError(f"a partial refund of {amount} ({given} of {paid} given) was accepted")
        result = self.run(refund_part, original, amount, self.desk.manager, "part", txid)
        assert (result.paid_out, result.to_cards.get("points", 0)) == ({"cash": amount}, -share)
        self.apply({self.pt: {"points": -share}})
        self.cash_sales[original] = (paid, given + amount, taken + share)

    @rule()
    def replace_stored_value_card(self):
        report_lost(self.sv, self.desk.cashier, self.txid())
        new = replace_card(self.sv, None, self.desk.cashier, self.txid()).card_id
        self.model[new] = dict(self.model[self.sv])
        self.model[self.sv] = dict.fromkeys(FIELDS, 0)
        self.sv = new

    @precondition(lambda self: self.last is not None)
    @rule()
    def replay_last(self):
        fn, args, kwargs, result = self.last
        entries = Entry.select().count()
        assert fn(*args, **kwargs) == result
        assert Entry.select().count() == entries

    # --- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self):
        for card_id, expected in self.model.items():
            card = Card.get_by_id(card_id)
            assert {f: getattr(card, f) for f in FIELDS} == expected, card.card_no

    @invariant()
    def books_hold(self):
        assert check_ledger() == []


DeskMachine.TestCase.settings = settings(
    max_examples=20, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestDeskMachine = DeskMachine.TestCase

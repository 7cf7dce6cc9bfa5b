"""Period passes and visit packages (issue #6): start on purchase or first use, the yearly freeze limit, renewal,
package expiry, visits moved within a family. Worked examples in the names; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.models import AuditEvent, Card, CardType, Entry, Member, Transaction, Visit
from mms_tui.services.base.errors import (
    CardExpired,
    CardFrozen,
    InsufficientBalance,
    InvalidInput,
    WrongCardKind,
)
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.family import family_members, set_family, transfer_visits
from mms_tui.services.members.passes import freeze_card, renew_pass, unfreeze_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.members.view import member_history

DAY = dt.date(2026, 3, 2)  # a Monday
ONE = dt.timedelta(days=1)


def person(desk, phone: str, name: str = "张三") -> int:
    return register_member(name, phone, desk.cashier, f"reg-{phone}").member_id


def card_type(code: str, kind: str, **fields) -> CardType:
    return CardType.create(code=code, name=fields.pop("name", code), kind=kind, **fields)


def dates(card_id: int) -> tuple[dt.date | None, dt.date | None]:
    card = Card.get_by_id(card_id)
    return card.valid_from, card.valid_until


def unchanged(*card_ids: int):
    """What a refused operation must leave as it was: each card's row, and the ledger's size."""
    return ([Card.select().where(Card.id == i).dicts().get() for i in card_ids], Transaction.select().count(),
            Entry.select().count())


# --- start on purchase or on first use ---------------------------------------------------------------------------


def test_pass_bought_today_runs_30_days_from_today_first_use_pass_bought_today_starts_at_check_in_tomorrow(desk):
    m = person(desk, "13800138000")
    card_type("M1F", "period", name="月卡(首次使用起算)", price_fen=30_000, period_days=30, start_on_first_use=True)
    bought = issue_card(m, "M1", desk.cashier, "i1", on=DAY)
    first_use = issue_card(m, "M1F", desk.cashier, "i2", on=DAY)
    assert dates(bought.card_id) == (DAY, DAY + 29 * ONE)
    assert dates(first_use.card_id) == (None, None) and first_use.valid_until is None

    result = check_in(first_use.card_id, desk.cashier, "c1", on=DAY + ONE)
    assert result.started and result.valid_until == (DAY + 30 * ONE).isoformat()
    assert dates(first_use.card_id) == (DAY + ONE, DAY + 30 * ONE)
    again = check_in(first_use.card_id, desk.cashier, "c2", on=DAY + 5 * ONE)  # a later check-in moves nothing
    assert not again.started and dates(first_use.card_id) == (DAY + ONE, DAY + 30 * ONE)
    with pytest.raises(CardExpired):
        check_in(first_use.card_id, desk.cashier, "c3", on=DAY + 31 * ONE)
    assert check_in(first_use.card_id, desk.cashier, "c1", on=DAY + ONE).started  # a retry: the first answer
    assert Visit.select().count() == 2
    assert check_ledger() == []


def test_first_use_pass_cannot_be_frozen_or_renewed_before_it_starts(desk):
    m = person(desk, "13800138000")
    card_type("M1F", "period", price_fen=30_000, period_days=30, start_on_first_use=True)
    card = issue_card(m, "M1F", desk.cashier, "i1", on=DAY).card_id
    before = unchanged(card)
    with pytest.raises(InvalidInput, match="not started"):
        freeze_card(card, desk.cashier, "f1", on=DAY)
    with pytest.raises(InvalidInput, match="not started"):
        renew_pass(card, desk.cashier, "r1", on=DAY)
    assert unchanged(card) == before


# --- the yearly freeze limit ---------------------------------------------------------------------------------------


@pytest.fixture
def limited(desk):
    """A 年卡 whose type allows 30 freeze days a year, bought on DAY: valid to DAY + 364."""
    card_type("Y30", "period", name="年卡", price_fen=280_000, period_days=365, max_freeze_days=30)
    m = person(desk, "13800138000")
    return desk, issue_card(m, "Y30", desk.cashier, "i1", on=DAY).card_id


def test_freeze_limit_30_days_a_year_frozen_30_days_extends_by_30_then_a_second_freeze_is_refused_with_0_left(limited):
    desk, card = limited
    frozen = freeze_card(card, desk.cashier, "f1", on=DAY)
    assert (frozen.status, frozen.days_left, frozen.ends_on) == ("frozen", 30, (DAY + 30 * ONE).isoformat())
    after = unfreeze_card(card, desk.cashier, "u1", on=DAY + 30 * ONE)
    assert after.frozen_days == 30 and after.status == "active"
    assert dates(card) == (DAY, DAY + (364 + 30) * ONE)
    row = Card.get_by_id(card)
    assert (row.freeze_year, row.freeze_days_year, row.frozen_days_total) == (2026, 30, 30)
    before = unchanged(card)
    with pytest.raises(InvalidInput, match="all 30 freeze days of 2026; 0 days left") as refused:
        freeze_card(card, desk.cashier, "f2", on=DAY + 40 * ONE)
    assert "2027-01-01" in str(refused.value)
    assert unchanged(card) == before
    assert freeze_card(card, desk.cashier, "f3", on=dt.date(2027, 1, 4)).days_left == 30  # a new year, 30 again
    assert check_ledger() == []


def test_freeze_limit_30_days_a_year_frozen_31_days_ended_by_itself_on_day_30_and_extends_by_30_only(limited):
    desk, card = limited
    freeze_card(card, desk.cashier, "f1", on=DAY)
    with pytest.raises(CardFrozen):
        check_in(card, desk.cashier, "c1", on=DAY + 29 * ONE)  # the 30th day frozen: still frozen
    visit = check_in(card, desk.cashier, "c2", on=DAY + 30 * ONE)  # the limit ended it: usable again
    assert visit.valid_until == (DAY + (364 + 30) * ONE).isoformat()
    row = Card.get_by_id(card)
    assert (row.status, row.frozen_since, row.freeze_days_year, row.frozen_days_total) == ("active", None, 30, 30)
    ended = AuditEvent.get((AuditEvent.action == "card.unfreeze") & (AuditEvent.txid == "c2"))
    assert '"automatic": true' in ended.payload and '"frozen_days": 30' in ended.payload
    assert check_ledger() == []


def test_freeze_limit_30_days_unfreezing_on_day_31_counts_30_days_not_31(limited):
    desk, card = limited
    freeze_card(card, desk.cashier, "f1", on=DAY)
    after = unfreeze_card(card, desk.cashier, "u1", on=DAY + 31 * ONE)
    assert after.frozen_days == 30
    assert dates(card) == (DAY, DAY + (364 + 30) * ONE)
    assert check_ledger() == []


def test_freeze_from_30_december_with_28_days_used_counts_2_days_in_2025_and_30_in_2026(desk):
    card_type("Y30", "period", price_fen=280_000, period_days=365, max_freeze_days=30)
    card = issue_card(person(desk, "13800138000"), "Y30", desk.cashier, "i1", on=dt.date(2025, 6, 1)).card_id
    Card.update(freeze_year=2025, freeze_days_year=28).where(Card.id == card).execute()
    frozen = freeze_card(card, desk.cashier, "f1", on=dt.date(2025, 12, 30))
    assert (frozen.days_left, frozen.ends_on) == (2, "2026-01-31")
    after = unfreeze_card(card, desk.cashier, "u1", on=dt.date(2026, 2, 10))
    assert after.frozen_days == 32
    row = Card.get_by_id(card)
    assert (row.freeze_year, row.freeze_days_year) == (2026, 30)
    assert check_ledger() == []


def test_a_card_type_with_no_freeze_days_cannot_be_frozen(desk):
    card_type("M0", "period", price_fen=30_000, period_days=30, max_freeze_days=0)
    card = issue_card(person(desk, "13800138000"), "M0", desk.cashier, "i1", on=DAY).card_id
    with pytest.raises(InvalidInput, match="cannot be frozen"):
        freeze_card(card, desk.cashier, "f1", on=DAY)
    assert Card.get_by_id(card).status == "active"


# --- renewal -------------------------------------------------------------------------------------------------------


def test_renewal_before_the_end_continues_from_the_old_end_date_and_is_paid_like_an_issue(desk):
    card = issue_card(person(desk, "13800138000"), "M1", desk.cashier, "i1", on=DAY).card_id  # to DAY + 29
    renewed = renew_pass(card, desk.cashier, "r1", tender="wechat", on=DAY + 25 * ONE)
    assert renewed.price_fen == 30_000
    assert dates(card) == (DAY, DAY + 59 * ONE)
    money = sorted(Entry.select(Entry.account, Entry.amount).join(Transaction)
                   .where(Transaction.txid == "r1").tuples())
    assert money == [("revenue.cards", 30_000), ("tender.wechat", -30_000)]
    assert renew_pass(card, desk.cashier, "r1", tender="wechat", on=DAY + 25 * ONE) == renewed  # a retry
    assert dates(card) == (DAY, DAY + 59 * ONE)
    assert check_ledger() == []


def test_renewal_on_the_last_day_continues_the_day_after_it_starts_again_today(desk):
    card = issue_card(person(desk, "13800138000"), "M1", desk.cashier, "i1", on=DAY).card_id  # to DAY + 29
    renew_pass(card, desk.cashier, "r1", on=DAY + 29 * ONE)
    assert dates(card) == (DAY, DAY + 59 * ONE)
    later = DAY + 70 * ONE  # ten days after the new end
    renew_pass(card, desk.cashier, "r2", on=later)
    assert dates(card) == (later, later + 29 * ONE)
    assert check_in(card, desk.cashier, "c1", on=later).kind == "period"
    assert check_ledger() == []


def test_renewal_of_a_frozen_pass_continues_from_its_end_and_the_unfreeze_adds_the_days_frozen(desk):
    card = issue_card(person(desk, "13800138000"), "M1", desk.cashier, "i1", on=DAY).card_id  # to DAY + 29
    freeze_card(card, desk.cashier, "f1", on=DAY + 10 * ONE)
    renew_pass(card, desk.cashier, "r1", on=DAY + 40 * ONE)  # past the old end, but its end is still waiting
    assert dates(card) == (DAY, DAY + 59 * ONE) and Card.get_by_id(card).status == "frozen"
    unfreeze_card(card, desk.cashier, "u1", on=DAY + 50 * ONE)
    assert dates(card) == (DAY, DAY + 99 * ONE)
    assert check_ledger() == []


def test_only_passes_renew_and_a_refused_renewal_takes_no_money(desk):
    m = person(desk, "13800138000")
    package = issue_card(m, "V10", desk.cashier, "i1", on=DAY).card_id
    before = unchanged(package)
    with pytest.raises(WrongCardKind):
        renew_pass(package, desk.cashier, "r1", on=DAY)
    with pytest.raises(InvalidInput):
        renew_pass(package, desk.cashier, "r2", tender="IOU", on=DAY)
    assert unchanged(package) == before
    assert check_ledger() == []


# --- visit packages: expiry ------------------------------------------------------------------------------------


def test_package_checks_in_on_its_last_day_and_is_refused_the_day_after_saying_so(desk):
    package = issue_card(person(desk, "13800138000"), "V10", desk.cashier, "i1", on=DAY)  # 180 days
    last = DAY + 179 * ONE
    assert package.valid_until == last.isoformat()
    assert check_in(package.card_id, desk.cashier, "c1", on=last).visits_left == 9
    with pytest.raises(CardExpired, match=f"expired on {last.isoformat()}; its 9 visits left"):
        check_in(package.card_id, desk.cashier, "c2", on=last + ONE)
    assert Card.get_by_id(package.card_id).visits_left == 9
    assert check_ledger() == []


# --- families and transfers ------------------------------------------------------------------------------------


@pytest.fixture
def family(desk):
    """妈妈 holds a transferable 10次卡 (V10T); 爸爸 and 孩子 are in her family; 邻居 is not."""
    card_type("V10T", "visits", name="亲情10次卡", price_fen=50_000, visits=10, validity_days=180, transferable=True)
    mum = person(desk, "13800138001", "妈妈")
    dad = person(desk, "13800138002", "爸爸")
    kid = person(desk, "13800138003", "孩子")
    neighbour = person(desk, "13800138004", "邻居")
    set_family(dad, mum, desk.cashier, "fam1")
    set_family(kid, "13800138001", desk.cashier, "fam2")
    package = issue_card(mum, "V10T", desk.cashier, "i1", on=DAY).card_id
    return desk, package, mum, dad, kid, neighbour


def test_family_is_named_by_its_first_member_and_renamed_when_she_leaves(family):
    desk, _package, mum, dad, kid, _neighbour = family
    assert [(f.name, f.head) for f in family_members(kid)] == [("妈妈", True), ("爸爸", False), ("孩子", False)]
    set_family(mum, None, desk.cashier, "leave1")
    assert Member.get_by_id(mum).family_id is None
    assert [(f.name, f.head) for f in family_members(kid)] == [("爸爸", True), ("孩子", False)]
    set_family(kid, None, desk.cashier, "leave2")  # a family of one is no family
    assert Member.get_by_id(dad).family_id is None and family_members(dad) == []
    with pytest.raises(InvalidInput, match="not in a family"):
        set_family(dad, None, desk.cashier, "leave3")
    assert check_ledger() == []


def test_transfer_3_visits_to_a_family_member_with_the_same_package_moves_them_onto_her_card(family):
    desk, package, mum, dad, _kid, _neighbour = family
    dads = issue_card(dad, "V10T", desk.cashier, "i2", on=DAY + ONE).card_id
    result = transfer_visits(package, dad, 3, desk.cashier, "t1", on=DAY + 2 * ONE)
    assert (result.from_visits_left, result.to_visits_left, result.card_issued) == (7, 13, False)
    assert Card.get_by_id(package).visits_left == 7 and Card.get_by_id(dads).visits_left == 13
    moved = sorted(Entry.select(Entry.card, Entry.amount).join(Transaction).where(Transaction.txid == "t1").tuples())
    assert moved == sorted([(package, -3), (dads, 3)])
    assert Transaction.get(Transaction.txid == "t1").kind == "transfer"
    assert transfer_visits(package, dad, 3, desk.cashier, "t1", on=DAY + 2 * ONE) == result  # a retry: once
    assert Card.get_by_id(package).visits_left == 7
    # both histories show it: the giver's (her operation) and the receiver's (visits onto his card)
    assert [(r.label, r.visits) for r in member_history(mum) if r.kind == "transfer"] == [("Visits transferred", -3)]
    assert [(r.label, r.visits) for r in member_history(dad) if r.kind == "transfer"] == [("Visits transferred", 3)]
    assert check_ledger() == []


def test_transfer_to_a_family_member_without_the_package_issues_her_one_ending_with_the_givers(family):
    desk, package, _mum, _dad, kid, _neighbour = family
    result = transfer_visits(package, "13800138003", 2, desk.cashier, "t1", on=DAY)
    assert result.card_issued and result.to_visits_left == 2
    new = Card.get(Card.card_no == result.to_card_no)
    assert (new.member_id, new.card_type.code, new.valid_until) == (kid, "V10T", DAY + 179 * ONE)
    assert check_in(new.id, desk.cashier, "c1", on=DAY).visits_left == 1
    assert check_ledger() == []


def test_transfer_refused_outside_the_family_for_other_types_and_beyond_the_visits_left(family):
    desk, package, mum, dad, _kid, neighbour = family
    plain = issue_card(mum, "V10", desk.cashier, "i2", on=DAY).card_id  # not transferable
    before = unchanged(package, plain)
    with pytest.raises(InvalidInput, match="not in the same family"):
        transfer_visits(package, neighbour, 1, desk.cashier, "t1", on=DAY)
    with pytest.raises(InvalidInput, match="cannot be transferred"):
        transfer_visits(plain, dad, 1, desk.cashier, "t2", on=DAY)
    with pytest.raises(InsufficientBalance, match="has 10, needs 11"):
        transfer_visits(package, dad, 11, desk.cashier, "t3", on=DAY)
    with pytest.raises(InvalidInput, match="already belongs"):
        transfer_visits(package, mum, 1, desk.cashier, "t4", on=DAY)
    with pytest.raises(InvalidInput, match="more than zero"):
        transfer_visits(package, dad, 0, desk.cashier, "t5", on=DAY)
    with pytest.raises(CardExpired):
        transfer_visits(package, dad, 1, desk.cashier, "t6", on=DAY + 180 * ONE)
    assert unchanged(package, plain) == before
    assert Card.select().where(Card.member == dad).count() == 0
    assert check_ledger() == []


def test_mms_family_commands_show_join_and_leave(family, tmp_path):
    desk, _package, *_rest = family
    env = {"MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en"}

    def mms(*args: str):
        return CliRunner().invoke(cli, ["--db", desk.target, "family", *args], env=env)

    shown = mms("show", "13800138003", "--format", "csv")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[1:] == ["妈妈,138****8001,yes", "爸爸,138****8002,", "孩子,138****8003,"]
    joined = mms("join", "13800138004", "13800138002")
    assert joined.exit_code == 0, joined.output
    assert "邻居" in joined.output and Member.get(Member.phone == "13800138004").family_id is not None
    left = mms("leave", "13800138004")
    assert left.exit_code == 0 and Member.get(Member.phone == "13800138004").family_id is None
    refused = mms("leave", "13800138004")
    assert refused.exit_code == 1 and "not in a family" in refused.output

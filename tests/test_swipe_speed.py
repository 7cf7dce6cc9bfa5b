"""What keeps a swipe fast (issue #7), checked for correctness — the speed itself is in ``scripts/bench.py swipe``:
one member screen kept and refilled, a footer changed in place, the cycle collector run while the desk is quiet."""

from __future__ import annotations

import gc
import threading
import time
import weakref

from textual.widgets import DataTable, Static
from textual.widgets._footer import FooterKey

from mms_tui.screens.checkout import CheckoutScreen
from mms_tui.screens.desk import DeskScreen
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from tests.test_tui import at_desk, open_member, settle, text


def footer_keys(screen) -> tuple[list[str], int]:
    """The actions the screen's footer shows, in order, and how many key widgets it holds (shown or hidden)."""
    keys = list(screen.query(FooterKey))
    return [k.action for k in keys if k.display], len(keys)


async def test_one_member_screen_is_refilled_for_each_member_and_keeps_nothing_of_the_last(regular):
    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    issue_card(li, "M1", regular.cashier, "i-li", card_no="00088888")  # a pass: the renew key applies to her only
    async with at_desk(regular) as (app, pilot):
        zhang_screen = await open_member(pilot, "00077777")
        await pilot.press("f2")  # check in: an outcome banner on 张三's screen
        await settle(pilot)
        assert "9" in text(zhang_screen.query_one("#outcome", Static))
        shown, _widgets = footer_keys(zhang_screen)
        assert not zhang_screen.check_action("renew", ())  # he holds no pass
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)

        li_screen = await open_member(pilot, "00088888")
        assert li_screen is zhang_screen  # the same screen, refilled: nothing composed or styled again
        assert li_screen.member_id == li
        assert "李四" in text(li_screen.query_one("#member-title", Static))
        assert text(li_screen.query_one("#outcome", Static)) == ""  # 张三's check-in is not shown to 李四
        assert not li_screen.query_one("#outcome", Static).has_class("outcome-ok")
        table = li_screen.query_one("#cards", DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["00088888"]
        shown_li, widgets_li = footer_keys(li_screen)
        assert shown_li == shown and "check_in" in shown_li  # the footer's keys are the same for every member
        assert li_screen.check_action("renew", ())
        await pilot.press("ctrl+r")  # her key works
        await settle(pilot)
        assert app.screen.__class__.__name__ == "RenewPassScreen"
        await pilot.press("escape", "escape")
        await settle(pilot)

        again = await open_member(pilot, "00012345")
        assert again is zhang_screen and "张三" in text(again.query_one("#member-title", Static))
        shown_again, widgets_again = footer_keys(again)
        assert shown_again == shown and not again.check_action("renew", ())
        assert widgets_again == widgets_li  # nothing composed again


async def test_a_member_screen_in_use_is_not_refilled_a_new_one_opens(regular):
    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    async with at_desk(regular) as (app, pilot):
        kept = await open_member(pilot, "00077777")
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, CheckoutScreen)
        other = app.member_screen(li)  # the kept screen is under the checkout: a new one
        assert other is not kept and other.member_id == li and kept.member_id != li
        app.pop_screen()
        await settle(pilot)
        app.pop_screen()
        await settle(pilot)
        release = threading.Event()
        kept.run_worker(release.wait, thread=True)  # something of 张三's still running on it
        busy = app.member_screen(li)
        assert busy is not kept and kept.member_id != li
        release.set()
        await settle(pilot)
        assert app.member_screen(li) is kept and kept.member_id == li


class Node:
    pass


async def test_the_cycle_collector_runs_when_the_desk_is_quiet_and_freezes_the_start_once(regular):
    gc.disable()  # only the desk's own collection may free the cycle below
    try:
        async with at_desk(regular) as (app, _pilot):
            assert isinstance(app.screen, DeskScreen)
            cycle = Node()
            cycle.me = cycle
            gone = weakref.ref(cycle)
            del cycle
            app.last_tidy = time.monotonic() - 5  # the desk's own tidy timer last ran a while ago
            app.last_busy = time.monotonic()  # a key just now: not yet
            app.tidy_memory()
            assert gone() is not None
            app.last_busy = time.monotonic() - 1  # a second of quiet
            app.tidy_memory()
            assert gone() is None
            assert app.frozen and gc.get_freeze_count() > 0  # what the desk started with is out of the way
            again = Node()
            again.me = again
            still = weakref.ref(again)
            del again
            app.tidy_memory()  # no key or swipe since the last tidy: nothing to do, nothing collected
            assert still() is not None
        assert not app.frozen and gc.get_freeze_count() == 0  # handed back when the app ends
    finally:
        gc.enable()

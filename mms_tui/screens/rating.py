"""服务评价 at the desk: from a sale's receipt (F7), each service performed on it with its performer; a digit 1–5 on
one records the member's rating of that performer (services/money/ratings.py: one per service and performer)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, in_connection
from mms_tui.services.money.ratings import Performed, performed, rate_service
from mms_tui.widgets.footer import Footer


class RateServiceScreen(WorkerErrors, ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", N_("Close"), id="rate.close"),
                *(Binding(str(n), f"rate({n})", str(n), show=False) for n in range(1, 6))]

    def __init__(self, txid: str) -> None:
        super().__init__()
        self.txid = txid
        self.services: list[Performed] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Rate the service"), classes="title")
            yield OptionList(id="rate-services")
            yield Label(_("1–5 on a service: the member's rating · Esc closes"), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, group="rate")
    def load(self) -> None:
        services = in_connection(performed, self.txid)
        self.app.call_from_thread(self.show, services)

    def show(self, services: list[Performed]) -> None:
        self.services = services
        options = self.query_one("#rate-services", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        if not services:
            options.add_option(Option(_("No service on this sale names its performer."), disabled=True))
            return
        for p in services:
            stars = "★" * p.rating + "☆" * (5 - p.rating) if p.rating else _("not rated")
            options.add_option(Option(f"{p.name}  {p.staff_name} ({p.staff_code})  {stars}"))
        options.highlighted = highlighted if highlighted is not None and highlighted < len(services) else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # Enter rates nothing: a digit does

    def action_rate(self, rating: int) -> None:
        index = self.query_one("#rate-services", OptionList).highlighted
        if index is None or not self.services or index >= len(self.services):
            return
        self.record(self.services[index], rating)

    @work(thread=True, exit_on_error=False, group="rate")
    def record(self, service: Performed, rating: int) -> None:
        done = in_connection(rate_service, self.txid, service.staff_code, rating, self.app.staff,
                             line_code=service.code)
        self.app.call_from_thread(self.notify, _("Rated {staff}'s {service}: {rating}.").format(
            staff=done.staff_code, service=done.name, rating=done.rating))
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

"""The member's record at the desk (Ctrl+E on the member screen, "Details"): address, email, preferences, tags,
marketing consent per channel, the price level they buy at, and the shop's own fields — one form, one save
(services/members/record.py checks it all before it writes any of it)."""

from __future__ import annotations

import re
from functools import partial

from textual.widgets import Input, Select

from mms_tui.i18n import N_, _
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.members.record import MemberRecord, save_record

CONSENT_NAMES = {"sms": N_("SMS consent"), "email": N_("Email consent"), "notices": N_("Service notices")}
ANSWERS = ((N_("not asked"), "unknown"), (N_("yes"), "yes"), (N_("no"), "no"))


class MemberRecordScreen(OperationDialog):
    """Returns the line saying the record was saved, or None."""

    def __init__(self, record: MemberRecord, staff) -> None:
        super().__init__()
        self.record = record
        self.staff = staff

    def heading(self) -> str:
        return _("Details of {name}").format(name=self.record.name)

    def fields(self):
        r = self.record
        yield field_row(_("Address"), Input(r.address, id="address", max_length=200))
        yield field_row(_("Email"), Input(r.email, id="email", max_length=254))
        yield field_row(_("Preferences"), Input(r.preferences, id="preferences", max_length=500,
                                                placeholder=_("what they like or ask for")))
        yield field_row(_("Tags"), Input(" ".join(r.tags), id="tags", placeholder=_("VIP 孕期 … (spaces between)")))
        for channel, label in CONSENT_NAMES.items():
            given = r.consent.get(channel)
            value = "unknown" if given is None else "yes" if given else "no"
            yield field_row(_(label), Select([(_(text), key) for text, key in ANSWERS], id=f"consent-{channel}",
                                             allow_blank=False, value=value))
        yield field_row(_("Price level"), Input(r.price_level, id="price-level", max_length=20,
                                                placeholder=_("e.g. DEALER; empty: none")))
        for f in r.fields:
            if f.kind == "choice":
                options = [(c, c) for c in f.choices]
                chosen = {"value": f.value} if f.value in f.choices else {}
                yield field_row(f.name, Select(options, id=f"field-{f.code}", prompt="-", **chosen))
            else:
                hint = {"date": _("YYYY-MM-DD"), "number": _("a number")}.get(f.kind, "")
                yield field_row(f.name, Input(f.value, id=f"field-{f.code}", placeholder=hint))

    def on_mount(self) -> None:
        self.query_one("#address", Input).focus()

    def operation(self):
        def value(widget_id: str) -> str:
            widget = self.query_one(f"#{widget_id}")
            if isinstance(widget, Select):
                return widget.value if isinstance(widget.value, str) else ""
            return widget.value

        consent = {}
        for channel in CONSENT_NAMES:
            answer = value(f"consent-{channel}")
            consent[channel] = None if answer == "unknown" else answer == "yes"
        fields = {f.code: value(f"field-{f.code}") for f in self.record.fields}
        return partial(save_record, self.record.member_id, self.staff, self.txid, address=value("address"),
                       email=value("email"), preferences=value("preferences"),
                       tags=[t for t in re.split(r"[\s,，]+", value("tags")) if t], consent=consent,
                       fields=fields, price_level=value("price-level"))

    def succeeded(self, result: object) -> str:
        return _("✓ Details saved.")

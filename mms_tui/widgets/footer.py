"""The key footer every screen shows, changed in place instead of rebuilt.

Textual's footer composes its row of keys again whenever the screen's bindings may have changed — a focus move, a
screen pushed, ``refresh_bindings()`` — mounting and styling a dozen new widgets each time and leaving the old ones
to the cycle collector. At the counter that is every swipe: the member screen shows some keys only for members they
apply to (birthday gift, renew pass…), so two members in a row rarely have the same row. This footer keeps one key
widget per key it has ever shown on its screen, in the screen's order, and shows, hides, enables or disables them;
it composes again only for a key it has no widget for yet.

Bindings carry their descriptions untranslated (``N_("Check in")``); the footer translates them as it draws, so
a screen built before the language was chosen, or a module imported under another one, still shows the desk's
language.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

from mms_tui.i18n import _

Slot = tuple[str, str]  # (key, action): one key widget


def shown_bindings(screen: Screen) -> dict[Slot, tuple[Binding, bool, str]]:
    """The keys a footer shows for ``screen`` now, in order: binding, enabled, tooltip. Of two keys bound to one
    action only the first shows, as in Textual's footer."""
    shown: dict[Slot, tuple[Binding, bool, str]] = {}
    actions: set[str] = set()
    for _node, binding, enabled, tooltip in screen.active_bindings.values():
        if binding.show and binding.action not in actions:
            actions.add(binding.action)
            shown[(binding.key, binding.action)] = (binding, enabled, tooltip)
    return shown


def merged(known: list[Slot], shown: list[Slot]) -> list[Slot]:
    """Every slot of ``known`` and ``shown``: the known ones in their order, each new one after the slot it
    follows in ``shown`` (first when it leads)."""
    order = list(known)
    for i, slot in enumerate(shown):
        if slot not in order:
            order.insert(order.index(shown[i - 1]) + 1 if i else 0, slot)
    return order


class Footer(TextualFooter):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("show_command_palette", False)  # room for the screen's keys; F1 names Ctrl+P
        super().__init__(*args, **kwargs)
        self.slots: dict[Slot, FooterKey] = {}  # every key widget composed, shown or hidden, in order
        self.remembered: dict[Slot, tuple[Binding, bool, str]] = {}  # what each slot was last shown as

    def compose(self):
        if not self._bindings_ready:
            return
        shown = shown_bindings(self.screen)
        order = merged(list(self.remembered), list(shown))  # before remembering: a new key goes where it shows
        self.remembered.update(shown)
        self.slots = {}
        for slot in order:
            binding, enabled, tooltip = self.remembered[slot]
            key = FooterKey(binding.key, self.app.get_key_display(binding), _(binding.description), binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=TextualFooter.compact)
            key.display = slot in shown
            self.slots[slot] = key
            yield key
        self.remembered = {slot: self.remembered[slot] for slot in self.slots}
        yield from self.palette_key()

    def palette_key(self):
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return
        found = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if found is not None:
            _node, binding, enabled, _tooltip = found
            yield FooterKey(binding.key, self.app.get_key_display(binding), _(binding.description), binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=_(binding.tooltip or binding.description))

    def bindings_changed(self, screen: Screen) -> None:
        if not (self.slots and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)
            return
        shown = shown_bindings(screen)
        if any(slot not in self.slots for slot in shown):
            super().bindings_changed(screen)  # a key never shown here before: compose again, with it
            return
        for slot, key in self.slots.items():
            key.display = slot in shown
            if slot in shown:
                _binding, enabled, tooltip = self.remembered[slot] = shown[slot]
                if key._disabled == enabled:
                    key._disabled = not enabled
                    key.set_class(not enabled, "-disabled")
                    key.refresh()
                if key.tooltip != (tooltip or None):
                    key.tooltip = tooltip or None

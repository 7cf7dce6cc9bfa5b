"""Keyboard-wedge readers (the "USB免驱" card readers and scanners most shops own) type a card number and Enter
into whatever has the keyboard, faster than any person types. This tells such a burst from typing: a pure
function of characters and their arrival times, so it is tested without a terminal.

A burst is at least ``min_chars`` characters, each within ``max_gap`` seconds of the one before, ended by Enter
within ``max_gap`` of the last. Over SSH keystrokes arrive with jitter: a burst stretched beyond ``max_gap`` is
not recognised and stays what it was typed as (a search), never dropped.
"""

from __future__ import annotations


class WedgeDetector:
    def __init__(self, max_gap: float = 0.03, min_chars: int = 6) -> None:
        self.max_gap = max_gap
        self.min_chars = min_chars
        self.chars: list[str] = []
        self.last = 0.0

    @property
    def enabled(self) -> bool:
        return self.max_gap > 0 and self.min_chars > 0

    def char(self, ch: str, now: float) -> None:
        """A printable character arrived at ``now`` (seconds, any monotonic clock)."""
        if self.chars and now - self.last > self.max_gap:
            self.chars = []
        self.chars.append(ch)
        self.last = now

    def enter(self, now: float) -> str | None:
        """Enter arrived: the burst it ends, or None when what came before was typed by a person."""
        burst = "".join(self.chars)
        fast = bool(self.chars) and now - self.last <= self.max_gap
        self.chars = []
        return burst if self.enabled and fast and len(burst) >= self.min_chars else None

    def other(self) -> None:
        """Any other key (a function key, Backspace…): whatever came before was not a reader's."""
        self.chars = []

"""Widgets the screens share: Textual's own, adjusted where the counter needs it."""

"""Foundations every domain builds on: domain errors, written-out SQL, settings kept in the database, resolving
the staff, store, member and card an operation names, text and money formats, the one atomic file writer.

May import nothing else of ``mms_tui.services``."""

"""The one way value changes: idempotent operations posting balanced entries (``operations``), the tenders
(``tenders``), the hash chains that make edits behind the services' back visible (``chain``), and ``mms check``
(``check``).

May import ``base``."""

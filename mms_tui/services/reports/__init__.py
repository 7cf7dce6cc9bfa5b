"""What the owner and the accountant read: every report by name (``catalogue``: ``mms report`` and its list) on
the period they share (``period``) — money taken (``sales``), what members hold (``balances``), members coming
(``attendance``) — the day at a store (``day``), and the audited events (``audit``, ``mms audit``).

May import ``base``, ``ledger``, ``staff``, ``catalogue``, ``stock``, ``loyalty``, ``messages``, ``money``, ``members`` and
``bookings``."""

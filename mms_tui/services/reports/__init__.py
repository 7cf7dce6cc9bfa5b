"""What the owner and the accountant read: every report (``catalogue``) and the day at a store (``day``).

May import ``base``, ``ledger``, ``staff``, ``loyalty``, ``money`` and ``members``."""

"""Members at the counter: register and edit, cards, passes, family and birthdays (``records``), the desk
search (``lookup``), check-in, what the member screen shows (``view``), and erasure (``privacy``).

May import ``base``, ``ledger``, ``staff``, ``loyalty`` and ``money`` (a birthday's free item is a sale)."""

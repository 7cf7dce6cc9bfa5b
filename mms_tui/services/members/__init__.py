"""Members at the counter: register and edit (``profile``), cards (``cards``), freezes and renewals of passes
(``passes``), families and their shared visits (``family``), the birthday benefit (``birthdays``), the desk search
(``lookup``), check-in (``checkin``), what the member screen shows (``view``), and erasure (``privacy``).

May import ``base``, ``ledger``, ``staff``, ``loyalty`` and ``money`` (a birthday's free item is a sale)."""

"""Staff: accounts and PINs with their throttle (``accounts``), and the one place a role check is decided
(``permissions``).

May import ``base`` and ``ledger``."""

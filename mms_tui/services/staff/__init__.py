"""Staff: accounts and PINs with their throttle (``accounts``), the one place a role check is decided
(``permissions``), and the chain's stores as a tree (``stores``).

May import ``base`` and ``ledger``."""

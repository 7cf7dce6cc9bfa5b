"""Staff and stores: accounts and PINs with their throttle, the login bound to the desk's store and a reset PIN
replaced by its owner (``accounts``), the back office's staff administration — add, edit, disable, reset PIN,
performers with their level and services (``admin``) — the one place a role check is decided (``permissions``),
and the chain's stores as a tree (``stores``).

May import ``base`` and ``ledger``."""

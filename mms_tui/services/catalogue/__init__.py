"""The catalogue a manager keeps: products and services (``items``).

May import ``base``, ``ledger`` and ``staff``."""

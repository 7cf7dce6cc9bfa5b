"""The catalogue a manager keeps: products and services (``items``), card types (``card_types``).

May import ``base``, ``ledger`` and ``staff``."""

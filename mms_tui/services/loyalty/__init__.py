"""Loyalty as data: the rules document (``rules``), pricing as a pure function of it (``pricing``), points,
tiers, coupons and the members' segments.

May import ``base``, ``ledger`` and ``staff``."""

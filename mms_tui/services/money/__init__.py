"""Money at the counter: checkout, top-up, refund, the receipt, and shifts (交班: the drawer against the
ledger).

May import ``base``, ``ledger``, ``staff`` and ``loyalty``."""

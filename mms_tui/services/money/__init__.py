"""Money at the counter: the checkout (``checkout``) with what it reads — items (``items``), the member as a bill
sees them (``holder``), fees (``fees``) — and how tenders pay a bill (``payment``); top-up (``topup``), refund
(``refund``), the receipt (``receipt``), and shifts (``shifts``, 交班: the drawer against the ledger).

May import ``base``, ``ledger``, ``staff`` and ``loyalty``."""

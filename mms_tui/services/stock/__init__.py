"""进销存: stock per product and store on a ledger of its own.

``levels`` is the one way stock moves: movements with the costing rule (moving average in whole fen) and the cached
on hand and value, in the operation's transaction; ``sales`` takes stock out for checkouts, gifts and services that
consume products, and puts it back on refunds; ``receiving`` keeps suppliers and takes goods in (and back to a
supplier); ``transfers`` sends goods between stores; ``counts`` is the stock-take; ``settings`` holds thresholds,
the negative-stock policy and what services consume.

May import ``base``, ``ledger``, ``staff`` and ``catalogue``."""

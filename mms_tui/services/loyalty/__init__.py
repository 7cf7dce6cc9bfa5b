"""Loyalty as data: the rules document a manager edits, the pure functions that evaluate it, and the services
that keep points, tiers and coupons by it.

The rules document:

- ``rules``: its model (frozen dataclasses, the choices each setting allows, today's defaults)
- ``rules_reader``: a plain document (from TOML or JSON) read into the model, every problem named by its place
- ``rules_files``: the model written back as plain values, as TOML or JSON text, and rules files
- ``rules_store``: the rules in force, kept in the database: loaded, checked against what they name, saved

Evaluated without a database or a clock, on facts the caller gathers:

- ``pricing``: the facts in (member, cart lines, coupons), and a cart priced: member prices, promotions, stacking
- ``earning``: the points a sale earns (the earning tenders, the best points day), and when points expire
- ``spending``: which part of stored value a payment takes, and what points may pay of a bill
- ``topup_bonus``: the bonus (充1000送200) and the tier a top-up reaches
- ``birthday_benefit``: the birthday window and what a member gets in it
- ``fees_due``: the joining, annual and late fees a member owes
- ``dates``: the day of a time, and months added to a day

On the database:

- ``points``: points expiry (first in, first out) and gifts from the points catalogue
- ``tiers``: tier upgrades as members qualify, and the review for keep or downgrade
- ``coupons``: coupons issued by hand, by rule and in bulk
- ``redeem``: coupons at the till: checked, offered, used at most once
- ``segments``: the members' RFM segments (a pure function of what a member did)

May import ``base``, ``ledger`` and ``staff``."""

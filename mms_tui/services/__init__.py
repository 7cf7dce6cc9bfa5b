"""Every business rule of mms, grouped by domain. Plain Python in, dataclasses out, domain errors raised; no
Textual (tests/test_hygiene.py proves it) and no knowledge of screens or commands.

Packages, and what each may import besides ``mms_tui.models``, ``mms_tui.db``, ``mms_tui.i18n`` and
``mms_tui.clock`` (tests/test_hygiene.py holds the arrows; see ARCHITECTURE.md):

=========  ==========================================================  =========================================
package    what lives there                                            may import
=========  ==========================================================  =========================================
base       errors, written-out SQL, settings kept in the database,     nothing of services
           resolving what an operation names, text and money
           formats, the one atomic file writer
ledger     the one write path (run_operation, post, audit), tenders,   base
           the hash chains and mms check
staff      accounts, PINs and their throttle, permissions, staff       base, ledger
           administration, the stores as a tree
catalogue  products and services kept by a manager                     base, ledger, staff
loyalty    the rules document, pricing, points, tiers, coupons,        base, ledger, staff
           segments
messages   the outbox, templates and their sandbox, campaigns, the     base, ledger, staff, loyalty
           sending worker and its channels (SMTP, SMS providers,
           WeChat)
payments   payment codes charged through WeChat Pay and Alipay,      base, ledger, staff
           exactly once; refunds through them
money      checkout, top-up, refund, receipts, shifts (交班)            base, ledger, staff, loyalty, messages,
                                                                       payments
members    register and edit, cards, passes, family, birthdays,        base, ledger, staff, loyalty, money
           lookup, check-in, the member's view, erasure
bookings   appointments with staff and rooms, the day view, group      base, ledger, staff, catalogue, loyalty,
           classes and their waitlists                                 money, members
reports    the reports, and the day at a store                         base, ledger, staff, loyalty, money,
                                                                       members, bookings
exchange   import, export, spreadsheets, barcodes and card sheets      everything above
ops        set-up, backup, the demo, the desk served to a browser      everything
=========  ==========================================================  =========================================
"""

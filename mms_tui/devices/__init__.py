"""Card readers, barcode scanners and receipt printers. Pure frame parsers plus a reader thread with a callback.

Knows nothing about members or Textual: the app turns callbacks into messages.
"""

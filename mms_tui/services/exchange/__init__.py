"""Data in and out: imports from spreadsheets, exports, the sheet readers, field names, barcodes and card
sheets.

May import every domain package but ``ops``."""

"""Data in and out: imports from spreadsheets, exports, the sheet readers, field names, barcodes and card
sheets.

* ``fields``: the columns of member and product files, and which column of a file holds each field
* ``sheets``: CSV and XLSX read as a header row and a stream of rows
* ``sheet_limits``: how much a file from outside may hold, and the workbook check before openpyxl parses it
* ``importing``: ``mms import`` (``import_file``), all or nothing
* ``import_cells``: one cell cleaned: a phone, a card number, money, a count, a date, a tier …
* ``import_members``: member rows validated, matched to what is known, and written with opening balances
* ``import_pipeline``: a big first load planned in a forked reader beside the writer
* ``import_products``: catalogue rows, products and services
* ``import_report``: what an import reports: bad rows (``ImportRejected``) and counts
* ``export``: ``mms export`` of a table (``export_table``), and personal data recorded as it leaves
* ``export_rows``: what each export yields, streamed by keyset pages
* ``export_formats``: the CSV, JSON lines, JSON and XLSX writers, and the target written whole
* ``member_document``: one member's data, for a data-access request
* ``barcode_symbols``: check digits and Code 128/EAN patterns, pure
* ``barcode_labels``: which cards and products to print, from the database
* ``barcode_render``: label files and A4 sheets drawn as SVG or PNG

May import every domain package but ``ops``."""

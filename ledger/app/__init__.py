"""The application: the use cases over the domain (`application.LedgerApplication`), the input models every
command and import line is validated by (`inputs`), bulk import, export of the log, history, and
the evidence (keys, signatures, receipts, the audit)."""

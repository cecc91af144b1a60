"""Read models: SQLAlchemy tables rebuilt from the ledger's events, and the queries over them."""

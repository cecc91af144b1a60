"""Read models: plain SQL tables in the ledger's own database, built from its events by the
projector (catch-up and replay), and the queries over them."""

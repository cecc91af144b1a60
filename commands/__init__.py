"""The `ledger` command line (click): thin commands over the application and the read models."""

"""The incident ledger: domain, rules and application (no click, no SQLAlchemy here)."""

__version__ = "0.1.0"

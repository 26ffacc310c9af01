"""Adapters: the only code that talks to AWS, the registry or the ledger table."""

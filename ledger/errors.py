"""The ledger's one error: a posting or a write the ledger refuses."""

from core.errors import DomainError


class LedgerError(DomainError):
    """A posting that does not balance, a key reused for a different posting, or an attempt
    to change or delete a ledger row (corrections are new transactions)."""

    code = "ledger"

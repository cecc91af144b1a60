"""The one exception tree of the ledger.

The CLI maps `Refused` (and every other `LedgerError`) to `Error: ...` and exit 1, and
`InvalidInput` to exit 2. Library exceptions are translated where they are caught.
"""


class LedgerError(Exception):
    """Base of every error the ledger reports to its user."""

    exit_code = 1


class Refused(LedgerError):
    """A well-formed request the ledger will not carry out."""


class NotFound(Refused):
    """A case, entity, source or incident that is not in the ledger."""


class AlreadyExists(Refused):
    """The id is taken by something recorded with other data."""


class InvalidTransition(Refused):
    """A case status change the rules do not allow."""


class CaseClosed(Refused):
    """Recording on a closed case."""


class NoDatabase(Refused):
    """A read of a ledger that does not exist."""


class VerificationFailed(Refused):
    """The hash chain does not hold."""


class InvalidInput(LedgerError, ValueError):
    """Input that is malformed: bad id, date, country, currency, field...

    A ValueError too, so that pydantic validators can raise it and keep its message.
    """

    exit_code = 2


class ImportRejected(InvalidInput):
    """An import file with bad lines; nothing of it was written."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        super().__init__(f"{len(problems)} bad line(s); nothing was imported")


class LogChanged(VerificationFailed):
    """The log no longer holds what the read models were built from, or a link of the chain it
    shows does not hold: refused, never shown (`ledger verify` says where)."""


class NoReadModels(LedgerError):
    """There are no read models of this layout here (yet), or this session does not read the
    stored ones. Met inside: a read or a write builds them then (`projections.readmodels`); it
    reaches a user only when another process swapped them away under a command, which then fails
    with exit 1 and may be run again."""


class ReadModelsDamaged(Refused):
    """Reading the read models failed in a way no ledger the projector built could: they were
    edited or damaged (`ledger verify --deep` says where; `ledger replay --force` rebuilds them)."""


class Unprojectable(LogChanged):
    """An event whose chain link holds but which no projection can read: stored by hand, as no
    write of the ledger stores it."""

    def __init__(self, position: int, topic: str, cause: Exception):
        self.position, self.cause = position, cause
        super().__init__(f"the event at position {position} ({topic.rsplit(':', maxsplit=1)[-1]}) holds what no "
                         f"write of the ledger stores ({type(cause).__name__}: {cause}), so no read model can show it; "
                         "run ledger verify --deep")

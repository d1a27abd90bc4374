"""Domain errors: exceptions whose message is safe and useful to show to the user."""


class DomainError(Exception):
    """A rule of the platform was broken; `message` is shown to the user as is."""

    # A stable, machine-readable name for API clients; subclasses set their own.
    code = "invalid"

    def __init__(self, message, *, field=None, code=None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class TransitionError(DomainError):
    """A status change that the lifecycle table does not allow."""

    code = "invalid_state"


class NotPermitted(DomainError):
    """The acting member may not do this (views turn it into a 404 to hide existence)."""

    code = "not_found"

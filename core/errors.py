"""Domain errors: exceptions whose message is safe and useful to show to the user."""


class DomainError(Exception):
    """A rule of the platform was broken; `message` is shown to the user as is."""

    def __init__(self, message, *, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


class TransitionError(DomainError):
    """A status change that the lifecycle table does not allow."""


class NotPermitted(DomainError):
    """The acting member may not do this (views turn it into a 404 to hide existence)."""

"""The registry of webhook handlers: other apps subscribe to Stripe event types here.

payments never imports the apps that react to events. An app registers its handlers when
Django starts, from its AppConfig.ready():

    # pledges/apps.py
    def ready(self):
        from pledges import webhook_handlers  # noqa: F401  (registers on import)

    # pledges/webhook_handlers.py
    from payments.webhooks import register

    @register("setup_intent.succeeded")
    def activate_pledge(event):  # event: payments.gateway.WebhookEvent
        ...

A handler runs inside the database transaction that marks the event processed, with the
event row locked: its writes commit together with `processed_at`, or not at all. So it must
be quick, touch only the database (enqueue network work with transaction.on_commit) and be
idempotent, because an admin may force a reprocess. Raising an exception rolls its writes
back, records the error on the event and lets the task retry with backoff.
"""

from collections.abc import Callable

from payments.gateway import WebhookEvent

Handler = Callable[[WebhookEvent], None]

# event type -> {handler's dotted name: handler}; keyed by name so that registering the same
# function twice (a module imported twice, ready() run twice in tests) keeps one entry.
_handlers: dict[str, dict[str, Handler]] = {}


def _name(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def register(event_type: str, *more_types: str) -> Callable[[Handler], Handler]:
    """Decorator: run the function for every event of these types, in registration order."""

    def decorator(handler: Handler) -> Handler:
        for each in (event_type, *more_types):
            _handlers.setdefault(each, {})[_name(handler)] = handler
        return handler

    return decorator


def unregister(event_type: str, handler: Handler) -> None:
    _handlers.get(event_type, {}).pop(_name(handler), None)


def handlers_for(event_type: str) -> tuple[Handler, ...]:
    return tuple(_handlers.get(event_type, {}).values())


def registered_types() -> list[str]:
    return sorted(event_type for event_type, handlers in _handlers.items() if handlers)

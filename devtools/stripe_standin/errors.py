"""Stripe's error bodies: `{"error": {"type", "code", "decline_code", "param", "message"}}`.

Every refusal in the stand-in is a `StripeError` raised by the model and turned into Stripe's
HTTP status and body by the dispatcher (`api.py`), the same for both doors.
"""

from __future__ import annotations


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        decline_code: str | None = None,
        param: str | None = None,
        extra: dict | None = None,
        stored: bool = True,
    ):
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.decline_code = decline_code
        self.param = param
        self.extra = extra or {}
        # Stripe keeps no idempotent result for a request that failed validation before the
        # endpoint started executing: the same key may then be used again.
        self.stored = stored

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        for key in ("code", "decline_code", "param"):
            if getattr(self, key):
                error[key] = getattr(self, key)
        if self.code and self.type != "api_error":
            error["doc_url"] = doc_url(self.code)
        error.update(self.extra)
        return {"error": error}


def doc_url(code: str) -> str:
    """Stripe's documentation page of an error code (the `doc_url` of its error objects)."""
    return f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"


def invalid(message: str, *, param: str | None = None, code: str | None = None, stored=True):
    """HTTP 400: a request Stripe refuses (not worth retrying)."""
    return StripeError(400, "invalid_request_error", message, param=param, code=code, stored=stored)


def missing(kind: str, object_id: str, *, param: str = "id"):
    """resource_missing, with Stripe's wording: 404 for the object in the URL, 400 for an id
    given as a parameter (`customer=cus_…`)."""
    return StripeError(
        404 if param == "id" else 400,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def unknown_parameter(name: str):
    return invalid(
        f"Received unknown parameter: {name}. The Stripe stand-in does not implement it; "
        "add it to devtools/stripe_standin if the platform needs it.",
        param=name,
        code="parameter_unknown",
        stored=False,
    )


def bad_value(name: str, message: str, code: str = "parameter_invalid_string"):
    return invalid(f"{name}: {message}", param=name, code=code, stored=False)


def unexpected_state(kind: str, message: str):
    return invalid(message, code=f"{kind}_unexpected_state")


def card_error(message: str, *, code: str, decline_code: str | None = None, extra=None):
    """HTTP 402 card_error (a decline, or 3-D Secure needed off-session)."""
    return StripeError(
        402, "card_error", message, code=code, decline_code=decline_code, extra=extra
    )

"""The API's error contract: one JSON shape for every /api/ error, and the JSON parser it needs.

Every error is `{"error": {"code": "<stable_code>", "message": "<sentence>", "fields": {…}}}`
(`fields` maps field names to lists of messages, `{}` when the error is not about a field).
`exception_handler` builds it for DRF's exceptions and our DomainErrors (NotPermitted → 404);
`core.middleware.ApiErrorMiddleware` builds it for errors raised before or outside DRF.
"""

from contextlib import contextmanager
from http import HTTPStatus

from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.errors import DomainError, NotPermitted
from core.jsonsafe import strict_loads

# Domain error codes that mean something other than "400: this request breaks a rule".
_STATUS_BY_DOMAIN_CODE = {
    "idempotency_key_reused": status.HTTP_422_UNPROCESSABLE_ENTITY,
    # pledges.throttle: the hourly allowance is spent, or card failures paused pledging.
    "too_many_attempts": status.HTTP_429_TOO_MANY_REQUESTS,
    "pledging_paused": status.HTTP_429_TOO_MANY_REQUESTS,
}

# Codes and sentences for errors Django answers before DRF sees the request (by status).
_STATUS_ERRORS = {
    400: ("bad_request", gettext_lazy("The request could not be understood.")),
    403: ("permission_denied", gettext_lazy("You do not have permission to do this.")),
    404: ("not_found", gettext_lazy("Not found.")),
    405: ("method_not_allowed", gettext_lazy("This method is not allowed here.")),
    413: ("request_too_large", gettext_lazy("The request body is too large.")),
    500: ("server_error", gettext_lazy("Something went wrong on our side. Please try again.")),
}


class JSONParser(parsers.JSONParser):
    """JSON bodies, with every way one can fail to decode a ParseError (400), never a 500.

    Refused: bad syntax, bad UTF-8, NaN/Infinity (which json.loads accepts), numbers that
    overflow a float (1e999 → inf), integers over Python's digit limit (ValueError) and
    nesting deep enough to raise RecursionError in the decoder.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", django_settings.DEFAULT_CHARSET)
        try:
            return strict_loads(stream.read().decode(encoding))
        except (RecursionError, ValueError, UnicodeDecodeError, LookupError):
            # One message: the decoder's own ("Expecting value: line 1 …") helps nobody.
            raise exceptions.ParseError(_("The body is not valid JSON.")) from None


def error_body(code, message, fields=None):
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def error_body_for_status(status_code):
    """The error body for a bare HTTP status (used where no exception is at hand)."""
    if status_code in _STATUS_ERRORS:
        return error_body(*_STATUS_ERRORS[status_code])
    if status_code >= 500:
        return error_body("server_error", _STATUS_ERRORS[500][1])
    try:  # e.g. 429 → "too_many_requests"
        code = HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        code = "bad_request"
    return error_body(code, _("The request could not be handled."))


def exception_handler(exc, context):
    if isinstance(exc, NotPermitted):  # hide existence: the same answer as a missing object
        return Response(error_body("not_found", _("Not found.")), status=404)
    if isinstance(exc, DomainError):
        fields = {exc.field: [str(exc.message)]} if exc.field else {}
        code = exc.code or type(exc).code or DomainError.code
        if getattr(exc, "retryable", False):  # the payment provider is down, not the request
            return Response(error_body(code, exc.message, fields), status=503)
        http_status = _STATUS_BY_DOMAIN_CODE.get(code, status.HTTP_400_BAD_REQUEST)
        return Response(error_body(code, exc.message, fields), status=http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body_for_status(413), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    # Imported here: rest_framework.views reads DEFAULT_PARSER_CLASSES, which names this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)  # status, Retry-After, WWW-Authenticate
    if response is None:
        return None  # unhandled: Django's 500, made JSON by ApiErrorMiddleware
    response.data = _drf_error_body(exc)
    return response


def _drf_error_body(exc):
    if isinstance(exc, exceptions.ValidationError):
        fields, general = {}, []
        for path, message in _flatten(exc.detail):
            (fields.setdefault(path, []) if path else general).append(message)
        if general:
            message = general[0]
        elif len(fields) == 1:
            message = next(iter(fields.values()))[0]
        else:
            message = _("Some fields are not valid.")
        return error_body("invalid", message, fields)
    if isinstance(exc.detail, str):
        return error_body(exc.get_codes() or exc.default_code, exc.detail)
    return error_body(exc.default_code, exc.default_detail)


def _flatten(detail, prefix=""):
    """(field path or "", message) pairs from DRF's nested error detail ("items.0.title")."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            yield from _flatten(value, ".".join(filter(None, (prefix, name))))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                yield from _flatten(value, ".".join(filter(None, (prefix, str(index)))))
            else:
                yield prefix, str(value)
    else:
        yield prefix, str(detail)


@contextmanager
def api_field_names(names):
    """Report a service's DomainError under the API's field name (e.g. amount → amount_minor)."""
    try:
        yield
    except DomainError as error:
        if error.field in names:
            error.field = names[error.field]
        raise

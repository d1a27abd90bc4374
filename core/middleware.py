"""Security headers Django 5.2 does not set by itself: a Content-Security-Policy."""

from urllib.parse import urlsplit

from django.conf import settings


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class ContentSecurityPolicyMiddleware:
    """Scripts and frames only from ourselves and Stripe.js; no plugins; no framing of us."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._cached = (None, "")

    def policy(self):
        # Built from settings on use (cached per value) so test overrides of STRIPE_* apply.
        key = (
            settings.STRIPE_JS_URL,
            settings.STRIPE_API_BASE,
            tuple(settings.CONTENT_SECURITY_POLICY_EXTRA_ORIGINS),
        )
        if self._cached[0] != key:
            self._cached = (key, build_policy(*key))
        return self._cached[1]

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", self.policy())
        return response


# Stripe's hosted Connect onboarding: the "Set up payouts" form redirects there, and browsers
# apply form-action to a form's redirects too.
STRIPE_CONNECT_ORIGIN = "https://connect.stripe.com"


def build_policy(stripe_js_url, stripe_api_base, extra_origins):
    stripe = " ".join(sorted(filter(None, {_origin(stripe_js_url), _origin(stripe_api_base)})))
    extra = " ".join(extra_origins)
    # The stand-in serves its hosted onboarding page from the API's origin.
    forms = " ".join(sorted(filter(None, {STRIPE_CONNECT_ORIGIN, _origin(stripe_api_base)})))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {stripe} {extra}".strip(),
            f"frame-src 'self' {stripe} {extra}".strip(),
            f"connect-src 'self' {stripe} {extra}".strip(),
            # Inline style attributes are allowed (progress bars); inline script is not.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action 'self' {forms}",
            "frame-ancestors 'none'",
        ]
    )


class DomainErrorMiddleware:
    """The web's one mapping of domain errors: NotPermitted → 404, DomainError → message.

    Views catch DomainError themselves where they can show it next to a form field; anything
    that escapes becomes a flash message and a redirect back to the page the user came from.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.contrib import messages
        from django.http import Http404, HttpResponseRedirect
        from django.utils.http import url_has_allowed_host_and_scheme

        from core.errors import DomainError, NotPermitted

        if isinstance(exception, NotPermitted):
            raise Http404(str(exception))
        if isinstance(exception, DomainError) and not request.path.startswith("/api/"):
            messages.error(request, exception.message)
            back = request.META.get("HTTP_REFERER", "/")
            if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
                back = "/"
            return HttpResponseRedirect(back)
        return None


class ApiErrorMiddleware:
    """Errors under /api/ are the API's JSON error shape, also when no DRF view answered.

    Unknown URLs (404), Django's 400 for a suspicious request (bad Host header), an oversized
    body and unhandled exceptions (500) are answered by Django's handlers as HTML pages; this
    middleware (first in MIDDLEWARE, so it sees every response) swaps their body for JSON.
    Django still logs the error and sends `got_request_exception` as usual. A body over
    DATA_UPLOAD_MAX_MEMORY_SIZE is refused here (413) before anything reads it.
    """

    PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not (request.path_info + "/").startswith(self.PREFIX):
            return self.get_response(request)
        if self._declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Refused before sessions, auth or a parser touch it (Django would say 400 later).
            response = self._json_error(413)
            response["X-Content-Type-Options"] = "nosniff"
            return response
        response = self.get_response(request)
        if response.status_code < 400 or self._is_json(response):
            return response
        replacement = self._json_error(response.status_code)
        for name, value in response.items():  # Allow, Retry-After, security headers, …
            if name.lower() not in {"content-type", "content-length"}:
                replacement[name] = value
        replacement.cookies = response.cookies
        # Django logs (and mails ADMINS) an error response once, unless it says it has been.
        replacement._has_been_logged = getattr(response, "_has_been_logged", False)
        return replacement

    @staticmethod
    def _declared_length(request):
        try:
            return int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 0

    @staticmethod
    def _is_json(response):
        return response.get("Content-Type", "").split(";")[0].strip() == "application/json"

    @staticmethod
    def _json_error(status_code):
        from django.http import JsonResponse

        from core.api import error_body_for_status

        return JsonResponse(error_body_for_status(status_code), status=status_code)

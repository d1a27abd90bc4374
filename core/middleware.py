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
        stripe = " ".join(
            filter(None, {_origin(settings.STRIPE_JS_URL), _origin(settings.STRIPE_API_BASE)})
        )
        extra = " ".join(settings.CONTENT_SECURITY_POLICY_EXTRA_ORIGINS)
        self.policy = "; ".join(
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
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response

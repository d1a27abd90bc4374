"""Facts about the HTTP request that need configuration to be trusted (the client's address)."""

from django.conf import settings


def client_ip(request):
    """The client's IP address, seen through TRUSTED_PROXY_COUNT reverse proxies.

    Behind N trusted proxies the client is the N-th address from the right of
    X-Forwarded-For (anything further left was written by the client and can be forged).
    Without proxies (TRUSTED_PROXY_COUNT=0) it is REMOTE_ADDR.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")

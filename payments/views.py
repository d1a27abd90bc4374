"""The Stripe webhook endpoint: verify, store once, answer at once; processing is a task."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import services
from payments.gateway import InvalidWebhook, get_gateway


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request):
    try:
        event = get_gateway().verify_webhook(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except InvalidWebhook as exc:
        return JsonResponse({"error": exc.message}, status=400)
    services.record_webhook_event(event)
    return JsonResponse({"received": True})

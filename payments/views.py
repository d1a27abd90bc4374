"""The Stripe webhook endpoints: verify, store once, answer at once; processing is a task.

Two endpoints, each with its own signing secret: the platform's events at
/payments/stripe/webhook/ and connected accounts' (Connect) events at
/payments/stripe/connect-webhook/. Both store into the one event store and run the same
handlers; a Connect event says which account it happened on (`WebhookEvent.account`).
Anything that is not a correctly signed, well-formed event is a 400 with a JSON body.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import services
from payments.gateway import InvalidWebhook, get_gateway


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request):
    return _receive(request, connect=False)


@csrf_exempt  # as above
@require_POST
def stripe_connect_webhook(request):
    return _receive(request, connect=True)


def _receive(request, *, connect):
    try:
        body = request.body
    except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE; Stripe's events are far smaller
        return JsonResponse({"error": "The body is too large."}, status=400)
    try:
        event = get_gateway().verify_webhook(
            body, request.headers.get("Stripe-Signature", ""), connect=connect
        )
    except InvalidWebhook as exc:
        return JsonResponse({"error": exc.message}, status=400)
    services.record_webhook_event(event)
    return JsonResponse({"received": True})

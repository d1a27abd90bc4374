"""The Stripe webhook endpoint: verify, store once, answer at once; processing is a task.

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
    try:
        body = request.body
    except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE; Stripe's events are far smaller
        return JsonResponse({"error": "The body is too large."}, status=400)
    try:
        event = get_gateway().verify_webhook(body, request.headers.get("Stripe-Signature", ""))
    except InvalidWebhook as exc:
        return JsonResponse({"error": exc.message}, status=400)
    services.record_webhook_event(event)
    return JsonResponse({"received": True})

"""Stripe answers localstripe never gives, served over real HTTP from canned bodies.

The bodies follow Stripe's documented shapes (off-session 3-D Secure as an
`authentication_required` card error, ids instead of embedded objects, 429/5xx errors). The
contract suite checks the same outcomes against real Stripe when test keys are present.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments.gateway import ChargeStatus, PaymentDeclined, PaymentProviderError
from payments.stripe_gateway import StripeGateway

PI = "pi_3StripeShape0001"
CH = "ch_3StripeShape0001"
AUTHENTICATION_REQUIRED = {
    "charge": CH,
    "code": "authentication_required",
    "decline_code": "authentication_required",
    "message": "Your card was declined. This transaction requires authentication.",
    "type": "card_error",
    "payment_intent": {
        "id": PI,
        "object": "payment_intent",
        "client_secret": f"{PI}_secret_abc",
        "status": "requires_payment_method",
        "latest_charge": CH,
        "last_payment_error": {"code": "authentication_required", "type": "card_error"},
    },
}
INSUFFICIENT_FUNDS = {
    "charge": CH,
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card has insufficient funds.",
    "type": "card_error",
    "payment_intent": {"id": PI, "object": "payment_intent", "status": "requires_payment_method"},
}


class CannedStripe(BaseHTTPRequestHandler):
    routes: dict = {}
    requests: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.requests.append((self.command, self.path, body, dict(self.headers)))
        status, payload = self.routes.get((self.command, self.path.split("?")[0]), (404, {}))
        encoded = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def canned_stripe():
    CannedStripe.routes, CannedStripe.requests = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedStripe)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield (
        CannedStripe,
        StripeGateway(
            secret_key="sk_test_canned",
            api_base=f"http://127.0.0.1:{server.server_address[1]}",
            webhook_secret="whsec_canned",
            max_network_retries=0,
        ),
    )
    server.shutdown()
    server.server_close()


def charge(gateway):
    return gateway.charge_saved_card(
        "cus_1", "pm_1", 1250, "EUR", "pledge-7-attempt-1", {"pledge_id": 7}
    )


def test_authentication_required_card_error_means_requires_action(canned_stripe):
    stripe_server, gateway = canned_stripe
    stripe_server.routes[("POST", "/v1/payment_intents")] = (
        402,
        {"error": AUTHENTICATION_REQUIRED},
    )
    result = charge(gateway)
    assert result.status == ChargeStatus.REQUIRES_ACTION
    assert (result.id, result.charge_id) == (PI, CH)
    assert result.client_secret == f"{PI}_secret_abc"


def test_the_request_is_an_off_session_confirmed_intent_with_our_idempotency_key(canned_stripe):
    stripe_server, gateway = canned_stripe
    stripe_server.routes[("POST", "/v1/payment_intents")] = (
        200,
        {"id": PI, "object": "payment_intent", "status": "succeeded", "latest_charge": CH},
    )
    result = charge(gateway)
    assert (result.status, result.charge_id) == (ChargeStatus.SUCCEEDED, CH)
    ((method, path, body, headers),) = stripe_server.requests
    assert headers["Idempotency-Key"] == "pledge-7-attempt-1"
    sent = dict(pair.split("=", 1) for pair in body.split("&"))
    assert sent["off_session"] == "true" and sent["confirm"] == "true"
    assert sent["currency"] == "eur" and sent["amount"] == "1250"
    assert sent["metadata[pledge_id]"] == "7"
    refused_by_localstripe = {"description", "automatic_payment_methods", "transfer_group"}
    assert not {key.split("[")[0] for key in sent} & refused_by_localstripe


def test_a_retrieved_intent_that_needs_authentication_is_requires_action(canned_stripe):
    stripe_server, gateway = canned_stripe
    stripe_server.routes[("GET", f"/v1/payment_intents/{PI}")] = (
        200,
        AUTHENTICATION_REQUIRED["payment_intent"],
    )
    result = gateway.retrieve_payment(PI)
    assert result.status == ChargeStatus.REQUIRES_ACTION and result.client_secret


def test_a_decline_carries_the_issuers_decline_code(canned_stripe):
    stripe_server, gateway = canned_stripe
    stripe_server.routes[("POST", "/v1/payment_intents")] = (402, {"error": INSUFFICIENT_FUNDS})
    result = charge(gateway)
    assert (result.status, result.decline_code) == (ChargeStatus.FAILED, "insufficient_funds")
    assert (result.id, result.charge_id) == (PI, CH)
    assert len(stripe_server.requests) == 1, "Stripe names the PaymentIntent: no extra lookup"


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (400, False)])
def test_provider_errors_say_whether_a_retry_may_help(canned_stripe, status, retryable):
    stripe_server, gateway = canned_stripe
    stripe_server.routes[("POST", "/v1/refunds")] = (
        status,
        {"error": {"type": "api_error", "message": "Something went wrong."}},
    )
    with pytest.raises(PaymentProviderError) as failure:
        gateway.refund(PI, 100, "refund-1")
    assert failure.value.retryable is retryable
    assert str(status) in failure.value.detail


def test_a_card_declined_when_saving_is_payment_declined(canned_stripe):
    stripe_server, gateway = canned_stripe
    stripe_server.routes[("GET", "/v1/payment_methods/pm_1")] = (
        200,
        {"id": "pm_1", "object": "payment_method", "customer": None},
    )
    stripe_server.routes[("POST", "/v1/payment_methods/pm_1/attach")] = (
        402,
        {"error": {**INSUFFICIENT_FUNDS, "payment_intent": None}},
    )
    with pytest.raises(PaymentDeclined) as declined:
        gateway.attach_payment_method("pm_1", "cus_1")
    assert declined.value.decline_code == "insufficient_funds"

"""get_gateway() and the boundary rules: settings-driven clients, only payments imports stripe."""

import re
from pathlib import Path

import pytest

from devtools.stripe_standin.process import free_port
from payments.gateway import PaymentGateway, PaymentProviderError, get_gateway
from payments.stripe_gateway import StripeGateway

BASE_DIR = Path(__file__).resolve().parents[2]
IMPORTS_STRIPE = re.compile(r"^\s*(import stripe\b|from stripe\b)", re.MULTILINE)


def test_get_gateway_follows_the_settings(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:1"
    first = get_gateway()
    assert isinstance(first, PaymentGateway) and get_gateway() is first
    settings.STRIPE_API_BASE = "http://127.0.0.1:2"
    assert get_gateway() is not first


def test_an_unreachable_provider_is_a_retryable_provider_error():
    gateway = StripeGateway(
        secret_key="sk_test_x",
        api_base=f"http://127.0.0.1:{free_port()}",
        webhook_secret="whsec_x",
        max_network_retries=0,
    )
    with pytest.raises(PaymentProviderError) as failure:
        gateway.create_customer(email="a@example.org", name="A", member_id=1)
    assert failure.value.retryable
    assert "try again" in failure.value.message


def app_python_files():
    # devtools (the Stripe stand-in) is test and demo tooling above every app, like tests/.
    skipped = {"payments", "tests", "bench", "var", "node_modules", "test-artifacts", "static"}
    skipped |= {"devtools"}
    for top in BASE_DIR.iterdir():
        if top.is_dir() and not top.name.startswith(".") and top.name not in skipped:
            yield from top.rglob("*.py")


def test_only_the_payments_app_imports_stripe():
    offenders = [
        str(path.relative_to(BASE_DIR))
        for path in app_python_files()
        if IMPORTS_STRIPE.search(path.read_text(errors="replace"))
    ]
    assert offenders == []
    assert IMPORTS_STRIPE.search((BASE_DIR / "payments" / "stripe_gateway.py").read_text())
    assert not IMPORTS_STRIPE.search((BASE_DIR / "payments" / "gateway.py").read_text())


IMPORTS_DEVTOOLS = re.compile(r"^\s*(import devtools\b|from devtools\b)", re.MULTILINE)


def test_no_app_and_no_setting_imports_the_stripe_standin():
    """The stand-in is test and demo tooling: production code never loads it."""
    offenders = [
        str(path.relative_to(BASE_DIR))
        for path in [*app_python_files(), *(BASE_DIR / "payments").rglob("*.py")]
        if IMPORTS_DEVTOOLS.search(path.read_text(errors="replace"))
    ]
    assert offenders == []

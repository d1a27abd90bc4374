"""A payment provider outage while a pledge starts leaves no half-made pledge (FakeGateway)."""

import pytest

from core.errors import DomainError
from devtools.stripe_standin.inprocess import FakeGateway
from payments.gateway import PaymentProviderError
from payments.models import StripeCustomer
from payments.services import ensure_customer
from pledges import services
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db

Status = Pledge.Status


def start(campaign, supporter, gateway, idempotency_key):
    return services.start_pledge(
        campaign,
        supporter=supporter,
        amount_minor=1_000,
        idempotency_key=idempotency_key,
        ip="10.0.0.9",
        gateway=gateway,
    )


@pytest.mark.parametrize("failing_call", ["create_customer", "create_setup_intent"])
def test_a_provider_outage_cancels_the_pledge_and_a_new_attempt_succeeds(failing_call):
    campaign, supporter, gateway = CampaignFactory(live=True), MemberFactory(), FakeGateway()
    if failing_call == "create_setup_intent":  # a returning member: only the SetupIntent fails
        ensure_customer(supporter, gateway=gateway)
    gateway.fail_next = 1

    with pytest.raises(PaymentProviderError) as outage:
        start(campaign, supporter, gateway, "attempt-1")
    # A DomainError: the pledge form shows its member-safe message, not the provider's detail.
    assert isinstance(outage.value, DomainError) and outage.value.retryable
    assert outage.value.message == PaymentProviderError().message
    failed = Pledge.objects.get(campaign=campaign, supporter=supporter)
    assert failed.status == Status.CANCELLED
    assert failed.setup_intent_id == "" and gateway.setup_intents == {}

    retried = start(campaign, supporter, gateway, "attempt-2")
    assert retried.pk != failed.pk
    assert retried.status == Status.PENDING and retried.client_secret
    gateway.confirm_setup_intent(retried.setup_intent_id)
    active = services.confirm_card(retried, by=supporter, gateway=gateway)
    assert active.status == Status.ACTIVE and active.payment_method_id.startswith("pm_")

    statuses = Pledge.objects.filter(campaign=campaign, supporter=supporter).values_list(
        "status", flat=True
    )
    assert sorted(statuses) == [Status.ACTIVE, Status.CANCELLED]
    assert StripeCustomer.objects.filter(member=supporter).count() == 1
    assert len(gateway.customers) == 1


def test_retrying_the_same_form_after_an_outage_starts_afresh_and_blocks_nobody():
    from pledges.models import PledgeFailure

    campaign, supporter, gateway = CampaignFactory(live=True), MemberFactory(), FakeGateway()
    for _ in range(6):  # more outages than the card-testing limit allows failures
        gateway.fail_next = 1
        with pytest.raises(PaymentProviderError):
            start(campaign, supporter, gateway, "same-form")
    assert not PledgeFailure.objects.exists()

    # The resubmitted form carries the same idempotency key: it must not dead-end.
    retried = start(campaign, supporter, gateway, "same-form")
    assert retried.status == Status.PENDING and retried.client_secret
    assert start(campaign, supporter, gateway, "same-form").pk == retried.pk

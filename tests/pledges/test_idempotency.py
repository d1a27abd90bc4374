"""Idempotency keys on starting a pledge: a replay returns the stored pledge, other terms are
refused (Stripe's rule), and the web form's per-render key behaves for people."""

import uuid

import pytest
from django.urls import reverse

from pledges import services, throttle
from pledges.models import Pledge
from tests.factories import CampaignFactory, RewardTierFactory

pytestmark = pytest.mark.django_db


def start(campaign, supporter, gateway, key="key-1", **terms):
    values = {"amount_minor": 2_000, "reward": None, "public_name": "", "message": ""}
    values.update(terms)
    return services.start_pledge(
        campaign, supporter=supporter, idempotency_key=key, ip="10.0.0.5", gateway=gateway, **values
    )


def test_a_replay_returns_the_stored_pledge_and_says_so(fake_gateway, campaign, supporter):
    first = start(campaign, supporter, fake_gateway, public_name=" Sam ", message="Go!")
    assert first.replayed is False
    again = start(campaign, supporter, fake_gateway, public_name="Sam", message="Go! ")
    assert again.pk == first.pk and again.replayed is True
    assert again.client_secret == first.client_secret
    assert Pledge.objects.count() == 1 and len(fake_gateway.setup_intents) == 1


@pytest.mark.parametrize(
    "changed",
    ["amount_minor", "reward", "campaign", "public_name", "anonymous", "message"],
)
def test_the_same_key_with_other_terms_is_refused(fake_gateway, campaign, supporter, changed):
    reward = RewardTierFactory(campaign=campaign, minimum_minor=1_000)
    original = {"amount_minor": 2_000, "reward": reward, "public_name": "Sam", "message": "Hi"}
    first = start(campaign, supporter, fake_gateway, **original)
    other_campaign = campaign
    terms = dict(original, anonymous=False)
    if changed == "campaign":
        other_campaign = CampaignFactory(live=True)
        terms["reward"] = None
    elif changed == "reward":
        terms["reward"] = RewardTierFactory(campaign=campaign, minimum_minor=500)
    elif changed == "anonymous":
        terms["anonymous"] = True
    else:
        terms[changed] = 2_500 if changed == "amount_minor" else "something else"

    with pytest.raises(services.IdempotencyKeyReused) as refused:
        start(other_campaign, supporter, fake_gateway, **terms)
    assert refused.value.code == "idempotency_key_reused"
    assert "other terms" in refused.value.message
    assert Pledge.objects.count() == 1
    kept = Pledge.objects.get()
    assert (kept.pk, kept.amount_minor, kept.reward, kept.status) == (
        first.pk,
        2_000,
        reward,
        Pledge.Status.PENDING,
    )


def test_other_members_may_use_the_same_key(fake_gateway, campaign, supporter):
    from tests.factories import MemberFactory

    mine = start(campaign, supporter, fake_gateway, key="shared")
    theirs = start(campaign, MemberFactory(), fake_gateway, key="shared", amount_minor=3_000)
    assert mine.pk != theirs.pk and theirs.replayed is False


def test_a_key_whose_attempt_failed_at_the_provider_starts_afresh_with_any_terms(
    fake_gateway, campaign, supporter
):
    from payments.gateway import PaymentProviderError

    fake_gateway.fail_next = 1
    with pytest.raises(PaymentProviderError):
        start(campaign, supporter, fake_gateway, amount_minor=2_000)
    retried = start(campaign, supporter, fake_gateway, amount_minor=2_500)
    assert retried.replayed is False and retried.amount_minor == 2_500
    assert start(campaign, supporter, fake_gateway, amount_minor=2_500).pk == retried.pk


@pytest.mark.parametrize("same_terms", [True, False])
def test_a_double_submit_that_races_past_the_lookup_is_judged_the_same_way(
    fake_gateway, campaign, supporter, monkeypatch, same_terms
):
    """The other request commits its pledge between our lookup and our insert."""
    real_check = throttle.check
    winner = {}

    def the_other_request_wins(*, member, ip):
        real_check(member=member, ip=ip)
        if not winner:
            winner["pledge"] = Pledge.objects.create(
                campaign=CampaignFactory(live=True),  # not replaced as a stale attempt
                supporter=supporter,
                amount_minor=2_000,
                currency="EUR",
                idempotency_key="raced",
                idempotency_fingerprint=services.pledge_fingerprint(
                    campaign,
                    reward=None,
                    amount_minor=2_000 if same_terms else 9_000,
                    public_name="",
                    anonymous=False,
                    message="",
                ),
            )

    monkeypatch.setattr(throttle, "check", the_other_request_wins)
    if same_terms:
        answer = start(campaign, supporter, fake_gateway, key="raced")
        assert answer.pk == winner["pledge"].pk and answer.replayed is True
    else:
        with pytest.raises(services.IdempotencyKeyReused):
            start(campaign, supporter, fake_gateway, key="raced")
    assert Pledge.objects.filter(idempotency_key="raced").count() == 1


# --- the web form's hidden per-render key ----------------------------------------------------
def form_data(key, **overrides):
    data = {"reward": "", "amount": "20", "public_name": "", "message": "", "idempotency_key": key}
    data.update(overrides)
    return data


def test_a_double_submitted_form_lands_on_the_same_pledge(fake_gateway, client, supporter):
    campaign = CampaignFactory(live=True)
    client.force_login(supporter)
    url = reverse("pledges:new", args=[campaign.slug])
    data = form_data(uuid.uuid4().hex)
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Pledge.objects.count() == 1


def test_a_changed_resubmit_of_the_same_form_gets_a_form_error_then_goes_through(
    fake_gateway, client, supporter
):
    campaign = CampaignFactory(live=True)
    client.force_login(supporter)
    url = reverse("pledges:new", args=[campaign.slug])
    key = uuid.uuid4().hex
    client.post(url, form_data(key, amount="20"))  # then Back, a new amount, the same form

    response = client.post(url, form_data(key, amount="35"))
    assert response.status_code == 200
    form = response.context["form"]
    assert "already sent with other details" in " ".join(form.non_field_errors())
    assert Pledge.objects.get().amount_minor == 2_000  # nothing changed
    new_key = form["idempotency_key"].value()
    assert new_key and new_key != key
    assert f'value="{new_key}"' in response.content.decode()
    assert form["amount"].value() == "35"  # what they typed is kept

    sent_again = client.post(url, form_data(new_key, amount="35"))
    assert sent_again.status_code == 302
    current = Pledge.objects.get(status=Pledge.Status.PENDING)
    assert current.amount_minor == 3_500
    assert sent_again["Location"] == reverse("pledges:card", args=[current.public_id])

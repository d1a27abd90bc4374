"""The pledge pages and API over HTTP: forms, errors next to fields, other members' pledges."""

import uuid

import pytest
from django.urls import reverse

from payments.models import StripeCustomer
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def supporter_client(client, supporter):
    client.force_login(supporter)
    return client


def pledge_url(campaign):
    return reverse("pledges:new", args=[campaign.slug])


def form_data(**overrides):
    data = {
        "reward": "",
        "amount": "10",
        "public_name": "",
        "message": "",
        "idempotency_key": uuid.uuid4().hex,
    }
    data.update(overrides)
    return data


def test_logged_out_visitor_is_sent_to_login_and_back_to_the_same_choice(client, campaign, reward):
    url = f"{pledge_url(campaign)}?reward={reward.pk}&amount=25"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "reward%3D" in response["Location"] and "amount%3D25" in response["Location"]


def test_form_preselects_the_choice_and_offers_quick_picks(supporter_client, campaign, reward):
    html = supporter_client.get(
        f"{pledge_url(campaign)}?reward={reward.pk}&amount=25"
    ).content.decode()
    assert f'value="{reward.pk}"' in html and 'value="25"' in html
    for pick in ("5", "10", "25"):
        assert f'data-amount="{pick}"' in html


def test_valid_pledge_goes_to_the_card_page(standin_settings, supporter_client, campaign, reward):
    response = supporter_client.post(
        pledge_url(campaign), form_data(reward=str(reward.pk), amount="12.50")
    )
    pledge = Pledge.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("pledges:card", args=[pledge.public_id])
    assert (pledge.amount_minor, pledge.reward, pledge.status) == (1250, reward, "pending")
    card_page = supporter_client.get(response["Location"]).content.decode()
    assert "js.stripe.com/v3/" in card_page and "_secret_" in card_page


def test_double_submitted_form_makes_one_pledge(standin_settings, supporter_client, campaign):
    data = form_data()
    first = supporter_client.post(pledge_url(campaign), data)
    second = supporter_client.post(pledge_url(campaign), data)
    assert first["Location"] == second["Location"]
    assert Pledge.objects.count() == 1


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"amount": "0"}, "amount", "above zero"),
        ({"amount": "-5"}, "amount", "above zero"),
        ({"amount": "10.0055"}, "amount", "at most 2 decimal places"),
        ({"amount": "1,250"}, "amount", "thousands separator"),
        ({"amount": "ten"}, "amount", "Enter an amount"),
        ({"amount": "0.50"}, "amount", "smallest pledge"),
        ({"amount": "20000"}, "amount", "largest pledge"),
    ],
)
def test_bad_amounts_show_an_error_next_to_the_field(
    supporter_client, campaign, data, field, message
):
    response = supporter_client.post(pledge_url(campaign), form_data(**data))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert 'id="id_amount_errors"' in response.content.decode()
    assert not Pledge.objects.exists() and not StripeCustomer.objects.exists()


def test_amount_below_the_reward_minimum(supporter_client, campaign, reward):
    response = supporter_client.post(
        pledge_url(campaign), form_data(reward=str(reward.pk), amount="5")
    )
    assert "at least €10.00" in " ".join(response.context["form"].errors["amount"])
    assert not Pledge.objects.exists()


def test_tampered_reward_from_another_campaign(supporter_client, campaign):
    foreign = RewardTierFactory()
    response = supporter_client.post(
        pledge_url(campaign), form_data(reward=str(foreign.pk), amount="50")
    )
    assert "Choose one of this campaign's rewards." in response.context["form"].errors["reward"]
    assert not Pledge.objects.exists()


def test_sold_out_reward_cannot_be_chosen(supporter_client, campaign):
    limited = RewardTierFactory(campaign=campaign, quantity_limit=1)
    PledgeFactory(campaign=campaign, reward=limited)
    html = supporter_client.get(pledge_url(campaign)).content.decode()
    assert "Sold out" in html
    response = supporter_client.post(
        pledge_url(campaign), form_data(reward=str(limited.pk), amount="20")
    )
    assert "sold out" in " ".join(response.context["form"].errors["reward"])
    assert Pledge.objects.count() == 1


def test_campaign_not_live_redirects_with_a_message(supporter_client):
    ended = CampaignFactory(live=True, status="funded")
    response = supporter_client.get(pledge_url(ended), follow=True)
    assert "not taking pledges" in response.content.decode()
    assert supporter_client.get(pledge_url(CampaignFactory())).status_code == 404  # a draft


def test_organizer_is_turned_away(client, campaign):
    client.force_login(campaign.organizer)
    response = client.get(pledge_url(campaign), follow=True)
    assert "Organizers cannot pledge" in response.content.decode()


def test_other_members_pledges_are_404(supporter_client, campaign):
    theirs = PledgeFactory(campaign=campaign)
    for name in ("pledges:detail", "pledges:card"):
        assert supporter_client.get(reverse(name, args=[theirs.public_id])).status_code == 404
    for name in ("pledges:cancel", "pledges:update_card", "pledges:confirm"):
        assert supporter_client.post(reverse(name, args=[theirs.public_id])).status_code == 404
    assert Pledge.objects.get(pk=theirs.pk).status == "active"


def test_my_pledges_change_and_cancel(supporter_client, supporter, campaign, reward):
    pledge = PledgeFactory(campaign=campaign, supporter=supporter, amount_minor=1_000)
    html = supporter_client.get(reverse("pledges:mine")).content.decode()
    assert campaign.title in html and "€10.00" in html and "Active" in html

    detail = reverse("pledges:detail", args=[pledge.public_id])
    page = supporter_client.get(detail).content.decode()
    assert "only if the campaign reaches its goal" in page
    response = supporter_client.post(detail, {"amount": "25", "reward": str(reward.pk)})
    assert response.status_code == 302
    pledge.refresh_from_db()
    assert (pledge.amount_minor, pledge.reward) == (2_500, reward)

    response = supporter_client.post(detail, {"amount": "2", "reward": str(reward.pk)})
    assert "at least €10.00" in " ".join(response.context["form"].errors["amount"])

    supporter_client.post(reverse("pledges:cancel", args=[pledge.public_id]))
    pledge.refresh_from_db()
    assert pledge.status == "cancelled"
    assert "Cancelled" in supporter_client.get(reverse("pledges:mine")).content.decode()


def test_campaign_totals_count_active_pledges_only(campaign):
    from campaigns.selectors import with_totals

    PledgeFactory(campaign=campaign, amount_minor=1_000)
    PledgeFactory(campaign=campaign, amount_minor=2_000)
    PledgeFactory(campaign=campaign, amount_minor=4_000, status="pending")
    PledgeFactory(campaign=campaign, amount_minor=8_000, status="cancelled")
    totals = with_totals(type(campaign).objects.filter(pk=campaign.pk)).get()
    assert (totals.pledged_minor, totals.supporters_count) == (3_000, 2)


# --- API --------------------------------------------------------------------------------------
def api_create(client, campaign, key="key-1", **overrides):
    body = {"campaign": campaign.slug, "amount_minor": 1_000, "currency": campaign.currency}
    body.update(overrides)
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        reverse("pledges:api_list"), body, content_type="application/json", headers=headers
    )


def test_api_creates_once_per_idempotency_key(standin_settings, supporter_client, campaign):
    first = api_create(supporter_client, campaign)
    second = api_create(supporter_client, campaign)
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["client_secret"] and first.json()["status"] == "pending"
    assert Pledge.objects.count() == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"amount_minor": 10.5}, "amount_minor"),
        ({"amount_minor": "10.50"}, "amount_minor"),
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": 50}, "amount_minor"),  # the service's "amount", named as in the API
        ({"currency": "USD"}, "currency"),
    ],
)
def test_api_bad_input_is_a_400_with_field_errors(supporter_client, campaign, overrides, field):
    response = api_create(supporter_client, campaign, **overrides)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Pledge.objects.exists()


def test_api_needs_a_key_a_login_and_a_reward_of_this_campaign(client, supporter, campaign):
    assert api_create(client, campaign).status_code == 403
    client.force_login(supporter)
    assert api_create(client, campaign, key="").status_code == 400
    response = api_create(client, campaign, reward=RewardTierFactory().pk, amount_minor=5_000)
    assert response.status_code == 400 and "reward" in response.json()["error"]["fields"]
    assert api_create(client, CampaignFactory()).status_code == 404  # a draft is not public


def test_api_other_members_pledge_is_404(supporter_client, campaign):
    theirs = PledgeFactory(campaign=campaign, supporter=MemberFactory())
    assert (
        supporter_client.get(reverse("pledges:api_detail", args=[theirs.public_id])).status_code
        == 404
    )


def test_failed_campaign_still_shows_what_was_pledged(campaign):
    from campaigns.selectors import with_totals

    PledgeFactory(campaign=campaign, amount_minor=1_000, status="released")
    PledgeFactory(campaign=campaign, amount_minor=3_000, status="cancelled")
    live = with_totals(type(campaign).objects.filter(pk=campaign.pk)).get()
    assert live.pledged_minor == 0  # a released pledge on a live/cancelled campaign counts nothing
    type(campaign).objects.filter(pk=campaign.pk).update(status="failed")
    failed = with_totals(type(campaign).objects.filter(pk=campaign.pk)).get()
    assert (failed.pledged_minor, failed.supporters_count) == (1_000, 1)


def test_client_ip_behind_trusted_proxies(rf, settings):
    from core.http import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="10.0.0.2")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1  # the forged 6.6.6.6 on the left is ignored
    assert client_ip(request) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer entries than proxies: fall back to the peer
    assert client_ip(request) == "10.0.0.2"


def test_failures_of_others_behind_the_same_proxy_do_not_block_a_member(client, settings, campaign):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        client.force_login(MemberFactory())
        client.post(
            pledge_url(campaign), form_data(amount="0.50"), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        )
    client.force_login(MemberFactory())
    response = client.post(
        pledge_url(campaign), form_data(amount="0.50"), HTTP_X_FORWARDED_FOR="198.51.100.99"
    )
    assert "paused" not in response.content.decode()

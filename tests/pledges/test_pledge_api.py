"""POST /api/pledges/: `amount_minor` is bounded before any conversion (a property test), and
the Idempotency-Key follows Stripe's rule over HTTP (replay: 201 + Idempotent-Replayed; the
same key with other terms: 422 idempotency_key_reused), whatever happened since the first."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.models import Campaign
from pledges.models import Pledge
from tests.core.test_api_errors import assert_error_shape
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory

pytestmark = pytest.mark.django_db

MAX_PLEDGE_MINOR = 1_000_000


@pytest.fixture
def provider(monkeypatch):
    """Our in-memory payment provider in place of the configured one."""
    from devtools.stripe_standin.inprocess import FakeGateway

    gateway = FakeGateway()
    monkeypatch.setattr("payments.gateway.get_gateway", lambda: gateway)
    return gateway


@pytest.fixture
def api(client, supporter, settings):
    settings.MAX_PLEDGE_MINOR = MAX_PLEDGE_MINOR
    client.force_login(supporter)
    return client


def create(client, campaign, key="key-1", **overrides):
    body = {"campaign": campaign.slug, "amount_minor": 2_000, "currency": campaign.currency}
    body.update(overrides)
    return client.post(
        reverse("pledges:api_list"),
        body,
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


# --- amount_minor ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "amount",
    [
        10**4000,  # a 4,001-digit integer: was a 400 under the service's "amount" key
        10**12,
        MAX_PLEDGE_MINOR + 1,
        "9" * 13,
        "9" * 4_001,
        0,
        -5,
        True,
        10.0,
        10.5,
        "10.50",
        "1e3",
        "1E999990",
        "١٢٣٤",  # Arabic-Indic digits
        "１２３４",  # fullwidth digits
        "²",
        " 1000",
        "+1000",
        "",
        None,
        [1000],
        {"value": 1000},
    ],
    ids=lambda amount: repr(amount)[:24],
)
def test_bad_amounts_are_refused_under_amount_minor(api, campaign, amount):
    error = assert_error_shape(create(api, campaign, amount_minor=amount), 400)
    assert list(error["fields"]) == ["amount_minor"], error
    assert not Pledge.objects.exists()


def test_amounts_as_integers_or_digit_strings_are_accepted(api, campaign, provider):
    assert create(api, campaign, key="a", amount_minor=2_500).json()["amount_minor"] == 2_500
    assert create(api, campaign, key="b", amount_minor="2600").json()["amount_minor"] == 2_600


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

# Raw JSON tokens for amount_minor that are never a valid amount.
_bad_amount_tokens = st.one_of(
    st.integers(min_value=MAX_PLEDGE_MINOR + 1, max_value=10**4000).map(str),
    st.integers(max_value=0).map(str),
    st.integers(min_value=4_300, max_value=6_000).map(lambda n: "1" + "0" * n),  # > int limit
    st.floats().map(json.dumps),  # including NaN and Infinity, which json.dumps writes
    st.from_regex(r"\A[1-9][0-9]{0,3}[eE][+-]?[0-9]{1,7}\Z"),  # exponent numbers
    st.from_regex(r"\A[0-9]{13,5000}\Z").map(json.dumps),  # big digit strings
    st.from_regex(r"\A[0-9]{1,6}[.,][0-9]{1,3}\Z").map(json.dumps),  # "10.50", "1,000"
    st.from_regex(r"\A[0-9]{0,3}[eE][+-]?[0-9]{1,7}\Z").map(json.dumps),  # "1e3" as a string
    st.text(st.characters(categories=["Nd"]), min_size=1, max_size=12)
    .filter(lambda text: not text.isascii())
    .map(json.dumps),  # other scripts' digits
    st.text(max_size=30).filter(lambda text: not text.isdigit()).map(json.dumps),
    st.lists(_json_values, max_size=3).map(json.dumps),
    st.dictionaries(st.text(max_size=5), _json_values, max_size=3).map(json.dumps),
    st.sampled_from(["null", "true", "false", "[]", "{}", "[" * 5_000, "-0", "0.0"]),
)

_property_settings = hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written to .hypothesis/ in the checkout
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def unthrottled(settings):
    # Hundreds of refused attempts in one test: the card-testing limits are not under test.
    settings.PLEDGE_ATTEMPTS_PER_HOUR_MEMBER = settings.PLEDGE_ATTEMPTS_PER_HOUR_IP = 10**6
    settings.PLEDGE_FAILURES_BEFORE_BLOCK = 10**6


@_property_settings
@given(token=_bad_amount_tokens)
def test_property_every_bad_amount_minor_is_a_json_400(api, campaign, unthrottled, token):
    body = f'{{"campaign": "{campaign.slug}", "currency": "EUR", "amount_minor": {token}}}'
    response = api.post(
        reverse("pledges:api_list"),
        body.encode(),
        content_type="application/json",
        headers={"Idempotency-Key": "property"},
    )
    error = assert_error_shape(response, 400)
    if error["code"] != "parse_error":  # NaN, Infinity, 1e999 or digits over Python's limit
        assert list(error["fields"]) == ["amount_minor"], (token[:80], error)
    assert not Pledge.objects.exists()


@_property_settings
@given(body=_json_values.map(json.dumps).map(str.encode) | st.binary(max_size=200))
def test_property_every_body_is_a_json_4xx_never_a_500(api, body):
    response = api.post(
        reverse("pledges:api_list"),
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "property"},
    )
    assert 400 <= response.status_code < 500
    assert_error_shape(response, response.status_code)


# --- Idempotency-Key ------------------------------------------------------------------------
def test_a_replay_is_the_first_answer_with_a_replay_header(api, campaign, provider):
    first = create(api, campaign)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first

    again = create(api, campaign)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Pledge.objects.count() == 1


@pytest.mark.parametrize("changed", ["amount_minor", "campaign", "reward", "message"])
def test_the_same_key_with_other_terms_is_a_422(api, campaign, provider, changed):
    reward = RewardTierFactory(campaign=campaign, minimum_minor=1_000)
    first = create(api, campaign, reward=reward.pk)
    assert first.status_code == 201
    other = CampaignFactory(live=True)
    if changed == "campaign":
        response = create(api, other, reward=None)
    else:
        different = {
            "amount_minor": 3_000,
            "reward": RewardTierFactory(campaign=campaign, minimum_minor=1_000).pk,
            "message": "Another message",
        }
        response = create(api, campaign, **{"reward": reward.pk, changed: different[changed]})

    error = assert_error_shape(response, 422, "idempotency_key_reused")
    assert error["fields"] == {}
    assert "Idempotent-Replayed" not in response
    assert Pledge.objects.get().amount_minor == 2_000  # the first pledge is left as it was


def _sell_out(campaign, reward):
    RewardTier = type(reward)
    RewardTier.objects.filter(pk=reward.pk).update(quantity_limit=1)
    PledgeFactory(campaign=campaign, reward=reward, supporter=MemberFactory(), status="active")


def _end(campaign, reward):
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))


def _hide(campaign, reward):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.APPROVED)


@pytest.mark.parametrize("since", [_sell_out, _end, _hide], ids=["sold-out", "ended", "hidden"])
def test_a_retry_is_judged_by_its_key_however_the_campaign_moved_on(
    api, supporter, campaign, provider, since
):
    reward = RewardTierFactory(campaign=campaign, minimum_minor=1_000)
    first = create(api, campaign, reward=reward.pk)
    assert first.status_code == 201

    since(campaign, reward)

    replay = create(api, campaign, reward=reward.pk)
    assert replay.status_code == 201, replay.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    reused = create(api, campaign, reward=reward.pk, amount_minor=3_000)
    assert_error_shape(reused, 422, "idempotency_key_reused")
    # A new key gets today's answer.
    assert create(api, campaign, key="key-2", reward=reward.pk).status_code in (400, 404)
    assert Pledge.objects.filter(supporter=supporter).count() == 1


def test_a_hidden_campaign_stays_hidden_from_other_keys_and_members(api, campaign, provider):
    assert create(api, campaign).status_code == 201
    _hide(campaign, None)
    assert_error_shape(create(api, campaign, key="key-2"), 404, "not_found")
    api.force_login(MemberFactory())
    assert_error_shape(create(api, campaign), 404, "not_found")


# --- confirm --------------------------------------------------------------------------------
def test_confirm_passes_the_callers_ip_with_a_declined_card(api, campaign, provider, settings):
    from payments.gateway import PaymentDeclined
    from pledges.models import PledgeFailure

    settings.TRUSTED_PROXY_COUNT = 0
    created = create(api, campaign).json()
    with pytest.raises(PaymentDeclined):  # Stripe.js tries a declined card in the browser
        provider.confirm_setup_intent(created["setup_intent_id"], "pm_card_visa_chargeDeclined")

    response = api.post(
        reverse("pledges:api_confirm", args=[created["id"]]),
        {"setup_intent": created["setup_intent_id"]},
        content_type="application/json",
        REMOTE_ADDR="198.51.100.7",
    )

    assert_error_shape(response, 400)
    assert PledgeFailure.objects.get().ip == "198.51.100.7"


@pytest.mark.parametrize("body", [b"[]", b'"seti_1"', b'{"setup_intent": ["seti_1"]}'])
def test_confirm_with_a_body_of_the_wrong_shape_is_a_400(api, campaign, provider, body):
    created = create(api, campaign).json()
    response = api.post(
        reverse("pledges:api_confirm", args=[created["id"]]), body, content_type="application/json"
    )
    assert_error_shape(response, 400)


def test_the_pledge_throttle_is_a_429(api, campaign, provider, settings):
    settings.PLEDGE_ATTEMPTS_PER_HOUR_MEMBER = 1
    assert create(api, campaign, key="key-1").status_code == 201
    assert_error_shape(create(api, campaign, key="key-2"), 429, "too_many_attempts")

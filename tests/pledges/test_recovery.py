"""Payment recovery after the deadline (pledges.recovery and its pages), against the in-process
Stripe stand-in: confirming a payment with 3-D Secure, using another card (a declined one, or
instead of 3-D Secure: the open PaymentIntent is cancelled first), refusals, double submits,
the state in words on the pledge pages, and the emails' links."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from core.models import AuditEvent, OutboundEmail
from ledger import selectors as ledger_selectors
from ledger.models import Transaction as LedgerTransaction
from pledges import recovery, services, settlement
from pledges.models import PaymentAttempt, Pledge
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

Status = Pledge.Status
Trigger = PaymentAttempt.Trigger
DECLINES_WHEN_CHARGED = "pm_card_chargeCustomerFail"
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"


@pytest.fixture
def gateway(fake_gateway, celery_eager, settings):
    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    return fake_gateway


@pytest.fixture
def campaign(db):
    return CampaignFactory(live=True, goal_minor=1_000, title="Benches for the square")


def pledge_with_card(gateway, campaign, *, card="pm_card_visa", amount=2_000):
    """An active pledge whose card was saved on the stand-in, as the card page does it."""
    supporter = MemberFactory()
    pledge = services.start_pledge(
        campaign, supporter=supporter, amount_minor=amount, gateway=gateway
    )
    intent = gateway.confirm_setup_intent(pledge.setup_intent_id, card)
    if intent.status == "requires_action":
        gateway.authenticate_setup_intent(pledge.setup_intent_id)
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


def after_the_deadline(gateway, campaign, *cards, amount=2_000):
    """A pledge per card, charged at the deadline (the sweep ran); returns them fresh."""
    pledges = [pledge_with_card(gateway, campaign, card=card, amount=amount) for card in cards]
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    settlement.sweep()
    for pledge in pledges:
        pledge.refresh_from_db()
    return pledges[0] if len(pledges) == 1 else pledges


@pytest.fixture
def waiting(gateway, campaign):
    """A pledge whose bank wants 3-D Secure: action_required."""
    pledge = after_the_deadline(gateway, campaign, NEEDS_AUTHENTICATION)
    assert pledge.status == Status.ACTION_REQUIRED
    return pledge


@pytest.fixture
def declined(gateway, campaign):
    """A pledge whose card was declined when charged: retrying."""
    pledge = after_the_deadline(gateway, campaign, DECLINES_WHEN_CHARGED)
    assert pledge.status == Status.RETRYING
    return pledge


def logged_in(client, pledge):
    client.force_login(pledge.supporter)
    return client


def succeeded_at_provider(gateway):
    return [pi for pi in gateway.payment_intents.values() if pi.status == "succeeded"]


def the_attempt(pledge):
    return pledge.attempts.order_by("-number").first()


def fix_form(client, gateway, pledge):
    """The supporter opens "Use another card" and starts a card form; returns its SetupIntent."""
    response = client.post(reverse("pledges:fix_card", args=[pledge.public_id]))
    assert response.status_code == 302
    assert response.url == reverse("pledges:fix_card", args=[pledge.public_id])
    pledge.refresh_from_db()
    intent = gateway.setup_intents[pledge.setup_intent_id]
    assert intent.metadata["purpose"] == recovery.FIX_PURPOSE
    return intent


def save_new_card(client, gateway, pledge, card="pm_card_visa"):
    """Stripe.js saves the new card on the form, then the page tells our server."""
    intent = fix_form(client, gateway, pledge)
    gateway.confirm_setup_intent(intent.id, card)
    return client.post(
        reverse("pledges:fix_card_confirm", args=[pledge.public_id]), {"setup_intent": intent.id}
    )


# --- confirming the payment (3-D Secure) ------------------------------------------------------
def test_the_payment_page_shows_the_payment_to_its_supporter_only(client, gateway, waiting):
    url = reverse("pledges:authenticate", args=[waiting.public_id])
    attempt = the_attempt(waiting)
    secret = gateway.standin.get("payment_intent", attempt.payment_intent_id)["client_secret"]

    page = logged_in(client, waiting).get(url)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Benches for the square" in html and "€20" in html
    assert "Your bank wants you to confirm this payment." in html
    assert f'data-client-secret="{secret}"' in html  # from the provider, at page load
    assert f'data-payment-method="{attempt.payment_method_id}"' in html
    assert "no-store" in page["Cache-Control"]
    assert secret not in str(list(PaymentAttempt.objects.values()))  # never stored

    client.force_login(MemberFactory())
    assert client.get(url).status_code == 404
    assert (
        client.post(reverse("pledges:authenticated", args=[waiting.public_id])).status_code == 404
    )


def test_completing_3d_secure_collects_the_pledge(client, gateway, waiting, campaign):
    attempt = the_attempt(waiting)
    gateway.authenticate_payment(attempt.payment_intent_id)  # Stripe.js, in the browser

    answer = logged_in(client, waiting).post(
        reverse("pledges:authenticated", args=[waiting.public_id])
    )

    assert answer.json() == {"redirect": reverse("pledges:detail", args=[waiting.public_id])}
    waiting.refresh_from_db()
    assert waiting.status == Status.COLLECTED and waiting.collected_at
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED
    assert len(succeeded_at_provider(gateway)) == 1
    assert ledger_selectors.collected_minor(campaign.pk) == 2_000
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CONTRIBUTION).count() == 1
    page = client.get(answer.json()["redirect"])
    assert "Thank you, your pledge is collected." in page.content.decode()
    assert "Collected on" in page.content.decode()

    # A second submit records nothing twice; the page now says there is nothing to pay.
    client.post(reverse("pledges:authenticated", args=[waiting.public_id]))
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CONTRIBUTION).count() == 1
    again = client.get(reverse("pledges:authenticate", args=[waiting.public_id]))
    assert again.status_code == 302 and again.url.endswith(f"/pledges/{waiting.public_id}/")


def test_the_browser_cannot_claim_a_payment_the_provider_did_not_make(client, gateway, waiting):
    answer = logged_in(client, waiting).post(
        reverse("pledges:authenticated", args=[waiting.public_id])
    )

    assert answer.json() == {"redirect": reverse("pledges:authenticate", args=[waiting.public_id])}
    waiting.refresh_from_db()
    assert waiting.status == Status.ACTION_REQUIRED
    assert not succeeded_at_provider(gateway)
    page = client.get(answer.json()["redirect"])
    assert "Your payment is not confirmed yet." in page.content.decode()


def test_a_failed_3d_secure_asks_for_another_card(client, gateway, waiting):
    attempt = the_attempt(waiting)
    gateway.authenticate_payment(attempt.payment_intent_id, success=False)

    answer = logged_in(client, waiting).post(
        reverse("pledges:authenticated", args=[waiting.public_id])
    )

    waiting.refresh_from_db()
    assert waiting.status == Status.RETRYING
    page = client.get(answer.json()["redirect"]).content.decode()
    assert "Your bank did not confirm the payment. You can use another card." in page
    assert "Card declined: The payment was not confirmed with your bank." in page
    assert reverse("pledges:fix_card", args=[waiting.public_id]) in page


def test_a_payment_completed_in_another_tab_is_recorded_by_the_payment_page(
    client, gateway, waiting
):
    gateway.authenticate_payment(the_attempt(waiting).payment_intent_id)

    page = logged_in(client, waiting).get(reverse("pledges:authenticate", args=[waiting.public_id]))

    assert page.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == Status.COLLECTED
    assert "Thank you, your pledge is collected." in client.get(page.url).content.decode()


# --- using another card -----------------------------------------------------------------------
def test_a_declined_pledge_is_collected_with_another_card(client, gateway, declined, campaign):
    logged_in(client, declined)
    setup_intents_before = len(gateway.setup_intents)
    # The email's link only looks: no card form is made until the supporter asks for one.
    page = client.get(reverse("pledges:fix_card", args=[declined.public_id]))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "Use another card" in page.content.decode()
    assert len(gateway.setup_intents) == setup_intents_before

    intent = fix_form(client, gateway, declined)
    page = client.get(reverse("pledges:fix_card", args=[declined.public_id])).content.decode()
    assert f'data-client-secret="{intent.client_secret}"' in page
    assert reverse("pledges:fix_card_confirm", args=[declined.public_id]) in page
    gateway.confirm_setup_intent(intent.id, "pm_card_visa")
    answer = client.post(
        reverse("pledges:fix_card_confirm", args=[declined.public_id]), {"setup_intent": intent.id}
    )

    assert answer.json() == {"redirect": reverse("pledges:detail", args=[declined.public_id])}
    declined.refresh_from_db()
    assert declined.status == Status.COLLECTED
    new_card = gateway.setup_intents[intent.id].payment_method_id
    assert declined.payment_method_id == new_card
    first, second = declined.attempts.order_by("number")
    assert first.status == PaymentAttempt.Status.FAILED
    assert (second.trigger, second.status) == (Trigger.NEW_CARD, PaymentAttempt.Status.SUCCEEDED)
    assert second.payment_method_id == new_card
    assert len(succeeded_at_provider(gateway)) == 1
    assert ledger_selectors.collected_minor(campaign.pk) == 2_000
    assert AuditEvent.objects.filter(action="card_updated", target_id=str(declined.pk)).exists()
    assert "Collected on" in client.get(answer.json()["redirect"]).content.decode()


def test_a_new_card_instead_of_3d_secure_cancels_the_waiting_payment_first(
    client, gateway, waiting
):
    old = the_attempt(waiting)

    answer = save_new_card(logged_in(client, waiting), gateway, waiting)

    assert answer.status_code == 200, answer.content
    waiting.refresh_from_db()
    assert waiting.status == Status.COLLECTED
    assert gateway.standin.get("payment_intent", old.payment_intent_id)["status"] == "canceled"
    old.refresh_from_db()
    assert (old.status, old.decline_code) == (
        PaymentAttempt.Status.FAILED,
        recovery.REPLACED_BY_NEW_CARD,
    )
    new = the_attempt(waiting)
    assert (new.trigger, new.status) == (Trigger.NEW_CARD, PaymentAttempt.Status.SUCCEEDED)
    assert len(succeeded_at_provider(gateway)) == 1
    # The cancelled payment can no longer be completed from a tab left open.
    with pytest.raises(Exception):  # noqa: B017, PT011 (the stand-in refuses it)
        gateway.authenticate_payment(old.payment_intent_id)
    assert len(succeeded_at_provider(gateway)) == 1


def test_replacing_a_payment_that_waits_for_3d_secure_sends_no_declined_email(
    client, gateway, waiting
):
    save_new_card(logged_in(client, waiting), gateway, waiting)
    waiting.refresh_from_db()
    assert waiting.status == Status.COLLECTED
    assert not OutboundEmail.objects.filter(template="pledge_declined").exists()


def test_a_payment_completed_while_the_new_card_was_saved_is_kept_and_the_card_not_charged(
    client, gateway, waiting
):
    logged_in(client, waiting)
    intent = fix_form(client, gateway, waiting)
    gateway.confirm_setup_intent(intent.id, "pm_card_visa")
    gateway.authenticate_payment(the_attempt(waiting).payment_intent_id)  # in another tab

    answer = client.post(
        reverse("pledges:fix_card_confirm", args=[waiting.public_id]), {"setup_intent": intent.id}
    )

    assert answer.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == Status.COLLECTED
    assert waiting.attempts.count() == 1  # no charge of the new card
    assert len(succeeded_at_provider(gateway)) == 1


def test_a_payment_completed_at_the_moment_it_is_cancelled_is_kept(
    client, gateway, waiting, monkeypatch
):
    """The supporter passes 3-D Secure between our look at the PaymentIntent and our cancel:
    the provider refuses the cancel, and the success is recorded instead of a new charge."""
    logged_in(client, waiting)
    intent = fix_form(client, gateway, waiting)
    gateway.confirm_setup_intent(intent.id, "pm_card_visa")
    payment_intents = gateway._v1.payment_intents
    cancel = payment_intents.cancel

    def completed_first(payment_intent_id, *args, **kwargs):
        gateway.authenticate_payment(payment_intent_id)
        return cancel(payment_intent_id, *args, **kwargs)

    monkeypatch.setattr(payment_intents, "cancel", completed_first)

    answer = client.post(
        reverse("pledges:fix_card_confirm", args=[waiting.public_id]), {"setup_intent": intent.id}
    )

    assert answer.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == Status.COLLECTED
    assert waiting.attempts.count() == 1
    assert len(succeeded_at_provider(gateway)) == 1


def test_a_second_submit_of_the_new_card_charges_once(client, gateway, declined):
    logged_in(client, declined)
    intent = fix_form(client, gateway, declined)
    gateway.confirm_setup_intent(intent.id, "pm_card_visa")
    url = reverse("pledges:fix_card_confirm", args=[declined.public_id])

    first = client.post(url, {"setup_intent": intent.id})
    second = client.post(url, {"setup_intent": intent.id})
    recovery.card_fixed(declined, setup_intent_id=intent.id)  # a webhook, later

    assert first.status_code == second.status_code == 200
    assert declined.attempts.count() == 2
    assert len(succeeded_at_provider(gateway)) == 1


def test_a_new_card_that_is_declined_too_is_charged_once_per_card(client, gateway, declined):
    logged_in(client, declined)
    answer = save_new_card(client, gateway, declined, card=DECLINES_WHEN_CHARGED)
    declined.refresh_from_db()
    assert answer.status_code == 200
    assert declined.status == Status.RETRYING
    assert declined.attempts.count() == 2
    # Submitting the same card again is no new charge; the page asks for another card.
    client.post(
        reverse("pledges:fix_card_confirm", args=[declined.public_id]),
        {"setup_intent": declined.setup_intent_id},
    )
    assert declined.attempts.count() == 2
    page = client.get(reverse("pledges:detail", args=[declined.public_id])).content.decode()
    assert "Card declined:" in page
    fix_page = client.get(reverse("pledges:fix_card", args=[declined.public_id])).content.decode()
    assert "data-client-secret" not in fix_page  # that form is used up: a new one is offered

    save_new_card(client, gateway, declined)
    declined.refresh_from_db()
    assert declined.status == Status.COLLECTED
    assert declined.attempts.count() == 3
    assert len(succeeded_at_provider(gateway)) == 1


def test_a_card_saved_after_the_page_closed_is_charged_when_the_page_is_opened(
    client, gateway, declined
):
    logged_in(client, declined)
    intent = fix_form(client, gateway, declined)
    gateway.confirm_setup_intent(intent.id, "pm_card_visa")  # the confirm call never came

    page = client.get(reverse("pledges:fix_card", args=[declined.public_id]))

    assert page.status_code == 302 and page.url.endswith(f"/pledges/{declined.public_id}/")
    declined.refresh_from_db()
    assert declined.status == Status.COLLECTED
    assert len(succeeded_at_provider(gateway)) == 1


def test_opening_the_form_twice_makes_one_card_form(client, gateway, declined):
    logged_in(client, declined)
    first = fix_form(client, gateway, declined)
    again = fix_form(client, gateway, declined)
    assert first.id == again.id


def test_a_card_refused_on_the_fix_form_changes_nothing(client, gateway, declined):
    logged_in(client, declined)
    intent = fix_form(client, gateway, declined)
    with pytest.raises(Exception):  # noqa: B017, PT011 (the card form shows the decline)
        gateway.confirm_setup_intent(intent.id, "pm_card_chargeDeclined")

    answer = client.post(
        reverse("pledges:fix_card_confirm", args=[declined.public_id]), {"setup_intent": intent.id}
    )

    assert answer.status_code == 400
    declined.refresh_from_db()
    assert declined.status == Status.RETRYING and declined.attempts.count() == 1


def test_another_members_card_form_cannot_be_used(client, gateway, declined):
    other = pledge_with_card(gateway, CampaignFactory(live=True))
    logged_in(client, declined)
    answer = client.post(
        reverse("pledges:fix_card_confirm", args=[declined.public_id]),
        {"setup_intent": other.setup_intent_id},
    )
    assert answer.status_code == 400
    assert declined.attempts.count() == 1
    client.force_login(MemberFactory())
    assert client.get(reverse("pledges:fix_card", args=[declined.public_id])).status_code == 404


# --- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "message"),
    [
        (Status.COLLECTED, "Thank you, your pledge is collected."),
        (Status.DROPPED, "This pledge was dropped because it could not be collected in time."),
        (Status.RELEASED, "This pledge was released: your card is not charged."),
    ],
)
def test_fix_pages_of_a_finished_pledge_refuse_and_change_nothing(
    client, gateway, declined, status, message
):
    Pledge.objects.filter(pk=declined.pk).update(status=status)
    setup_intents, attempts = len(gateway.setup_intents), PaymentAttempt.objects.count()
    logged_in(client, declined)
    detail = reverse("pledges:detail", args=[declined.public_id])

    for method, name in [
        ("get", "pledges:fix_card"),
        ("post", "pledges:fix_card"),
        ("get", "pledges:authenticate"),
    ]:
        response = getattr(client, method)(reverse(name, args=[declined.public_id]))
        assert (response.status_code, response.url) == (302, detail), name
        assert message in client.get(detail).content.decode()

    assert len(gateway.setup_intents) == setup_intents
    assert PaymentAttempt.objects.count() == attempts


def test_the_fix_window_closed_refuses_a_new_card(client, gateway, declined):
    Pledge.objects.filter(pk=declined.pk).update(fix_window_ends_at=timezone.now())
    response = logged_in(client, declined).post(
        reverse("pledges:fix_card", args=[declined.public_id])
    )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "The time to fix this payment has ended." in page


def test_a_pledge_that_needs_no_authentication_has_no_payment_page(client, gateway, declined):
    response = logged_in(client, declined).get(
        reverse("pledges:authenticate", args=[declined.public_id])
    )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Your bank is not asking you to confirm this payment." in page


# --- the state in words -----------------------------------------------------------------------
def text_of(response):
    return response.content.decode()


def test_the_pledge_pages_say_where_the_payment_stands(client, gateway):
    pledges = [
        after_the_deadline(gateway, CampaignFactory(live=True, goal_minor=1_000), card)
        for card in (NEEDS_AUTHENTICATION, DECLINES_WHEN_CHARGED, "pm_card_visa")
    ]
    waiting, declined, collected = pledges
    assert [p.status for p in pledges] == [
        Status.ACTION_REQUIRED,
        Status.RETRYING,
        Status.COLLECTED,
    ]
    supporter = waiting.supporter
    Pledge.objects.filter(pk__in=[declined.pk, collected.pk]).update(supporter=supporter)
    client.force_login(supporter)

    mine = text_of(client.get(reverse("pledges:mine")))
    assert "Waiting for you to confirm the payment." in mine
    assert reverse("pledges:authenticate", args=[waiting.public_id]) in mine
    assert "Card declined: The bank declined the payment without a reason." in mine
    assert reverse("pledges:fix_card", args=[declined.public_id]) in mine
    assert "Collected on" in mine
    for raw in ("action_required", "retrying", "Action required", "Retrying"):
        assert f">{raw}<" not in mine

    declined.refresh_from_db()
    page = text_of(client.get(reverse("pledges:detail", args=[declined.public_id])))
    assert "Card declined: The bank declined the payment without a reason." in page
    assert f"We will try the card again on {declined.next_attempt_at:%-d %B %Y}." in page
    assert f"Use another card by {declined.fix_window_ends_at:%-d %B %Y}" in page
    assert "Use another card" in page

    Pledge.objects.filter(pk=declined.pk).update(status=Status.DROPPED)
    page = text_of(client.get(reverse("pledges:detail", args=[declined.public_id])))
    assert "Dropped: the payment could not be collected in time" in page
    Pledge.objects.filter(pk=declined.pk).update(status=Status.RELEASED)
    page = text_of(client.get(reverse("pledges:detail", args=[declined.public_id])))
    assert "Released — not charged." in page


def test_my_pledges_reads_the_attempts_in_one_query(client, gateway, campaign):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    supporter = MemberFactory()

    def page_queries():
        client.force_login(supporter)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("pledges:mine")).status_code == 200
        return len(queries)

    first = after_the_deadline(gateway, campaign, DECLINES_WHEN_CHARGED)
    Pledge.objects.filter(pk=first.pk).update(supporter=supporter)
    one = page_queries()
    for card in (DECLINES_WHEN_CHARGED, NEEDS_AUTHENTICATION, "pm_card_visa"):
        other = after_the_deadline(gateway, CampaignFactory(live=True, goal_minor=1_000), card)
        assert other.attempts.exists()
        Pledge.objects.filter(pk=other.pk).update(supporter=supporter)
    assert page_queries() == one


def test_the_pledge_page_follows_a_charge_in_progress(client, gateway, declined):
    Pledge.objects.filter(pk=declined.pk).update(next_attempt_at=timezone.now())
    logged_in(client, declined)
    page = text_of(client.get(reverse("pledges:detail", args=[declined.public_id])))
    assert "We are collecting your pledge now." in page
    assert "js/pledge-status.js" in page
    status = client.get(reverse("pledges:payment_status", args=[declined.public_id]))
    assert status.json() == {"state": "collecting", "pending": True}
    Pledge.objects.filter(pk=declined.pk).update(status=Status.COLLECTED)
    status = client.get(reverse("pledges:payment_status", args=[declined.public_id]))
    assert status.json() == {"state": "collected", "pending": False}


# --- emails -----------------------------------------------------------------------------------
def test_the_emails_link_to_the_page_that_fixes_the_payment(gateway, campaign, settings):
    waiting, declined = after_the_deadline(
        gateway, campaign, NEEDS_AUTHENTICATION, DECLINES_WHEN_CHARGED
    )
    site = settings.SITE_URL
    action = OutboundEmail.objects.get(key=f"pledge:{waiting.pk}:action_required")
    assert f"{site}/pledges/{waiting.public_id}/pay/" in action.body_text
    decline = OutboundEmail.objects.get(key=f"pledge:{declined.pk}:declined:1")
    assert f"{site}/pledges/{declined.public_id}/fix-card/" in decline.body_text
    assert '"Benches for the square"' in decline.subject

    organizer = campaign.organizer
    settlement.send_payment_reminder(waiting, by=organizer)
    settlement.send_payment_reminder(declined, by=organizer)
    reminders = {
        email.body_text
        for email in OutboundEmail.objects.filter(template="pledge_payment_reminder")
    }
    assert any(f"/pledges/{waiting.public_id}/pay/" in body for body in reminders)
    assert any(f"/pledges/{declined.public_id}/fix-card/" in body for body in reminders)


def test_a_card_saved_on_the_fix_form_is_charged_from_the_webhook_once(
    client, gateway, declined, post_stripe_webhook
):
    """The supporter saved the new card and closed the page: Stripe's setup_intent.succeeded
    charges it; the duplicate event and the page's late confirm call charge nothing more."""
    from tests.stripe_fixtures import stripe_event

    intent = fix_form(logged_in(client, declined), gateway, declined)
    gateway.confirm_setup_intent(intent.id, "pm_card_visa")
    event = stripe_event("setup_intent.succeeded", gateway.standin.get("setup_intent", intent.id))

    assert post_stripe_webhook(event).status_code == 200
    assert post_stripe_webhook(event).status_code == 200  # delivered twice
    client.post(
        reverse("pledges:fix_card_confirm", args=[declined.public_id]), {"setup_intent": intent.id}
    )

    declined.refresh_from_db()
    assert declined.status == Status.COLLECTED
    assert declined.attempts.count() == 2
    assert len(succeeded_at_provider(gateway)) == 1

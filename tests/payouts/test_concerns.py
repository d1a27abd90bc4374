"""Supporters' concerns about payout requests (payouts.concerns, payouts.concern_views): who may
raise one and when, one per supporter, plain text, the hourly limit, the team's public answer,
staff hiding abuse with a reason, and the reads in a fixed number of queries. The campaign is
funded and the payout requested through the real services (tests.payouts.test_services)."""

# ruff: noqa: F811  (the fixtures imported from test_services are test parameters here)
import threading
import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Collaborator
from core.errors import NotPermitted
from core.models import AuditEvent
from payouts import concerns, services
from payouts.errors import PayoutError
from payouts.models import Payout, PayoutConcern
from pledges.models import Pledge
from tests.factories import MemberFactory, PledgeFactory
from tests.payouts.test_services import (  # noqa: F401  (fixtures)
    TOTP_SECRET,
    after_window,
    approver,
    campaign,
    gateway,
    items,
    organizer,
)
from tests.payouts.test_services import request as request_payout
from tests.pledges.conftest import fake_gateway  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
]

TEXT = "Why are the tools twice the price in the budget?"


@pytest.fixture
def payout(campaign, organizer):
    return request_payout(campaign, organizer)


@pytest.fixture
def supporters(campaign):
    """The three members whose pledges were collected."""
    pledges = campaign.pledges.filter(status=Pledge.Status.COLLECTED).select_related("supporter")
    members = [pledge.supporter for pledge in pledges.order_by("id")]
    assert len(members) == 3
    return members


@pytest.fixture
def supporter(supporters):
    return supporters[0]


def small_payouts(campaign, organizer, count):
    seeds = items(campaign)["Seeds"]
    return [
        request_payout(
            campaign,
            organizer,
            amount=1_000,
            allocations=[services.Allocation(seeds, 1_000)],
            note=f"Seeds, part {number}",  # different requests (the same one twice is one)
        )
        for number in range(count)
    ]


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def raise_url(payout):
    return reverse("payouts:raise_concern", args=[payout.public_id])


def answer_url(concern):
    return reverse("payouts:answer_concern", args=[concern.pk])


def hide_url(concern):
    return reverse("payouts:hide_concern", args=[concern.pk])


def public_html(payouts, viewer):
    """The public include for each payout, as a page renders it for `viewer`."""
    request = RequestFactory().get("/c/money/")
    request.user = viewer
    panels = concerns.concern_panels(payouts, viewer)
    return "".join(
        render_to_string(
            "payouts/includes/concerns.html", {"panel": panels[payout.pk]}, request=request
        )
        for payout in payouts
    )


def admin_html(payout, admin):
    request = RequestFactory().get("/admin/")
    request.user = admin
    return render_to_string(
        "admin/payouts/includes/concerns.html",
        {
            "payout": payout,
            "concerns": concerns.concerns_for(payout, include_hidden=True),
            "can_hide": concerns.can_moderate_concerns(admin),
        },
        request=request,
    )


def passes_two_factor(client, member):
    """Log in and enter the authenticator app's current code, as the admin asks."""
    client.force_login(member)
    code = format_hotp_value(hotp_value(TOTP_SECRET, int(time.time()) // mfa_settings.TOTP_PERIOD))
    response = client.post(reverse("mfa_reauthenticate"), {"code": code})
    assert response.status_code == 302, response.content[:500]


def co_organizer_of(campaign):
    member = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=member.email,
        member=member,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    return member


# --- raising -----------------------------------------------------------------------------------
def test_a_supporter_raises_a_concern_that_is_shown_in_public(client, payout, supporter):
    assert concerns.can_raise_concern(payout, supporter)
    client.force_login(supporter)
    money_page = f"/c/{payout.campaign.slug}/money/"
    response = client.post(raise_url(payout), {"text": f"  {TEXT}\r\n", "next": money_page})
    assert response.status_code == 302
    assert response["Location"] == money_page
    assert any("published" in message for message in messages_of(response))
    concern = concerns.concerns_for(payout).get()
    assert (concern.author, concern.text) == (supporter, TEXT)
    assert AuditEvent.objects.filter(
        action="payout_concern:raised", target_id=str(concern.pk), actor=supporter, note=TEXT
    ).exists()
    html = public_html([payout], MemberFactory())
    assert TEXT.replace("?", "") in html
    assert supporter.display_name in html
    assert "Not answered yet." in html
    assert not concerns.can_raise_concern(payout, supporter)


def test_the_raise_form_shows_only_for_a_supporter_who_may_raise_one(payout, supporter):
    form = f'action="{raise_url(payout)}"'
    assert form in public_html([payout], supporter)
    assert form not in public_html([payout], MemberFactory())
    concerns.raise_concern(payout, by=supporter, text=TEXT)
    assert form not in public_html([payout], supporter)


def test_a_second_concern_by_the_same_supporter_is_refused(client, payout, supporter):
    concerns.raise_concern(payout, by=supporter, text=TEXT)
    with pytest.raises(PayoutError, match="already raised a concern"):
        concerns.raise_concern(payout, by=supporter, text="And another thing about the seeds.")
    client.force_login(supporter)
    response = client.post(raise_url(payout), {"text": "A third try at saying it."})
    assert response.status_code == 302
    assert any("already raised a concern" in message for message in messages_of(response))
    assert PayoutConcern.objects.filter(payout=payout).count() == 1


@pytest.mark.postgres
def test_two_concerns_sent_at_once_by_one_supporter_make_one(payout, supporter):
    """A double submit in two processes: one concern, and the other gets the same message."""
    barrier = threading.Barrier(2)
    outcomes = []

    def send(text):
        try:
            barrier.wait(timeout=10)
            concerns.raise_concern(payout, by=supporter, text=text)
            outcomes.append("raised")
        except PayoutError as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(f"{TEXT} ({n})",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [
        "You have already raised a concern about this payout request.",
        "raised",
    ]
    assert PayoutConcern.objects.filter(payout=payout).count() == 1


def test_only_supporters_whose_pledge_was_collected_may_raise_one(campaign, payout, supporters):
    stranger = MemberFactory()
    with pytest.raises(PayoutError, match="Only supporters whose pledge"):
        concerns.raise_concern(payout, by=stranger, text=TEXT)
    for status in (Pledge.Status.DROPPED, Pledge.Status.REFUNDED, Pledge.Status.CHARGING):
        pledge = PledgeFactory(campaign=campaign, status=status)
        assert not concerns.can_raise_concern(payout, pledge.supporter)
        with pytest.raises(PayoutError, match="Only supporters whose pledge"):
            concerns.raise_concern(payout, by=pledge.supporter, text=TEXT)
    # A collected pledge to another campaign does not count.
    elsewhere = PledgeFactory(status=Pledge.Status.COLLECTED)
    with pytest.raises(PayoutError, match="Only supporters whose pledge"):
        concerns.raise_concern(payout, by=elsewhere.supporter, text=TEXT)
    assert not PayoutConcern.objects.exists()
    # A partly refunded pledge still counts.
    partly = campaign.pledges.get(supporter=supporters[1])
    Pledge.objects.filter(pk=partly.pk).update(status=Pledge.Status.PARTIALLY_REFUNDED)
    assert concerns.raise_concern(payout, by=supporters[1], text=TEXT).pk


def test_the_campaigns_team_answers_concerns_and_does_not_raise_them(campaign, payout):
    co_organizer = co_organizer_of(campaign)
    PledgeFactory(campaign=campaign, supporter=co_organizer, status=Pledge.Status.COLLECTED)
    for member in (campaign.organizer, co_organizer):
        with pytest.raises(PayoutError, match="team answers concerns"):
            concerns.raise_concern(payout, by=member, text=TEXT)
    assert not PayoutConcern.objects.exists()


def test_a_concern_is_refused_once_the_review_window_has_ended(client, payout, supporter):
    after_window(payout)
    assert not concerns.can_raise_concern(payout, supporter)
    client.force_login(supporter)
    response = client.post(raise_url(payout), {"text": TEXT})
    assert response.status_code == 302
    assert any("review window" in message for message in messages_of(response))
    assert not PayoutConcern.objects.exists()
    html = public_html([payout], supporter)
    assert "No concerns were raised" in html
    assert f'action="{raise_url(payout)}"' not in html


def test_a_waived_window_takes_concerns_until_the_payout_is_decided(payout, supporters):
    services.waive_review_window(payout, by=approver(), reason="The hall must be paid today.")
    payout.refresh_from_db()
    assert payout.window_waived_at is not None
    assert concerns.raise_concern(payout, by=supporters[0], text=TEXT).pk
    services.reject_payout(payout, by=approver("second"), reason="Receipts missing.")
    payout.refresh_from_db()
    with pytest.raises(PayoutError, match="no longer in review"):
        concerns.raise_concern(payout, by=supporters[1], text=TEXT)


def test_a_payout_on_hold_still_takes_concerns(payout, supporter):
    services.hold_payout(payout, by=approver(), reason="Waiting for the invoice.")
    payout.refresh_from_db()
    assert payout.status == Payout.Status.ON_HOLD
    assert concerns.raise_concern(payout, by=supporter, text=TEXT).pk


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Write your concern"),
        ("   \n ", "Write your concern"),
        ("ok", "at least 3 characters"),
        ("x" * 501, "under 500 characters"),
        ("Tools\x00 cost too much", "control characters"),
        ("Tools\x1b[31m cost", "control characters"),
        ("Tools \u202ecost too much", "control characters"),
    ],
)
def test_bad_text_is_refused_and_changes_nothing(payout, supporter, text, message):
    with pytest.raises(PayoutError, match=message):
        concerns.raise_concern(payout, by=supporter, text=text)
    assert not PayoutConcern.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="payout_concern:").exists()


def test_text_of_500_characters_with_line_breaks_is_kept(payout, supporter):
    text = ("Line one.\n" + "x" * 490)[:500]
    concern = concerns.raise_concern(payout, by=supporter, text=f"\n{text}\n")
    assert concern.text == text


def test_a_flood_of_concerns_is_throttled_with_a_message(
    client, settings, campaign, organizer, supporter
):
    settings.PAYOUT_CONCERNS_PER_HOUR = 2
    payouts = small_payouts(campaign, organizer, 3)
    client.force_login(supporter)
    for payout in payouts[:2]:
        response = client.post(raise_url(payout), {"text": TEXT})
        assert any("published" in message for message in messages_of(response))
    response = client.post(raise_url(payouts[2]), {"text": TEXT})
    assert response.status_code == 302
    assert any("many concerns in the last hour" in message for message in messages_of(response))
    assert PayoutConcern.objects.filter(author=supporter).count() == 2
    # Another member's allowance is their own.
    other = campaign.pledges.exclude(supporter=supporter).first().supporter
    assert concerns.raise_concern(payouts[2], by=other, text=TEXT).pk


def test_raising_needs_a_login_and_a_post(client, payout):
    response = client.post(raise_url(payout), {"text": TEXT})
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    client.force_login(MemberFactory())
    assert client.get(raise_url(payout)).status_code == 405
    assert not PayoutConcern.objects.exists()


def test_a_next_url_off_the_site_is_not_followed(client, payout, supporter):
    client.force_login(supporter)
    response = client.post(raise_url(payout), {"text": TEXT, "next": "https://evil.example/"})
    assert response["Location"] == (
        f"{payout.campaign.get_absolute_url()}#concerns-{payout.public_id}"
    )


def test_script_in_a_concern_is_shown_as_text(payout, supporter):
    concerns.raise_concern(payout, by=supporter, text="<script>alert('x')</script> is my concern")
    for html in (public_html([payout], MemberFactory()), admin_html(payout, approver())):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; is my concern" in html


# --- answering ---------------------------------------------------------------------------------
def test_the_organizer_answers_in_public_and_may_edit_the_answer(
    client, campaign, payout, supporter
):
    concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
    organizer = campaign.organizer
    assert f'action="{answer_url(concern)}"' in public_html([payout], organizer)
    client.force_login(organizer)
    response = client.post(answer_url(concern), {"text": "The tools include a tiller."})
    assert response.status_code == 302
    assert any("answer is published" in message for message in messages_of(response))
    concern.refresh_from_db()
    assert (concern.answer, concern.answered_by) == ("The tools include a tiller.", organizer)
    html = public_html([payout], MemberFactory())
    assert "The tools include a tiller." in html
    assert "answer_concern" not in html and f'action="{answer_url(concern)}"' not in html

    concerns.answer_concern(concern, by=organizer, text="The tools include a rented tiller.")
    concern.refresh_from_db()
    assert concern.answer == "The tools include a rented tiller."
    actions = list(
        AuditEvent.objects.filter(target_id=str(concern.pk), action__startswith="payout_concern:")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "payout_concern:raised",
        "payout_concern:answered",
        "payout_concern:answer_edited",
    ]
    # The same answer again changes nothing.
    concerns.answer_concern(concern, by=organizer, text="The tools include a rented tiller.")
    assert AuditEvent.objects.filter(action__startswith="payout_concern:answer").count() == 2


def test_a_co_organizer_may_answer(campaign, payout, supporter):
    concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
    co_organizer = co_organizer_of(campaign)
    answered = concerns.answer_concern(concern, by=co_organizer, text="See the budget page.")
    assert answered.answered_by == co_organizer


def test_nobody_else_may_answer(client, payout, supporters):
    concern = concerns.raise_concern(payout, by=supporters[0], text=TEXT)
    for member in (MemberFactory(), supporters[0], supporters[1], approver()):
        with pytest.raises(NotPermitted):
            concerns.answer_concern(concern, by=member, text="Trust us.")
        client.force_login(member)
        assert client.post(answer_url(concern), {"text": "Trust us."}).status_code == 404
    concern.refresh_from_db()
    assert concern.answer == ""


def test_an_empty_answer_is_refused(client, campaign, payout, supporter):
    concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
    client.force_login(campaign.organizer)
    response = client.post(answer_url(concern), {"text": "  "})
    assert any("Write your answer" in message for message in messages_of(response))
    concern.refresh_from_db()
    assert concern.answer == ""


# --- hiding ------------------------------------------------------------------------------------
def test_an_admin_hides_a_concern_with_a_reason_and_it_leaves_the_public_page(
    client, payout, supporters
):
    abusive = concerns.raise_concern(payout, by=supporters[0], text="You are all thieves!!")
    kept = concerns.raise_concern(payout, by=supporters[1], text=TEXT)
    admin = approver()
    assert f'href="{hide_url(abusive)}"' in admin_html(payout, admin)
    passes_two_factor(client, admin)
    page = client.get(hide_url(abusive))
    assert page.status_code == 200
    assert b"You are all thieves" in page.content
    response = client.post(hide_url(abusive), {"reason": "Insults, no question asked."})
    assert response.status_code == 302
    abusive.refresh_from_db()
    assert abusive.is_hidden and abusive.hidden_by == admin
    assert AuditEvent.objects.filter(
        action="payout_concern:hidden",
        target_id=str(abusive.pk),
        actor=admin,
        note="Insults, no question asked.",
    ).exists()

    assert list(concerns.concerns_for(payout)) == [kept]
    assert concerns.visible_concerns_for_payouts([payout]) == {payout.pk: [kept]}
    public = public_html([payout], MemberFactory())
    assert "thieves" not in public and TEXT.replace("?", "") in public
    admin_page = admin_html(payout, admin)
    assert "thieves" in admin_page
    assert "Hidden" in admin_page and "Insults, no question asked." in admin_page
    assert f'href="{hide_url(abusive)}"' not in admin_page  # hidden already
    # Its author cannot raise another, nor can it be answered.
    with pytest.raises(PayoutError, match="already raised"):
        concerns.raise_concern(payout, by=supporters[0], text=TEXT)
    with pytest.raises(PayoutError, match="hid this concern"):
        concerns.answer_concern(abusive, by=payout.campaign.organizer, text="Thanks.")


def test_prefetched_concerns_leave_hidden_ones_out_of_the_public_panel(payout, supporters):
    hidden = concerns.raise_concern(payout, by=supporters[0], text="You are all thieves!!")
    concerns.hide_concern(hidden, by=approver(), reason="Insults.")
    kept = concerns.raise_concern(payout, by=supporters[1], text=TEXT)
    prefetched = Payout.objects.filter(pk=payout.pk).prefetch_related("concerns")
    assert concerns.concern_panels(prefetched, MemberFactory())[payout.pk].concerns == [kept]


def test_hiding_without_a_reason_is_refused(client, payout, supporter):
    concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
    admin = approver()
    with pytest.raises(PayoutError, match="Give a reason"):
        concerns.hide_concern(concern, by=admin, reason="   ")
    passes_two_factor(client, admin)
    response = client.post(hide_url(concern), {"reason": " "})
    assert response.status_code == 400
    assert b"errorlist" in response.content
    concern.refresh_from_db()
    assert not concern.is_hidden
    assert not AuditEvent.objects.filter(action="payout_concern:hidden").exists()


def test_only_staff_holding_approve_payout_may_hide(client, payout, supporter):
    concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
    staff_without = MemberFactory(is_staff=True)
    holder_not_staff = MemberFactory()
    holder_not_staff.user_permissions.add(Permission.objects.get(codename="approve_payout"))
    for member in (MemberFactory(), staff_without, holder_not_staff, payout.campaign.organizer):
        with pytest.raises(NotPermitted):
            concerns.hide_concern(concern, by=member, reason="Because.")
        client.force_login(member)
        assert client.post(hide_url(concern), {"reason": "Because."}).status_code == 403
    concern.refresh_from_db()
    assert not concern.is_hidden


def test_the_hide_page_asks_an_admin_for_a_two_factor_code_first(client, payout, supporter):
    concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
    client.force_login(approver())
    response = client.post(hide_url(concern), {"reason": "Insults."})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    concern.refresh_from_db()
    assert not concern.is_hidden


# --- reads in bounded queries ------------------------------------------------------------------
def queries(function):
    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def test_concerns_of_many_payouts_are_read_in_a_fixed_number_of_queries(
    campaign, organizer, supporters
):
    payouts = small_payouts(campaign, organizer, 5)
    for payout in payouts:
        for supporter in supporters[:2]:
            concern = concerns.raise_concern(payout, by=supporter, text=TEXT)
            concerns.answer_concern(concern, by=organizer, text="Answered.")
    payouts = list(Payout.objects.filter(pk__in=[p.pk for p in payouts]).order_by("id"))

    one = queries(lambda: concerns.visible_concerns_for_payouts(payouts[:1]))
    five = queries(lambda: concerns.visible_concerns_for_payouts(payouts))
    assert one == five == 1
    grouped = concerns.visible_concerns_for_payouts(payouts)
    assert [len(grouped[payout.pk]) for payout in payouts] == [2] * 5

    viewer = supporters[2]
    one = queries(lambda: public_html(payouts[:1], viewer))
    five = queries(lambda: public_html(payouts, viewer))
    assert one == five
    assert public_html(payouts, viewer).count("Answered.") == 10

"""The organizer's supporters list and its CSV export (community.views.dashboard,
pledges.exports): who is listed, names as the public page shows them, the email only with the
supporter's consent, formula injection neutralised, a streamed response, filters, and a 404
for anyone outside the campaign's team."""

import csv
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Collaborator
from pledges import exports
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory

pytestmark = pytest.mark.django_db

Status = Pledge.Status


@pytest.fixture
def campaign():
    return CampaignFactory(live=True, slug="elm-street")


@pytest.fixture
def organizer_client(client, campaign):
    client.force_login(campaign.organizer)
    return client


def download(client, campaign, **params):
    response = client.get(reverse("community:supporters_csv", args=[campaign.pk]), params)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="elm-street-supporters.csv"'
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text[1:])))
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def listing(client, campaign, **params):
    response = client.get(reverse("community:supporters", args=[campaign.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_csv_columns_and_values(organizer_client, campaign):
    reward = RewardTierFactory(campaign=campaign, title="Tote bag")
    pledge = PledgeFactory(
        campaign=campaign,
        reward=reward,
        amount_minor=2_550,
        public_name="Marie",
        status=Status.COLLECTED,
        reward_sent_at=timezone.now(),
        reward_tracking="PARCEL-1",
    )
    header, rows = download(organizer_client, campaign)
    assert header == [
        "Pledge id",
        "Name",
        "Email",
        "Reward",
        "Amount",
        "Currency",
        "Status",
        "Pledged at",
        "Reward sent at",
        "Tracking",
    ]
    (row,) = rows
    assert row["Pledge id"] == str(pledge.public_id)
    assert row["Name"] == "Marie"
    assert row["Reward"] == "Tote bag"
    assert (row["Amount"], row["Currency"]) == ("25.50", "EUR")
    assert row["Status"] == "Collected"
    assert row["Pledged at"] == timezone.localtime(pledge.activated_at).isoformat(
        timespec="seconds"
    )
    assert row["Reward sent at"].startswith(str(timezone.localdate()))
    assert row["Tracking"] == "PARCEL-1"


def test_email_only_with_the_supporters_consent(organizer_client, campaign):
    sharing = MemberFactory(email="yes@example.org", display_name="Sharing")
    private = MemberFactory(email="no@example.org", display_name="Private")
    PledgeFactory(campaign=campaign, supporter=sharing, share_email_with_organizer=True)
    PledgeFactory(campaign=campaign, supporter=private)

    _, rows = download(organizer_client, campaign)
    emails = {row["Name"]: row["Email"] for row in rows}
    assert emails == {"Sharing": "yes@example.org", "Private": ""}

    body = listing(organizer_client, campaign)
    assert "yes@example.org" in body
    assert "no@example.org" not in body


def test_names_as_the_public_page_shows_them(organizer_client, campaign):
    hidden = MemberFactory(display_name="Hidden Person", email="hidden@example.org")
    PledgeFactory(
        campaign=campaign,
        supporter=hidden,
        anonymous=True,
        public_name="Also hidden",
        share_email_with_organizer=True,
    )
    PledgeFactory(campaign=campaign, supporter=MemberFactory(display_name="Display Name"))
    PledgeFactory(campaign=campaign, public_name="Chosen Name")

    _, rows = download(organizer_client, campaign)
    names = sorted(row["Name"] for row in rows)
    assert names == ["Anonymous", "Chosen Name", "Display Name"]
    # An anonymous supporter who consented still gets their reward: the email is there.
    assert {row["Email"] for row in rows if row["Name"] == "Anonymous"} == {"hidden@example.org"}

    body = listing(organizer_client, campaign)
    assert "Anonymous" in body and "Hidden Person" not in body and "Also hidden" not in body


def test_the_list_and_the_csv_name_supporters_through_the_pledge_model(
    monkeypatch, organizer_client, campaign
):
    """One rule for "the supporter's public name or Anonymous" (Pledge.display_name and, for
    rows read as values, Pledge.shown_name), translated: the list and the CSV both use it."""
    monkeypatch.setattr("pledges.models.gettext", lambda text: f"[{text}]")
    anonymous = PledgeFactory(campaign=campaign, anonymous=True, public_name="Also hidden")
    named = PledgeFactory(campaign=campaign, public_name="Chosen Name")
    assert (anonymous.display_name, named.display_name) == ("[Anonymous]", "Chosen Name")

    _, rows = download(organizer_client, campaign)
    assert sorted(row["Name"] for row in rows) == ["Chosen Name", "[Anonymous]"]
    body = listing(organizer_client, campaign)
    assert "[Anonymous]" in body and "Also hidden" not in body


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formulas_are_neutralised(organizer_client, campaign, start):
    reward = RewardTierFactory(campaign=campaign, title=f"{start}SUM(A1:A9)")
    PledgeFactory(
        campaign=campaign,
        reward=reward,
        public_name=f'{start}HYPERLINK("http://evil.example","click")',
        status=Status.COLLECTED,
        reward_sent_at=timezone.now(),
        reward_tracking=f"{start}1+1",
    )
    _, (row,) = download(organizer_client, campaign)
    assert row["Name"] == f'\'{start}HYPERLINK("http://evil.example","click")'
    assert row["Reward"] == f"'{start}SUM(A1:A9)"
    assert row["Tracking"] == f"'{start}1+1"
    assert exports.csv_safe("plain") == "plain" and exports.csv_safe(None) == ""


def test_pending_pledges_and_abandoned_attempts_are_left_out(organizer_client, campaign):
    PledgeFactory(campaign=campaign, public_name="Waiting", status=Status.PENDING)
    PledgeFactory(
        campaign=campaign, public_name="Abandoned", status=Status.CANCELLED, activated_at=None
    )
    PledgeFactory(
        campaign=campaign,
        public_name="Changed their mind",
        status=Status.CANCELLED,
        activated_at=timezone.now(),
    )
    PledgeFactory(campaign=campaign, public_name="Active")
    PledgeFactory(public_name="Elsewhere")  # another campaign

    _, rows = download(organizer_client, campaign)
    assert sorted(row["Name"] for row in rows) == ["Active", "Changed their mind"]
    body = listing(organizer_client, campaign)
    assert "Waiting" not in body and "Abandoned" not in body and "Elsewhere" not in body


def test_the_export_streams_in_pieces(campaign):
    for n in range(12):
        PledgeFactory(campaign=campaign, public_name=f"Supporter {n}")
    pieces = list(exports.csv_lines(campaign, chunk_size=5, rows_per_write=5))
    assert pieces[0] == "\ufeff"
    assert len(pieces) == 1 + 3  # header + 12 rows, five lines a piece
    assert sum(piece.count("\r\n") for piece in pieces) == 13


def test_status_reward_and_fulfilment_filters(organizer_client, campaign):
    tote = RewardTierFactory(campaign=campaign, title="Tote bag")
    card = RewardTierFactory(campaign=campaign, title="Card")
    PledgeFactory(campaign=campaign, public_name="Ann Tote", reward=tote, status=Status.COLLECTED)
    PledgeFactory(
        campaign=campaign,
        public_name="Bob Card",
        reward=card,
        status=Status.COLLECTED,
        reward_sent_at=timezone.now(),
    )
    PledgeFactory(campaign=campaign, public_name="Cy Dropped", status=Status.DROPPED)

    def names(**params):
        body = listing(organizer_client, campaign, **params)
        return {n for n in ("Ann Tote", "Bob Card", "Cy Dropped") if n in body}

    assert names() == {"Ann Tote", "Bob Card", "Cy Dropped"}
    assert names(status="collected") == {"Ann Tote", "Bob Card"}
    assert names(status="dropped") == {"Cy Dropped"}
    assert names(reward=str(tote.pk)) == {"Ann Tote"}
    assert names(fulfilment="sent") == {"Bob Card"}
    assert names(fulfilment="not_sent") == {"Ann Tote"}
    # A value that is no choice is a form error, not a 500; the list is then unfiltered.
    body = listing(organizer_client, campaign, status="nonsense")
    assert "errorlist" in body


def test_the_list_is_paginated_in_constant_queries(organizer_client, campaign):
    reward = RewardTierFactory(campaign=campaign)

    def queries(count):
        for _ in range(count):
            PledgeFactory(campaign=campaign, reward=reward, status=Status.COLLECTED)
        with CaptureQueriesContext(connection) as captured:
            listing(organizer_client, campaign)
        return len(captured)

    assert queries(3) == queries(60)
    body = listing(organizer_client, campaign, page=2)
    assert "Page 2 of 2" in body


def test_strangers_get_a_404_and_co_organizers_the_list(client, campaign):
    supporter = MemberFactory()
    PledgeFactory(campaign=campaign, supporter=supporter)
    for member in (supporter, MemberFactory()):
        client.force_login(member)
        for name in ("community:supporters", "community:supporters_csv"):
            assert client.get(reverse(name, args=[campaign.pk])).status_code == 404
    co_organizer = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=co_organizer.email,
        member=co_organizer,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    client.force_login(co_organizer)
    download(client, campaign)
    client.logout()
    response = client.get(reverse("community:supporters_csv", args=[campaign.pk]))
    assert response.status_code == 302


# --- the supporter's consent (pledges.forms, pledges.services) --------------------------------
CONSENT = "Share my email address with the organizer so they can deliver my reward"


def test_the_pledge_form_asks_for_consent_off_by_default(standin_settings, client, campaign):
    import uuid

    supporter = MemberFactory(email="giving@example.org")
    client.force_login(supporter)
    form_url = reverse("pledges:new", args=[campaign.slug])
    body = client.get(form_url).content.decode()
    assert CONSENT in body
    checkbox = body[body.index('name="share_email_with_organizer"') - 80 :].split(">")[0]
    assert "checked" not in checkbox

    data = {"reward": "", "amount": "10", "idempotency_key": uuid.uuid4().hex}
    client.post(form_url, {**data, "share_email_with_organizer": "on"})
    assert Pledge.objects.get(supporter=supporter).share_email_with_organizer is True

    other = MemberFactory()
    client.force_login(other)
    client.post(form_url, {**data, "idempotency_key": uuid.uuid4().hex})
    assert Pledge.objects.get(supporter=other).share_email_with_organizer is False


def test_the_supporter_changes_consent_on_their_pledge(client, campaign):
    from core.models import AuditEvent

    pledge = PledgeFactory(campaign=campaign, amount_minor=1_000)
    client.force_login(pledge.supporter)
    detail = reverse("pledges:detail", args=[pledge.public_id])
    assert CONSENT in client.get(detail).content.decode()
    client.post(detail, {"amount": "10", "reward": "", "share_email_with_organizer": "on"})
    pledge.refresh_from_db()
    assert pledge.share_email_with_organizer is True
    client.post(detail, {"amount": "10", "reward": ""})  # unticked: withdrawn
    pledge.refresh_from_db()
    assert pledge.share_email_with_organizer is False
    notes = AuditEvent.objects.filter(target_id=str(pledge.pk), action="changed")
    assert [e.note.rsplit("; ", 1)[-1] for e in notes.order_by("pk")] == [
        "email shared with the organizer: yes",
        "email shared with the organizer: no",
    ]

"""Downloading receipts (payouts.receipt_views): public with the campaign's accounts unless the
payout was rejected, always for the organizers and staff, 404 for anyone else; always an
attachment with headers that keep a browser from treating it as a page."""

from datetime import timedelta
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from campaigns.models import Campaign, Collaborator
from core.media import MEDIA_CSP
from payouts.models import Payout, PayoutAccount, PayoutReceipt
from payouts.receipt_views import attachment_header
from payouts.receipts import check_receipt
from tests.factories import CampaignFactory, MemberFactory
from tests.uploads import image_bytes

pytestmark = [pytest.mark.django_db]

Status = Payout.Status


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def pdf_bytes():
    buffer = BytesIO()
    Image.new("RGB", (200, 100), (200, 10, 10)).save(buffer, "PDF")
    return buffer.getvalue()


def make_payout(campaign, status=Status.REQUESTED):
    return Payout.objects.create(
        campaign=campaign,
        requested_by=campaign.organizer,
        amount_minor=12_000,
        currency=campaign.currency,
        status=status,
        method=PayoutAccount.Method.BANK_TRANSFER,
        destination="BE68 •••• 7034",
        note="Seeds and soil",
        review_window_ends_at=timezone.now() + timedelta(hours=48),
    )


def make_receipt(payout, name="Factuur café.pdf", content=None, content_type="application/pdf"):
    """As payouts.services stores one: checked, then saved through the model's upload_to."""
    checked = check_receipt(SimpleUploadedFile(name, content or pdf_bytes(), content_type))
    receipt = PayoutReceipt(
        payout=payout,
        original_name=checked.original_name,
        content_type=checked.content_type,
        size=checked.size,
    )
    receipt.file.save(checked.content.name, checked.content, save=True)
    return receipt


def url(receipt, public_id=None):
    return reverse(
        "payouts:receipt",
        kwargs={
            "public_id": public_id or receipt.payout.public_id,
            "receipt_id": receipt.pk,
        },
    )


def body(response):
    return b"".join(response.streaming_content)


def stored(receipt):
    with receipt.file.open("rb") as handle:
        return handle.read()


@pytest.fixture
def campaign():
    campaign = CampaignFactory(live=True)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.FUNDED)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def co_organizer(campaign):
    member = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=member.email,
        member=member,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    return member


def as_who(client, who, campaign, co_organizer):
    """Log `client` in as one of the people the rules name."""
    member = {
        "anonymous": None,
        "stranger": MemberFactory(),
        "organizer": campaign.organizer,
        "co-organizer": co_organizer,
        "staff": MemberFactory(is_staff=True),
    }[who]
    if member is not None:
        client.force_login(member)
    return client


def test_anyone_downloads_a_receipt_of_a_public_campaign_as_an_attachment(client, campaign):
    receipt = make_receipt(make_payout(campaign))

    response = client.get(url(receipt))

    assert response.status_code == 200
    assert body(response) == stored(receipt)
    assert body(client.get(url(receipt))).startswith(b"%PDF-")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Factuur cafe.pdf\"; filename*=UTF-8''Factuur%20caf%C3%A9.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == MEDIA_CSP
    assert response["Cache-Control"].startswith("private")
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_an_image_receipt_is_served_as_its_type_and_named_with_our_extension(client, campaign):
    receipt = make_receipt(
        make_payout(campaign),
        name="invoice.pdf",  # a PNG the uploader named .pdf
        content=image_bytes((300, 400)),
    )

    response = client.get(url(receipt))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith('attachment; filename="invoice.png"')
    assert body(response).startswith(b"\x89PNG")


@pytest.mark.parametrize("status", [s for s in Status if s != Status.REJECTED])
def test_receipts_of_a_payout_that_is_not_rejected_are_public(client, campaign, status):
    receipt = make_receipt(make_payout(campaign, status))
    assert client.get(url(receipt)).status_code == 200


@pytest.mark.parametrize(
    ("who", "status_code"),
    [
        ("anonymous", 404),
        ("stranger", 404),
        ("organizer", 200),
        ("co-organizer", 200),
        ("staff", 200),
    ],
)
def test_receipts_of_a_rejected_payout_are_for_organizers_and_staff(
    client, campaign, co_organizer, who, status_code
):
    receipt = make_receipt(make_payout(campaign, Status.REJECTED))
    assert as_who(client, who, campaign, co_organizer).get(url(receipt)).status_code == (
        status_code
    )


@pytest.mark.parametrize(
    "campaign_status",
    [s for s in Campaign.Status if s not in Campaign.PUBLIC_STATUSES],
)
@pytest.mark.parametrize(
    ("who", "status_code"),
    [
        ("anonymous", 404),
        ("stranger", 404),
        ("organizer", 200),
        ("co-organizer", 200),
        ("staff", 200),
    ],
)
def test_receipts_of_a_campaign_that_is_not_public_are_for_organizers_and_staff(
    client, campaign, co_organizer, campaign_status, who, status_code
):
    receipt = make_receipt(make_payout(campaign))
    Campaign.objects.filter(pk=campaign.pk).update(status=campaign_status)
    assert as_who(client, who, campaign, co_organizer).get(url(receipt)).status_code == (
        status_code
    )


def test_an_invitation_not_yet_accepted_gives_no_access(client, campaign):
    invited = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign, email=invited.email, member=invited, invited_by=campaign.organizer
    )
    receipt = make_receipt(make_payout(campaign, Status.REJECTED))
    client.force_login(invited)
    assert client.get(url(receipt)).status_code == 404


def test_organizing_another_campaign_gives_no_access(client, campaign):
    receipt = make_receipt(make_payout(campaign, Status.REJECTED))
    other = CampaignFactory(live=True)
    client.force_login(other.organizer)
    assert client.get(url(receipt)).status_code == 404


def test_a_receipt_is_only_found_under_its_own_payout(client, campaign):
    receipt = make_receipt(make_payout(campaign))
    other_payout = make_payout(campaign)
    assert client.get(url(receipt, public_id=other_payout.public_id)).status_code == 404
    assert client.get(url(receipt)).status_code == 200


def test_only_get_and_head(client, campaign):
    receipt = make_receipt(make_payout(campaign))
    assert client.head(url(receipt)).status_code == 200
    assert client.post(url(receipt)).status_code == 405


def test_a_receipt_whose_file_is_gone_is_a_404(client, campaign):
    receipt = make_receipt(make_payout(campaign))
    receipt.file.storage.delete(receipt.file.name)
    assert client.get(url(receipt)).status_code == 404


def test_a_row_whose_type_does_not_match_its_file_is_not_served(client, campaign):
    receipt = make_receipt(make_payout(campaign))
    PayoutReceipt.objects.filter(pk=receipt.pk).update(content_type="text/html")
    assert client.get(url(receipt)).status_code == 404


def test_receipts_are_stored_under_the_payout_with_our_own_names(campaign):
    payout = make_payout(campaign)
    receipt = make_receipt(payout, name="../../evil.html.pdf")
    folder, _, file_name = receipt.file.name.rpartition("/")
    assert folder == f"receipts/{payout.public_id}"
    assert len(file_name) == len("0" * 32 + ".pdf") and file_name.endswith(".pdf")
    assert receipt.original_name == "evil.html.pdf"


def test_image_receipts_are_not_served_by_the_public_media_view(client, campaign):
    receipt = make_receipt(make_payout(campaign, Status.REJECTED), content=image_bytes((30, 40)))
    assert client.get(f"/media/{receipt.file.name}").status_code == 404


@pytest.mark.parametrize(
    ("original_name", "extension", "header"),
    [
        (
            "invoice.pdf",
            ".pdf",
            "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf",
        ),
        (
            "发票.pdf",
            ".pdf",
            "attachment; filename=\"receipt.pdf\"; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf",
        ),
        (
            'a"b;c\\d.exe',
            ".png",
            "attachment; filename=\"a_b_c_d.png\"; filename*=UTF-8''a%22b%3Bc%5Cd.png",
        ),
        ("", ".jpg", "attachment; filename=\"receipt.jpg\"; filename*=UTF-8''receipt.jpg"),
    ],
)
def test_the_download_name_is_safe_in_the_header(original_name, extension, header):
    assert attachment_header(original_name, extension) == header

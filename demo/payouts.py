"""The demo's money after the deadline, made through the payout services as the pages do it.

On the funded demo campaign (the Liège parish hall's solar panels): its organizer onboards a
Connect account at the stand-in; one supporter's pledge is refunded by the treasurer; a first
payout, allocated to two budget items with the installer's invoice attached, has its review
window waived by the admin (the panels had to be ordered) and is approved by the treasurer —
four eyes, both enrolled in two-factor — and transferred; a second request is in its review
window, with a supporter's concern and the organizer's public answer. Once made, it is left
alone: a run finding payouts on the campaign changes nothing.
"""

from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from campaigns.models import Campaign
from demo import browser
from payouts import concerns, refunds, services
from payouts.models import PayoutAccount
from payouts.receipts import check_receipt
from payouts.selectors import payout_breakdown
from pledges.models import Pledge

FUNDED_SLUG = "liege-parish-hall-solar"
ONBOARDING_URL = "http://localhost/payouts/account/"  # the links are made, never followed


def ensure_demo_payouts(people):
    """Make the demo's payouts, refund and concern if the funded campaign has none yet; returns
    the campaign (None when it is not there or not funded)."""
    campaign = Campaign.objects.filter(slug=FUNDED_SLUG, status=Campaign.Status.FUNDED).first()
    if campaign is None or campaign.payouts.exists():
        return campaign
    organizer, admin, treasurer = campaign.organizer, people["admin"], people["treasurer"]
    _onboard(organizer)

    supporters = list(
        Pledge.objects.filter(campaign=campaign, status=Pledge.Status.COLLECTED)
        .select_related("supporter")
        .order_by("pk")
    )
    refunds.refund_pledge(
        supporters[-1], by=treasurer, reason="The supporter pledged twice by mistake."
    )

    items = {item.label: item for item in campaign.budget_items.all()}
    panels, wiring = items["60 solar panels"], items["Inverter and wiring"]
    first = services.request_payout(
        campaign,
        by=organizer,
        amount_minor=15_000_00,
        currency=campaign.currency,
        allocations=[
            services.Allocation(panels.pk, 12_000_00),
            services.Allocation(wiring.pk, 3_000_00),
        ],
        note="The panels and the inverter, ordered from SolarCoop Liège (invoice attached).",
        receipts=[check_receipt(_invoice("SolarCoop Liège", "2026-114", "€15,000.00"))],
    )
    services.waive_review_window(
        first, by=admin, reason="The supplier holds the panels' price only until Friday."
    )
    # As the treasurer does in the admin after entering the code `demo_totp` prints.
    services.approve_payout(
        first, by=treasurer, two_factor_session=True, note="Invoice matches the budget lines."
    )

    available = payout_breakdown(campaign).available
    second = services.request_payout(
        campaign,
        by=organizer,
        amount_minor=min(4_000_00, available),
        currency=campaign.currency,
        allocations=[services.Allocation(items["Installation"].pk, min(4_000_00, available))],
        note="The roofers' first instalment for the installation.",
    )
    concern = concerns.raise_concern(
        second,
        by=supporters[0].supporter,
        text="Is the installer insured for work on a roof this old?",
    )
    concerns.answer_concern(
        concern,
        by=organizer,
        text="Yes: their insurance certificate is pinned in the hall, and the roof was "
        "inspected in October.",
    )
    return campaign


def _onboard(organizer):
    account = PayoutAccount.objects.filter(member=organizer).first()
    if account is None or not account.stripe_account_id:
        services.start_onboarding(organizer, return_url=ONBOARDING_URL, refresh_url=ONBOARDING_URL)
        account = PayoutAccount.objects.get(member=organizer)
    browser.complete_onboarding(account.stripe_account_id)
    services.refresh_connected_account(organizer)


def _invoice(supplier, number, total):
    """A small scanned-looking invoice (PNG), as an organizer would photograph one."""
    image = Image.new("RGB", (620, 800), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, 590, 770), outline="#8a8a8a", width=2)
    lines = [
        (60, 60, f"{supplier}"),
        (60, 90, f"Invoice {number}"),
        (60, 150, "Bill to: Sainte-Marguerite energy co-op"),
        (60, 230, "60 solar panels ............ €12,000.00"),
        (60, 260, "Inverter and wiring ......... €3,000.00"),
        (60, 340, f"Total ...................... {total}"),
        (60, 700, "Paid by bank transfer on delivery. Thank you."),
    ]
    for x, y, text in lines:
        draw.text((x, y), text, fill="#222222")
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile(f"invoice-{number}.png", buffer.getvalue(), "image/png")

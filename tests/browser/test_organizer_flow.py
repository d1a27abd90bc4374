"""An organizer goes from "Start a campaign" to a live public page in headless Chromium:
every step of the workspace (with a cover upload, a reward, a budget item and a stretch
goal), the preview, submit for review, approval by staff, launch."""

import mimetypes
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Campaign
from tests.factories import PASSWORD, MemberFactory, ReviewerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_cover(path):
    """A 1600×900 PNG that looks like something: sky, a hill, a sun, a shed."""
    image = Image.new("RGB", (1600, 900), (196, 226, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((1180, 90, 1380, 290), fill=(244, 201, 93))
    draw.ellipse((-300, 520, 1100, 1400), fill=(74, 150, 96))
    draw.ellipse((700, 580, 2000, 1500), fill=(31, 111, 84))
    draw.rectangle((520, 470, 760, 640), fill=(150, 90, 60))
    draw.polygon([(500, 470), (640, 380), (780, 470)], fill=(110, 60, 40))
    image.save(path, "PNG")
    return path


def serve_media(page):
    """The live server does not serve uploads (DEBUG is off); answer /media/ from MEDIA_ROOT."""
    media_root = Path(settings.MEDIA_ROOT)

    def fulfil(route):
        relative = route.request.url.split("/media/", 1)[1].split("?", 1)[0]
        file = (media_root / relative).resolve()
        if media_root.resolve() in file.parents and file.is_file():
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            route.fulfill(status=200, body=file.read_bytes(), content_type=content_type)
        else:
            route.fulfill(status=404, body="")

    page.route("**/media/**", fulfil)


def save_and_continue(page):
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_load_state()


def test_organizer_starts_fills_every_step_submits_and_launches(
    live_server, page, screenshot, tmp_path
):
    organizer = MemberFactory(display_name="Ada Gardener", location="Ghent")
    staff = ReviewerFactory()
    cover = make_cover(tmp_path / "cover.png")
    serve_media(page)
    base = live_server.url

    # Log in, then "Start a campaign".
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(organizer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")
    page.locator(".site-nav").get_by_role("link", name="Start a campaign").click()
    page.wait_for_url("**/campaigns/start/")
    page.get_by_label("What is your campaign called?").fill("Seed library for Brugse Poort")
    screenshot(page, "organizer-01-start")
    page.get_by_role("button", name="Create my draft").click()

    # 1. Basics (the summary counter counts down as you type).
    page.wait_for_url("**/edit/basics/")
    campaign = Campaign.objects.get(organizer=organizer)
    page.get_by_label("Short summary").fill("Free seeds for every balcony and garden in the area.")
    assert page.locator(".ws-counter").inner_text() == "88 characters left"
    page.get_by_label("Category").select_option("food")
    page.get_by_label("Location").fill("Ghent")
    screenshot(page, "organizer-02-basics")
    save_and_continue(page)

    # 2. Story and cover; a too-small picture first shows its error next to the field.
    page.wait_for_url("**/edit/story/")
    small = tmp_path / "small.png"
    Image.new("RGB", (300, 200), (0, 0, 0)).save(small)
    page.get_by_label("Your story").fill(
        "## Why\n\nEvery spring neighbours buy the same seeds in plastic packs. "
        "A **seed library** in the community centre lets everyone borrow seeds and "
        "bring back some of the harvest.\n\n- shelves and jars\n- a seed-saving workshop"
    )
    page.get_by_label("Cover image").set_input_files(small)
    save_and_continue(page)
    assert page.locator("#id_cover_errors").inner_text() == (
        "The cover must be at least 600×300 pixels."
    )
    screenshot(page, "organizer-03-story-cover-error")
    page.get_by_label("Cover image").set_input_files(cover)
    save_and_continue(page)
    page.wait_for_url("**/edit/funding/")
    campaign.refresh_from_db()
    assert campaign.cover_card and "<strong>seed library</strong>" in campaign.story_html
    page.goto(base + f"/campaigns/{campaign.pk}/edit/story/")
    page.wait_for_function(
        "() => { const i = document.querySelector('.ws-cover-current img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    screenshot(page, "organizer-04-story")
    page.get_by_role("link", name="Funding").click()

    # 3. Funding: goal, currency, the model as radio cards, duration (the end date is hidden).
    page.wait_for_url("**/edit/funding/")
    page.get_by_label("Funding goal").fill("2500")
    page.get_by_label("Currency").select_option("EUR")
    page.locator("label.ws-radio-card", has_text="Flexible").click()
    page.get_by_label("Duration in days").fill("30")
    expect(page.locator("#id_end_date")).not_to_be_visible()
    page.get_by_label("An end date").check()
    expect(page.locator("#id_end_date")).to_be_visible()
    page.get_by_label("A number of days").check()
    screenshot(page, "organizer-05-funding")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "organizer-05-funding-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    save_and_continue(page)

    # 4. Rewards: one tier with a limit and a delivery month.
    page.wait_for_url("**/edit/rewards/")
    page.get_by_label("Title").fill("Seed starter kit")
    page.get_by_label("Description").fill("Six jars of local seeds and a planting calendar.")
    page.get_by_label("Minimum pledge").fill("25")
    page.get_by_label("Limited quantity (optional)").fill("40")
    page.get_by_label("Estimated delivery (month)").fill("2026-04")
    screenshot(page, "organizer-06a-reward-form")
    page.get_by_role("button", name="Add reward").click()
    page.wait_for_load_state()
    expect(page.get_by_text("40 of 40 left")).to_be_visible()
    screenshot(page, "organizer-06-rewards")
    save_and_continue(page)

    # 5. Budget: a required item, with the running total against the goal.
    page.wait_for_url("**/edit/budget/")
    page.get_by_label("What it pays for").fill("Shelves and jars")
    page.get_by_label("Amount").fill("1200")
    screenshot(page, "organizer-07a-budget-form")
    page.get_by_role("button", name="Add item").click()
    page.wait_for_load_state()
    assert "Required items: €1,200.00" in page.locator(".ws-budget-total").inner_text()
    screenshot(page, "organizer-07-budget")
    page.get_by_role("link", name="Continue to Stretch goals").click()

    # 6. Stretch goals.
    page.wait_for_url("**/edit/stretch-goals/")
    page.locator("summary", has_text="Add a stretch goal").click()
    page.get_by_label("When the total reaches").fill("4000")
    page.get_by_label("We will also…").fill("Open a second library at the school.")
    page.get_by_role("button", name="Add stretch goal").click()
    page.wait_for_load_state()
    screenshot(page, "organizer-08-stretch-goals")
    page.get_by_role("link", name="Continue to Team").click()

    # 7. Team.
    page.wait_for_url("**/edit/team/")
    screenshot(page, "organizer-09-team")
    page.get_by_role("link", name="Continue to Review").click()

    # 8. Review: nothing missing; preview; submit.
    page.wait_for_url("**/review/")
    expect(page.get_by_text("Everything we need is there.")).to_be_visible()
    screenshot(page, "organizer-10-review")
    page.locator(".ws-body").get_by_role("link", name="Preview", exact=True).click()
    page.wait_for_url("**/preview/")
    expect(page.locator(".banner-preview")).to_be_visible()
    expect(page.get_by_role("heading", name="Seed library for Brugse Poort")).to_be_visible()
    screenshot(page, "organizer-11-preview")
    page.go_back()
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state()
    assert page.locator(".ws-badge").inner_text() == "In review"
    screenshot(page, "organizer-12-in-review")

    # An admin approves (the admin screens are tested elsewhere); the organizer launches.
    services.approve(Campaign.objects.get(pk=campaign.pk), by=staff)
    page.reload()
    expect(page.get_by_role("heading", name="Approved: launch when you are ready")).to_be_visible()
    assert "If you launch now, it ends on" in page.locator(".ws-deadline").inner_text()
    screenshot(page, "organizer-13-approved")
    page.get_by_role("button", name="Launch now").click()
    page.wait_for_load_state()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.LIVE
    assert (campaign.deadline - campaign.launched_at).days == 30
    assert page.url == base + campaign.get_absolute_url()
    expect(page.get_by_role("heading", name="Seed library for Brugse Poort")).to_be_visible()
    expect(page.get_by_text("Your campaign is live!")).to_be_visible()
    screenshot(page, "organizer-14-live-public-page")

    # My campaigns shows it live, with links to the public page.
    page.goto(base + "/campaigns/mine/")
    assert page.locator(".ws-badge").first.inner_text() == "Live"
    screenshot(page, "organizer-15-mine")


def log_in(page, base, member):
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_changes_requested_live_limits_and_cancelling_a_live_campaign(
    live_server, page, screenshot, celery_eager  # the release task runs at once
):
    from pledges.models import Pledge
    from tests.factories import CampaignFactory, PledgeFactory, RewardTierFactory

    organizer = MemberFactory(display_name="Ben Organizer")
    base = live_server.url
    draft = CampaignFactory(
        organizer=organizer,
        title="Repair café on Elm Street",
        review_note="Please add a photo of the venue and say who runs the café each week.",
    )
    live = CampaignFactory(organizer=organizer, live=True, title="Street piano for the square")
    reward = RewardTierFactory(campaign=live, title="Concert ticket", quantity_limit=10)
    pledge = PledgeFactory(campaign=live, reward=reward)
    log_in(page, base, organizer)

    # The reviewer's note is on every step of a draft sent back for changes.
    page.goto(base + f"/campaigns/{draft.pk}/edit/story/")
    note = page.get_by_role("note").filter(has_text="The reviewer asked for changes")
    assert "say who runs the café" in note.inner_text()
    screenshot(page, "organizer-20-changes-requested")

    # On a phone the step bar starts scrolled to the current step.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + f"/campaigns/{draft.pk}/review/")
    assert page.locator(".ws-steps").evaluate("bar => bar.scrollLeft") > 0
    expect(page.locator(".ws-steps .is-current")).to_be_visible()
    screenshot(page, "organizer-21-review-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Live: the money terms are read-only, a reward keeps its price, stock is shown.
    page.goto(base + f"/campaigns/{live.pk}/edit/funding/")
    assert page.get_by_label("Funding goal").is_disabled()
    assert page.get_by_role("button", name="Save and continue").count() == 0
    screenshot(page, "organizer-22-live-funding-frozen")
    page.goto(base + f"/campaigns/{live.pk}/edit/rewards/")
    expect(page.get_by_text("9 of 10 left")).to_be_visible()
    screenshot(page, "organizer-23-live-rewards")
    page.get_by_role("link", name="Edit Concert ticket").click()
    assert page.get_by_label("Minimum pledge").is_disabled()
    page.get_by_label("Description").fill("Front-row seat at the opening concert.")
    screenshot(page, "organizer-24-live-reward-edit")
    page.get_by_role("button", name="Save reward").click()
    page.wait_for_url("**/edit/rewards/")
    expect(page.get_by_text("Front-row seat at the opening concert.")).to_be_visible()

    # Cancelling a live campaign asks first, then releases every pledge.
    page.goto(base + f"/campaigns/{live.pk}/review/")
    page.get_by_role("link", name="Cancel this campaign…").click()
    expect(page.get_by_text("All pledges will be released.")).to_be_visible()
    page.get_by_label("Why are you cancelling? (optional)").fill("The square is being rebuilt.")
    screenshot(page, "organizer-25-cancel-confirm")
    page.get_by_role("button", name="Yes, cancel the campaign").click()
    page.wait_for_url("**/campaigns/mine/")
    screenshot(page, "organizer-26-mine-after-cancel")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "organizer-27-mine-phone")
    live.refresh_from_db()
    pledge.refresh_from_db()
    assert live.status == Campaign.Status.CANCELLED
    assert pledge.status == Pledge.Status.RELEASED

"""Stories have no images (any syntax), stored stories lose theirs, the form says so; and cover
pictures have the accessible name screen-reader users need."""

import re
from importlib import import_module

import pytest
from django.apps import apps

from campaigns import services
from campaigns.forms import StoryForm
from campaigns.models import Campaign
from campaigns.rendering import render_story
from tests.factories import CampaignFactory
from tests.uploads import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "source,text",
    [
        ("<img src=x onerror=alert(1)>", ""),
        ('Look: <img src="https://example.org/cat.png" alt="a cat">', "Look:"),
        ("![Our shed](https://example.org/shed.png)", "Our shed"),
        ("![Our <b>shed</b>](shed.png 'title')", "Our &lt;b&gt;shed&lt;/b&gt;"),
        ("![The plan][plan]\n\n[plan]: https://example.org/plan.png", "The plan"),
        ("[![Logo](logo.png) our site](https://example.org)", "Logo our site"),
        ("<picture><source srcset=x.png><img src=x.png></picture>", ""),
        ("<svg><image href=x.png /></svg>", ""),
    ],
    ids=["raw-onerror", "raw-alt", "markdown", "markdown-html-alt", "reference", "in-link",
         "picture", "svg"],
)  # fmt: skip
def test_images_are_dropped_from_stories_keeping_only_their_alt_text(source, text):
    html = render_story(source)
    for tag in ("<img", "<picture", "<source", "<svg", "<image", "src=", "srcset"):
        assert tag not in html
    assert re.sub(r"<[^>]+>", "", html).strip() == text


def test_an_image_alone_in_a_paragraph_leaves_no_empty_paragraph():
    assert render_story("Hi\n\n<img src=x>\n\nBye") == "<p>Hi</p>\n<p>Bye</p>"


def test_stored_stories_are_rerendered_without_their_images():
    with_image = CampaignFactory(story="Before ![shed](https://example.org/s.png) after")
    without = CampaignFactory(story="Plain words")
    Campaign.objects.filter(pk=with_image.pk).update(
        story_html='<p>Before <img src="https://example.org/s.png" alt="shed"> after</p>'
    )
    Campaign.objects.filter(pk=without.pk).update(story_html="<p>Kept as stored</p>")
    migration = import_module("campaigns.migrations.0004_story_html_without_images")
    migration.rerender_stories_with_images(apps, None)
    assert Campaign.objects.get(pk=with_image.pk).story_html == "<p>Before shed after</p>"
    assert Campaign.objects.get(pk=without.pk).story_html == "<p>Kept as stored</p>"


def test_the_story_form_says_images_are_removed():
    assert "images are removed" in str(StoryForm().fields["story"].help_text)


def test_the_campaign_page_cover_is_named_and_the_card_cover_defers_to_the_title(client):
    campaign = CampaignFactory(live=True, title="Repair café & more")
    services.update_story(
        campaign, by=campaign.organizer, story="Hi", cover=upload("c.png", image_bytes())
    )
    campaign.refresh_from_db()
    page = client.get(campaign.get_absolute_url()).content.decode()
    cover = re.search(rf'<img src="{re.escape(campaign.cover_large.url)}"[^>]*>', page).group(0)
    assert 'alt="Cover image for Repair café &amp; more"' in cover

    cards = client.get("/discover/").content.decode()
    card = re.search(r'<article class="campaign-card">.*?</article>', cards, re.S).group(0)
    # Decorative in a card: the card's heading, right after it, names the campaign.
    assert re.search(rf'<img src="{re.escape(campaign.cover_card.url)}" alt=""', card)
    assert "Repair café &amp; more</a></h3>" in card

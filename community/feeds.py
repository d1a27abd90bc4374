"""The Atom feed of a campaign's updates: only what is public now (a supporters-only update
appears once its public_from date has passed, never before, dated from then)."""

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from community import updates
from community.notifications import site_url

FEED_ITEMS = 20


class CampaignUpdatesFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request, slug):
        return updates.public_campaign(slug)  # NotPermitted (a 404) unless public

    def title(self, campaign):
        return _("Updates from %(campaign)s") % {"campaign": campaign.title}

    def link(self, campaign):
        return site_url(reverse("community:updates", args=[campaign.slug]))

    def feed_url(self, campaign):
        return site_url(reverse("community:updates_feed", args=[campaign.slug]))

    def subtitle(self, campaign):
        return campaign.summary or campaign.title

    def author_name(self, campaign):
        return campaign.organizer.display_name

    def items(self, campaign):
        return updates.public_updates(campaign, limit=FEED_ITEMS)

    def item_title(self, update):
        return update.title

    def item_description(self, update):
        return update.body_html  # sanitized when saved (campaigns.rendering)

    def item_link(self, update):
        return site_url(update.get_absolute_url())

    def item_guid(self, update):
        return site_url(update.get_absolute_url())

    def item_pubdate(self, update):
        # When anyone could first read it: an update that turned public later (its date, an
        # edit) is new to the feed's readers then, not at its older publication date.
        return update.public_since

    def item_updateddate(self, update):
        return max(update.public_since, update.edited_at or update.public_since)

    def item_author_name(self, update):
        return update.author.display_name

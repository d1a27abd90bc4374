"""The home page: featured campaigns, then the ones ending soon (campaigns.selectors)."""

from django.shortcuts import render

from campaigns import selectors


def home(request):
    featured = list(selectors.featured_campaigns())
    # A featured campaign is not repeated in the "ending soon" row below it.
    shown = {campaign.pk for campaign in featured}
    ending_soon = [c for c in selectors.ending_soon(limit=6 + len(featured)) if c.pk not in shown]
    return render(request, "home.html", {"featured": featured, "ending_soon": ending_soon[:6]})

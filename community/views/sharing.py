"""Community pages: sharing (routes in urlpatterns, collected by community.urls).

The widget (/c/<slug>/widget/) is the one page other sites may frame: it sets its own
Content-Security-Policy (frame-ancestors *; core.middleware only sets one where a view has
not) and no X-Frame-Options. It reads no session or user and renders no form, so it sets no
cookie and every visitor gets the same cached copy (campaigns.page_cache, variant "widget",
forgotten with the campaign page). /oembed/ answers oEmbed consumers.
"""

from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import path
from django.utils.cache import patch_cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from campaigns import page_cache
from campaigns.models import Campaign
from community import sharing


@xframe_options_exempt
@require_safe
def widget(request, slug):
    cached = page_cache.lookup(slug, variant="widget")
    if cached is not None:
        html, seconds = cached
    else:
        try:
            campaign = sharing.widget_campaign(slug)
        except Campaign.DoesNotExist:
            raise Http404("No such campaign.") from None
        # Rendered without the request: no context processor, no CSRF token, no session.
        html = render_to_string(
            "community/widget.html",
            {
                "campaign": campaign,
                "campaign_url": sharing.tagged(
                    sharing.absolute(campaign.get_absolute_url()),
                    utm_source="embed",
                    utm_medium="widget",
                ),
                "site_name": sharing.site_name(),
            },
        )
        seconds = page_cache.put(request, campaign, html, variant="widget")
    response = HttpResponse(html)
    response["Content-Security-Policy"] = sharing.widget_policy()
    patch_cache_control(response, public=True, max_age=seconds)
    return response


@require_safe
def oembed(request):
    try:
        answer = sharing.oembed(
            request.GET.get("url", ""),
            format=request.GET.get("format", "json"),
            maxwidth=request.GET.get("maxwidth"),
            maxheight=request.GET.get("maxheight"),
        )
    except sharing.OEmbedError as error:
        return JsonResponse({"error": error.message}, status=error.status)
    response = JsonResponse(answer)
    patch_cache_control(response, public=True, max_age=sharing.OEMBED_CACHE_SECONDS)
    # Consumers fetch it from their servers, and some from browsers.
    response["Access-Control-Allow-Origin"] = "*"
    return response


urlpatterns = [
    path("c/<slug:slug>/widget/", widget, name="widget"),
    path("oembed/", oembed, name="oembed"),
]

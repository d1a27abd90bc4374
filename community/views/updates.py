"""Community pages: a campaign's updates (the list, the permalink, the Atom feed) and the
team's pages to post and edit one. Routes in urlpatterns, collected by community.urls.

Reads go through community.updates' selectors, writes through its services; a
supporters-only update is a 404 to anyone who may not read it, as is anything of a campaign
that is not public.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from community import updates
from community.feeds import CampaignUpdatesFeed
from community.forms import EditUpdateForm, UpdateForm
from community.notifications import site_url
from core.errors import DomainError, NotPermitted
from pledges import referrals


# --- public pages -----------------------------------------------------------------------------
def update_list(request, slug):
    campaign = updates.public_campaign(slug)
    on_team, reads_all = updates.viewer_standing(campaign, request.user)
    queryset = updates.visible_updates(campaign, request.user, reads_supporters_only=reads_all)
    page = Paginator(queryset, updates.LIST_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "community/updates/list.html",
        {
            "campaign": campaign,
            "page": page,
            "page_numbers": page.paginator.get_elided_page_range(
                page.number, on_each_side=1, on_ends=1
            ),
            "can_post": on_team,
            "canonical_url": site_url(
                request.path + (f"?page={page.number}" if page.number > 1 else "")
            ),
        },
    )


def update_detail(request, slug, number):
    update, on_team = updates.update_for_permalink(slug, number, request.user)
    response = render(
        request,
        "community/updates/detail.html",
        {
            "campaign": update.campaign,
            "update": update,
            "can_edit": on_team,
            "canonical_url": site_url(update.get_absolute_url()),
        },
    )
    # A shared update's ?ref= / ?utm_source= count for its campaign's pledges.
    referrals.remember(request, response, update.campaign.slug)
    return response


# --- the team's pages -------------------------------------------------------------------------
def _team_campaign(request, pk):
    return get_object_or_404(Campaign.objects.editable_by(request.user), pk=pk)


def _attempt(form, call):
    """Run a service call; show its DomainError on the form. The result, or None."""
    try:
        return call()
    except NotPermitted:
        raise
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None


@login_required
def new_update(request, pk):
    campaign = _team_campaign(request, pk)
    posted = request.method == "POST"
    form = UpdateForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        update = _attempt(
            form,
            lambda: updates.post_update(campaign, by=request.user, **form.service_arguments()),
        )
        if update is not None:
            if update.is_public:
                messages.success(
                    request, _("Your update is posted. Supporters and followers get it by email.")
                )
            else:
                messages.success(
                    request, _("Your update is posted for supporters. They get it by email.")
                )
            return redirect(update)
    return render(
        request,
        "community/updates/form.html",
        {"campaign": campaign, "form": form, "update": None, "is_public": campaign.is_public},
    )


@login_required
def edit_update(request, pk, number):
    campaign = _team_campaign(request, pk)
    update = updates.team_update(campaign, number, by=request.user)
    posted = request.method == "POST"
    form = EditUpdateForm.for_update(
        update, request.POST if posted else None, request.FILES if posted else None
    )
    if posted and form.is_valid():
        was_public, was_emailed = update.is_public, update.emailed_at is not None
        saved = _attempt(
            form,
            lambda: updates.edit_update(update, by=request.user, **form.service_arguments()),
        )
        if saved is not None:
            if saved.is_public and not was_public and was_emailed:
                messages.success(
                    request,
                    _(
                        "Your changes are saved. The update is public now: followers who "
                        "have not had it get it by email."
                    ),
                )
            else:
                messages.success(request, _("Your changes are saved. Nobody is emailed again."))
            return redirect(saved)
    return render(
        request,
        "community/updates/form.html",
        {"campaign": campaign, "form": form, "update": update, "is_public": campaign.is_public},
    )


urlpatterns = [
    path("c/<slug:slug>/updates/", update_list, name="updates"),
    path("c/<slug:slug>/updates/feed/", CampaignUpdatesFeed(), name="updates_feed"),
    path("c/<slug:slug>/updates/<int:number>/", update_detail, name="update"),
    path("campaigns/<int:pk>/updates/new/", new_update, name="new_update"),
    path("campaigns/<int:pk>/updates/<int:number>/edit/", edit_update, name="edit_update"),
]

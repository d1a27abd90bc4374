"""Community pages: the organizer's dashboard, the supporters list with its CSV export, and
reward fulfilment (routes in urlpatterns, collected by community.urls).

Only the campaign's team (organizer and accepted co-organizers) sees these pages, for an
approved, live or ended campaign; anyone else gets a 404. Views parse, call one service or
selector, and render.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from campaigns.views.organizer import STEPS
from community import dashboard as selectors
from community.dashboard_forms import (
    FILTER_KEYS,
    FulfilmentUploadForm,
    MarkSentForm,
    SupportersFilterForm,
)
from core.errors import DomainError
from pledges import exports, fulfilment

SUPPORTERS_PER_PAGE = 50


def _page(request, campaign, template, **context):
    return render(
        request,
        f"community/dashboard/{template}",
        {
            "campaign": campaign,
            # The editing steps while the campaign can still be edited, as on its other pages.
            "steps": STEPS if campaign.content_editable else [],
            "step": "dashboard",
            **context,
        },
    )


@login_required
@require_safe
def dashboard(request, pk):
    campaign = selectors.dashboard_campaign(request.user, pk)
    return _page(request, campaign, "dashboard.html", board=selectors.dashboard(campaign))


def _filter_query(data):
    """The list's own parameters from `data` (a GET or a form's hidden field), re-encoded."""
    query = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        value = data.get(key, "")
        if value and len(value) <= 40:
            query[key] = value
    return query


@login_required
@require_safe
def supporters(request, pk):
    campaign = selectors.dashboard_campaign(request.user, pk)
    rewards = list(campaign.rewards.all())
    form = SupportersFilterForm(request.GET or None, rewards=rewards)
    pledges = exports.supporters_of(campaign, **form.filters())
    page = Paginator(pledges, SUPPORTERS_PER_PAGE).get_page(request.GET.get("page"))
    query = _filter_query(request.GET)
    without_page = query.copy()
    without_page.pop("page", None)
    rows = [
        {
            "pledge": pledge,
            "can_mark": pledge.reward_id is not None
            and pledge.status in fulfilment.FULFILMENT_STATUSES,
        }
        for pledge in page
    ]
    return _page(
        request,
        campaign,
        "supporters.html",
        form=form,
        page=page,
        rows=rows,
        hidden_filters=list(query.items()),
        filter_query=without_page.urlencode(),
        mark_form=MarkSentForm(),
        has_rewards=bool(rewards),
    )


@login_required
@require_safe
def supporters_csv(request, pk):
    """Every supporter as CSV, streamed in chunks (see pledges.exports)."""
    campaign = selectors.dashboard_campaign(request.user, pk)
    response = StreamingHttpResponse(
        exports.csv_lines(campaign), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-supporters.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _back_to_list(request, campaign, pledge):
    query = _filter_query(request.POST)
    url = reverse("community:supporters", args=[campaign.pk])
    return redirect(f"{url}?{query.urlencode()}#pledge-{pledge.public_id}" if query else url)


def _team_pledge(request, pk, pledge_id):
    campaign = selectors.dashboard_campaign(request.user, pk)
    pledge = get_object_or_404(
        campaign.pledges.select_related("campaign", "supporter"), public_id=pledge_id
    )
    return campaign, pledge


@login_required
@require_POST
def reward_sent(request, pk, pledge_id):
    campaign, pledge = _team_pledge(request, pk, pledge_id)
    form = MarkSentForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["tracking"]))
        return _back_to_list(request, campaign, pledge)
    try:
        fulfilment.mark_reward_sent(pledge, by=request.user, tracking=form.cleaned_data["tracking"])
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The reward is marked sent."))
    return _back_to_list(request, campaign, pledge)


@login_required
@require_POST
def reward_not_sent(request, pk, pledge_id):
    campaign, pledge = _team_pledge(request, pk, pledge_id)
    fulfilment.mark_reward_not_sent(pledge, by=request.user)
    messages.success(request, _("The reward is marked not sent."))
    return _back_to_list(request, campaign, pledge)


@login_required
def fulfilment_upload(request, pk):
    """GET: the upload form; POST: apply the file and show what was done, line by line."""
    campaign = selectors.dashboard_campaign(request.user, pk)
    form = FulfilmentUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = fulfilment.bulk_mark_from_csv(
                campaign, by=request.user, file=form.cleaned_data["file"]
            )
        except DomainError as error:
            form.add_error("file", error.message)
    return _page(
        request,
        campaign,
        "fulfilment.html",
        form=form,
        report=report,
        max_rows=fulfilment.UPLOAD_MAX_ROWS,
    )


urlpatterns = [
    path("campaigns/<int:pk>/dashboard/", dashboard, name="dashboard"),
    path("campaigns/<int:pk>/supporters/", supporters, name="supporters"),
    path("campaigns/<int:pk>/supporters.csv", supporters_csv, name="supporters_csv"),
    path(
        "campaigns/<int:pk>/supporters/fulfilment/",
        fulfilment_upload,
        name="fulfilment_upload",
    ),
    path(
        "campaigns/<int:pk>/supporters/<uuid:pledge_id>/sent/",
        reward_sent,
        name="reward_sent",
    ),
    path(
        "campaigns/<int:pk>/supporters/<uuid:pledge_id>/not-sent/",
        reward_not_sent,
        name="reward_not_sent",
    ),
]

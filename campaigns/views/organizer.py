"""The organizer's workspace: start, edit step by step, preview, submit, launch, cancel, and
after the deadline the payment-recovery page (who is still to pay, why, a reminder button).

Every view needs a logged-in member and finds the campaign among those the member may edit
(its organizer and accepted co-organizers; anything else is a 404). Views parse a form, call
one service and render or redirect; a DomainError is shown next to the field it names,
NotPermitted becomes a 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import selectors, services
from campaigns.forms import (
    AllowNoRewardForm,
    BasicsForm,
    BudgetItemForm,
    CancelForm,
    FundingForm,
    InviteForm,
    RewardForm,
    StartForm,
    StoryForm,
    StretchGoalForm,
)
from campaigns.models import Campaign, Collaborator
from core.errors import DomainError, NotPermitted
from pledges import settlement
from pledges.models import Pledge
from pledges.recovery import payment_state, reason_in_words

# (url name, label) in the order an organizer walks through them.
STEPS = [
    ("edit_basics", "Basics"),
    ("edit_story", "Story"),
    ("edit_funding", "Funding"),
    ("edit_rewards", "Rewards"),
    ("edit_budget", "Budget"),
    ("edit_stretch_goals", "Stretch goals"),
    ("edit_team", "Team"),
    ("review", "Review"),
]
STEP_NAMES = [name for name, _ in STEPS]


def _editable_campaign(request, pk):
    return get_object_or_404(Campaign.objects.editable_by(request.user), pk=pk)


def _posted(request):
    """The POST data to bind a form to (even when empty), or None for a GET."""
    return request.POST if request.method == "POST" else None


def _attempt(form, call):
    """Run a service call; show its DomainError on the form. True when it succeeded."""
    try:
        call()
    except NotPermitted:
        raise
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return False
    return True


def _after_save(request, campaign, step, message="Saved."):
    """Go on to the next step for "Save and continue"; stay on this one for "Save"."""
    messages.success(request, message)
    if "continue" in request.POST:
        step = STEP_NAMES[STEP_NAMES.index(step) + 1]
    return redirect(f"campaigns:{step}", pk=campaign.pk)


def _step(request, campaign, step, template, **context):
    index = STEP_NAMES.index(step)
    return render(
        request,
        f"campaigns/organizer/{template}",
        {
            "campaign": campaign,
            "steps": STEPS,
            "step": step,
            "next_step": STEPS[index + 1] if index + 1 < len(STEPS) else None,
            "is_owner": campaign.organizer_id == request.user.pk,
            **context,
        },
    )


# --- start and list ----------------------------------------------------------------------------
@login_required
def start(request):
    form = StartForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        campaign = services.start_campaign(
            organizer=request.user,
            title=form.cleaned_data["title"],
            creation_token=form.cleaned_data["creation_token"],
        )
        messages.success(request, "Your draft is saved. Nobody else can see it until it is live.")
        return redirect("campaigns:edit_basics", pk=campaign.pk)
    return render(request, "campaigns/organizer/start.html", {"form": form})


@login_required
def mine(request):
    campaigns = selectors.editable_campaigns(request.user)
    return render(request, "campaigns/organizer/mine.html", {"campaigns": campaigns})


@login_required
def edit(request, pk):
    campaign = _editable_campaign(request, pk)
    step = "edit_basics" if campaign.status == Campaign.Status.DRAFT else "review"
    return redirect(f"campaigns:{step}", pk=campaign.pk)


# --- the steps ---------------------------------------------------------------------------------
@login_required
def edit_basics(request, pk):
    campaign = _editable_campaign(request, pk)
    form = BasicsForm.for_campaign(campaign, _posted(request))
    if request.method == "POST" and form.is_valid():
        saved = _attempt(
            form, lambda: services.update_basics(campaign, by=request.user, **form.cleaned_data)
        )
        if saved:
            return _after_save(request, campaign, "edit_basics")
    return _step(request, campaign, "edit_basics", "basics.html", form=form)


@login_required
def edit_story(request, pk):
    campaign = _editable_campaign(request, pk)
    form = StoryForm(
        _posted(request),
        request.FILES if request.method == "POST" else None,
        initial={"story": campaign.story},
    )
    if request.method == "POST" and form.is_valid():
        saved = _attempt(
            form,
            lambda: services.update_story(
                campaign,
                by=request.user,
                story=form.cleaned_data["story"],
                cover=form.cleaned_data["cover"] or None,
            ),
        )
        if saved:
            return _after_save(request, campaign, "edit_story")
    return _step(request, campaign, "edit_story", "story.html", form=form)


@login_required
def edit_funding(request, pk):
    campaign = _editable_campaign(request, pk)
    form = FundingForm(_posted(request), campaign=campaign)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _attempt(
            form,
            lambda: services.update_funding(
                campaign,
                by=request.user,
                goal_minor=data["goal_minor"],
                currency=data["currency"],
                funding_model=data["funding_model"],
                duration_days=data["duration_days"],
                end_date=data["end_date"],
            ),
        )
        if saved:
            return _after_save(request, campaign, "edit_funding")
    return _step(request, campaign, "edit_funding", "funding.html", form=form)


@login_required
def edit_rewards(request, pk):
    campaign = _editable_campaign(request, pk)
    action = request.POST.get("action")
    reward_form = RewardForm(request.POST if action == "add_reward" else None, campaign=campaign)
    allow_form = AllowNoRewardForm(
        request.POST if action == "allow_no_reward" else None,
        initial={"allow_no_reward": campaign.allow_no_reward},
    )
    added = action == "add_reward" and reward_form.is_valid()
    if added and _save_reward(request, campaign, reward_form):
        return _after_save(request, campaign, "edit_rewards", "Reward added.")
    if action == "allow_no_reward" and allow_form.is_valid():
        saved = _attempt(
            allow_form,
            lambda: services.set_allow_no_reward(
                campaign, by=request.user, allowed=allow_form.cleaned_data["allow_no_reward"]
            ),
        )
        if saved:
            return _after_save(request, campaign, "edit_rewards")
    rewards = selectors.rewards_with_stock(campaign.rewards.all())
    return _step(
        request,
        campaign,
        "edit_rewards",
        "rewards.html",
        rewards=rewards,
        reward_form=reward_form,
        allow_form=allow_form,
    )


def _save_reward(request, campaign, form, reward=None):
    """Create (reward=None) or edit a tier from a valid RewardForm; False if the service refused."""
    data = form.cleaned_data
    return _attempt(
        form,
        lambda: services.save_reward(
            campaign,
            reward,
            by=request.user,
            title=data["title"],
            description=data["description"],
            minimum_minor=data["minimum"],
            quantity_limit=data["quantity_limit"],
            estimated_delivery=data["estimated_delivery"],
        ),
    )


@login_required
def edit_reward(request, pk, reward_pk):
    campaign = _editable_campaign(request, pk)
    reward = get_object_or_404(campaign.rewards, pk=reward_pk)
    form = RewardForm(_posted(request), campaign=campaign, reward=reward)
    valid = request.method == "POST" and form.is_valid()
    if valid and _save_reward(request, campaign, form, reward):
        messages.success(request, "Reward saved.")
        return redirect("campaigns:edit_rewards", pk=campaign.pk)
    return _step(request, campaign, "edit_rewards", "reward_edit.html", form=form, reward=reward)


@login_required
@require_POST
def delete_reward(request, pk, reward_pk):
    campaign = _editable_campaign(request, pk)
    reward = get_object_or_404(campaign.rewards, pk=reward_pk)
    services.delete_reward(reward, by=request.user)
    messages.success(request, f"“{reward.title}” was removed.")
    return redirect("campaigns:edit_rewards", pk=campaign.pk)


@login_required
def edit_budget(request, pk):
    campaign = _editable_campaign(request, pk)
    form = BudgetItemForm(_posted(request), campaign=campaign)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _attempt(
            form,
            lambda: services.save_budget_item(
                campaign,
                by=request.user,
                label=data["label"],
                amount_minor=data["amount"],
                required=data["required"],
            ),
        )
        if saved:
            return _after_save(request, campaign, "edit_budget", "Budget item added.")
    items = list(campaign.budget_items.all())
    required_total, optional_total = selectors.budget_totals(items)
    return _step(
        request,
        campaign,
        "edit_budget",
        "budget.html",
        form=form,
        items=items,
        required_total=required_total,
        optional_total=optional_total,
        over_goal=bool(campaign.goal_minor) and required_total > campaign.goal_minor,
    )


@login_required
@require_POST
def delete_budget_item(request, pk, item_pk):
    campaign = _editable_campaign(request, pk)
    item = get_object_or_404(campaign.budget_items, pk=item_pk)
    services.delete_budget_item(item, by=request.user)
    messages.success(request, f"“{item.label}” was removed from the budget.")
    return redirect("campaigns:edit_budget", pk=campaign.pk)


@login_required
def edit_stretch_goals(request, pk):
    campaign = _editable_campaign(request, pk)
    form = StretchGoalForm(_posted(request), campaign=campaign)
    if request.method == "POST" and form.is_valid():
        saved = _attempt(
            form,
            lambda: services.save_stretch_goal(
                campaign,
                by=request.user,
                amount_minor=form.cleaned_data["amount"],
                description=form.cleaned_data["description"],
            ),
        )
        if saved:
            return _after_save(request, campaign, "edit_stretch_goals", "Stretch goal added.")
    return _step(
        request,
        campaign,
        "edit_stretch_goals",
        "stretch_goals.html",
        form=form,
        goals=campaign.stretch_goals.all(),
    )


@login_required
@require_POST
def delete_stretch_goal(request, pk, goal_pk):
    campaign = _editable_campaign(request, pk)
    goal = get_object_or_404(campaign.stretch_goals, pk=goal_pk)
    services.delete_stretch_goal(goal, by=request.user)
    messages.success(request, "Stretch goal removed.")
    return redirect("campaigns:edit_stretch_goals", pk=campaign.pk)


@login_required
def edit_team(request, pk):
    campaign = _editable_campaign(request, pk)
    action = request.POST.get("action")
    form = InviteForm(request.POST if action == "invite" else None)
    if action == "invite" and form.is_valid():
        saved = _attempt(
            form,
            lambda: services.invite_collaborator(
                campaign, by=request.user, email=form.cleaned_data["email"]
            ),
        )
        if saved:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("campaigns:edit_team", pk=campaign.pk)
    if action == "remove":
        collaborator_pk = request.POST.get("collaborator", "")
        if not collaborator_pk.isdigit():
            raise Http404
        collaborator = get_object_or_404(campaign.collaborators, pk=collaborator_pk)
        services.remove_collaborator(collaborator, by=request.user)
        messages.success(request, f"{collaborator.email} is no longer on the team.")
        return redirect("campaigns:edit_team", pk=campaign.pk)
    return _step(
        request,
        campaign,
        "edit_team",
        "team.html",
        form=form,
        collaborators=campaign.collaborators.select_related("member"),
    )


# --- review, preview and the lifecycle -----------------------------------------------------------
@login_required
def review(request, pk):
    campaign = _editable_campaign(request, pk)
    Status = Campaign.Status
    return _step(
        request,
        campaign,
        "review",
        "review.html",
        problems=services.readiness_problems(campaign) if campaign.status == Status.DRAFT else [],
        planned_deadline=campaign.planned_deadline(timezone.now())
        if campaign.status == Status.APPROVED
        else None,
        can_cancel=campaign.status in (Status.DRAFT, Status.APPROVED, Status.LIVE),
    )


@login_required
def preview(request, pk):
    from campaigns.views.public import render_campaign_page

    # Its editors, and staff reviewing it from the admin's queue (visible_to lets staff see all).
    if not request.user.is_staff:
        _editable_campaign(request, pk)
    try:
        campaign = selectors.campaign_for_page(pk, request.user)
    except Campaign.DoesNotExist:
        raise Http404 from None
    return render_campaign_page(request, campaign, preview=True)


@login_required
@require_POST
def submit(request, pk):
    campaign = _editable_campaign(request, pk)
    try:
        services.submit_for_review(campaign, by=request.user)
    except NotPermitted:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Submitted for review. We usually reply within two working days; you will get "
            "an email.",
        )
    return redirect("campaigns:review", pk=campaign.pk)


@login_required
@require_POST
def launch(request, pk):
    campaign = _editable_campaign(request, pk)
    try:
        campaign = services.launch(campaign, by=request.user)
    except NotPermitted:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("campaigns:review", pk=campaign.pk)
    messages.success(request, "Your campaign is live! Share the link with your neighbours.")
    return redirect(campaign.get_absolute_url())


@login_required
def cancel(request, pk):
    """GET: a confirmation page (what cancelling means); POST: cancel."""
    campaign = _editable_campaign(request, pk)
    if campaign.organizer_id != request.user.pk:
        raise Http404("Only the organizer can cancel a campaign.")
    form = CancelForm(_posted(request))
    cancelled = (
        request.method == "POST"
        and form.is_valid()
        and _attempt(
            form,
            lambda: services.cancel(campaign, by=request.user, reason=form.cleaned_data["reason"]),
        )
    )
    if cancelled:
        messages.success(request, f"“{campaign.title}” was cancelled.")
        return redirect("campaigns:mine")
    return render(request, "campaigns/organizer/cancel.html", {"campaign": campaign, "form": form})


@login_required
def accept_invitation(request, token):
    invitation = get_object_or_404(Collaborator.objects.select_related("campaign"), token=token)
    try:
        services.accept_invitation(token, member=request.user)
    except NotPermitted:
        # Not for this account: a 404 like any other foreign campaign, but say what to do.
        return render(
            request,
            "campaigns/organizer/invitation_mismatch.html",
            {"invitation": invitation},
            status=404,
        )
    messages.success(request, f"You are now a co-organizer of “{invitation.campaign.title}”.")
    return redirect(reverse("campaigns:edit", args=[invitation.campaign.pk]))


# --- after the deadline: payment recovery --------------------------------------------------------
def _latest_attempt(pledge):
    return pledge.attempts_newest_first[0] if pledge.attempts_newest_first else None


# Codes on an attempt that the bank never declined: their reason stands alone.
_NOT_A_DECLINE = frozenset({settlement.NO_CARD, settlement.NOT_CHARGED})


def _pending_row(pledge, now):
    latest = _latest_attempt(pledge)
    state = payment_state(pledge, latest_attempt=latest, now=now)
    if state.key == "confirm":
        words = _("Waiting for the supporter to confirm the payment")
    elif state.key == "declined":
        code = latest.decline_code if latest is not None else settlement.NO_CARD
        words = (
            state.reason
            if code in _NOT_A_DECLINE
            else _("Card declined: %(reason)s") % {"reason": state.reason}
        )
    else:
        words = _("Being collected now")
    return {
        "pledge": pledge,
        "name": pledge.display_name,
        "state": state,
        "in_words": words,
        "can_remind": pledge.status in (Pledge.Status.ACTION_REQUIRED, Pledge.Status.RETRYING),
    }


def _dropped_row(pledge):
    latest = _latest_attempt(pledge)
    code = latest.decline_code if latest is not None else settlement.NO_CARD
    if code == "authentication_required":
        # Its decline reason speaks of now ("the bank wants…"); this is why it was dropped.
        reason = _("The supporter did not confirm the payment with their bank in time.")
    else:
        reason = reason_in_words(code) or reason_in_words("card_declined")
    return {"pledge": pledge, "name": pledge.display_name, "reason": reason}


@login_required
def payments(request, pk):
    """Who still has to pay (and why, in words), what could not be collected, the figures."""
    campaign = _editable_campaign(request, pk)
    now = timezone.now()
    figures = selectors.settled_figures(campaign)
    pending, dropped = [], []
    if figures:  # before the deadline the page has only the figures' placeholder
        pending = [_pending_row(p, now) for p in selectors.payment_recovery(campaign)]
        dropped = [_dropped_row(p) for p in selectors.dropped_payments(campaign)]
    return render(
        request,
        "campaigns/organizer/payments.html",
        {
            "campaign": campaign,
            "steps": STEPS,
            "step": "payments",
            "figures": figures,
            "pending": pending,
            "dropped": dropped,
        },
    )


@login_required
@require_POST
def send_reminder(request, pk, pledge_id):
    """Email one supporter whose payment is pending (at most once a day: the service says)."""
    campaign = _editable_campaign(request, pk)
    pledge = get_object_or_404(campaign.pledges.select_related("supporter"), public_id=pledge_id)
    try:
        settlement.send_payment_reminder(pledge, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if pledge.anonymous:
            sent = _("We sent the anonymous supporter a reminder.")
        else:
            sent = _("We sent %(name)s a reminder.") % {"name": pledge.display_name}
        messages.success(request, sent)
    return redirect("campaigns:payments", pk=campaign.pk)

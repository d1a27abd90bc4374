"""Every write to campaigns: drafting, review, launch, cancellation, team. Views call these.

Rules enforced here (forms check them too, for friendly messages; the database checks the
hard limits again): money terms (goal, currency, funding model, duration/end date) change
only in a draft; a live campaign's story, cover, reward descriptions, new tiers and stretch
goals may change; the required budget fits within the goal; rewards' minimums do not exceed it.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.text import slugify

from campaigns import images, page_cache
from campaigns.models import (
    MAX_DURATION_DAYS,
    BudgetItem,
    Campaign,
    Collaborator,
    RewardTier,
    StretchGoal,
)
from campaigns.rendering import render_story
from core.emails import queue_email
from core.errors import DomainError, NotPermitted
from core.models import record
from core.money import exponent, format_money, validate_goal
from core.transitions import transition

Status = Campaign.Status


# --- the lock pledge writes hold --------------------------------------------------------------
def lock_for_pledging(campaign_id):
    """The campaign, its row share-locked (FOR KEY SHARE) until the caller's transaction ends.

    Every pledge write (start, activate, change, cancel) holds this while it checks that the
    campaign is live, so the deadline is decided by the campaign's status under a lock, not by
    the clock alone: closing the campaign (`transition` to settling takes FOR UPDATE, the one
    lock KEY SHARE conflicts with) waits for the pledge writes in progress, and they wait for
    it, then see it closed. Many pledge writes share the lock at once and an organizer's edit
    (FOR NO KEY UPDATE) does not wait for them, so a hot campaign's pledges do not queue on its
    row (bench/pledge_throughput.py). SQLite has no row locks; its IMMEDIATE transactions
    (config/settings.py) serialize all writers instead.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_for_pledging must be called inside a transaction")
    if connection.vendor == "postgresql":
        # Django's select_for_update() has no FOR KEY SHARE; the table name is ours, not input.
        table = connection.ops.quote_name(Campaign._meta.db_table)
        sql = f"SELECT * FROM {table} WHERE id = %s FOR KEY SHARE"  # noqa: S608
        return Campaign.objects.raw(sql, [campaign_id])[0]
    return Campaign.objects.get(pk=campaign_id)


# --- permissions -----------------------------------------------------------------------------
def can_edit(campaign, member):
    if not member.is_authenticated:
        return False
    if campaign.organizer_id == member.pk:
        return True
    return campaign.collaborators.filter(member=member, accepted_at__isnull=False).exists()


EDIT_PERMISSION = "campaigns.change_campaign"


def _is_staff_editor(member):
    """Staff who may change campaigns in the admin edit through these same services."""
    return member.is_authenticated and member.is_staff and member.has_perm(EDIT_PERMISSION)


def _require_editor(campaign, by):
    """Edits of content and terms: the team, or staff editing in the admin."""
    if not (can_edit(campaign, by) or _is_staff_editor(by)):
        raise NotPermitted("You cannot edit this campaign.")


def _require_team(campaign, by):
    """Decisions that are the organizers' own (submitting, launching): never staff's."""
    if not can_edit(campaign, by):
        raise NotPermitted("You cannot edit this campaign.")


def _record_edit(campaign, action, *, by, changed, subject=""):
    """One audit row per edit that changed something: which fields, and of what."""
    if not changed:
        return
    note = ", ".join(changed)
    record(campaign, action=action, by=by, note=f"{subject}: {note}" if subject else note)


def _apply(instance, values):
    """Set `values` on the instance; returns the names of the fields whose value changed."""
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    for name, value in values.items():
        setattr(instance, name, value)
    return changed


def _save_part(campaign, part, values, *, by, kind, name):
    """Save a new or changed part of the campaign (a budget item, a stretch goal) with its
    audit row: `<kind>:added` naming the new part, or `<kind>:changed` with what changed."""
    if part.pk is None:
        action, subject, changed = f"{kind}:added", "", [values[name]]
        _apply(part, values)
    else:
        action, subject = f"{kind}:changed", f"“{getattr(part, name)}”"
        changed = _apply(part, values)
    part.save()
    _record_edit(campaign, action, by=by, changed=changed, subject=subject)
    return part


def _require_owner(campaign, by):
    if campaign.organizer_id != by.pk:
        raise NotPermitted("Only the campaign's organizer can do this.")


REVIEW_PERMISSION = "campaigns.review_campaign"
MODERATE_PERMISSION = "campaigns.moderate_campaign"


def _require_permission(by, permission):
    """Staff status alone is not enough: reviewing and unpublishing need their permission."""
    if not (by.is_authenticated and by.is_staff and by.has_perm(permission)):
        raise NotPermitted("You do not have permission to do this.")


def _require_content_editable(campaign):
    if not campaign.content_editable:
        raise DomainError(
            f"This campaign is {campaign.get_status_display().lower()} and can no longer be edited."
        )


def _require_terms_editable(campaign):
    if not campaign.terms_editable:
        raise DomainError(
            "The goal, currency, funding model and duration are fixed once a campaign is "
            "submitted for review."
            if campaign.status != Status.LIVE
            else "The goal, currency, funding model and deadline cannot change once a campaign "
            "is live."
        )


# --- drafting -------------------------------------------------------------------------------
def _unique_slug(title):
    base = slugify(title)[:60] or "campaign"
    slug, n = base, 2
    while Campaign.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def start_campaign(*, organizer, title, creation_token=None):
    """Create a draft; the same creation_token (a double submit) returns the same draft."""
    title = title.strip()
    if not title:
        raise DomainError("Give your campaign a title.", field="title")
    if creation_token:
        existing = Campaign.objects.filter(
            organizer=organizer, creation_token=creation_token
        ).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                organizer=organizer,
                title=title,
                slug=_unique_slug(title),
                creation_token=creation_token or uuid.uuid4(),
                location=organizer.location,
            )
            record(campaign, action="created", by=organizer, to_status=campaign.status)
    except IntegrityError:
        existing = Campaign.objects.filter(
            organizer=organizer, creation_token=creation_token
        ).first()
        if existing is None:
            raise
        return existing
    return campaign


@transaction.atomic  # the change and its audit row together
def update_basics(campaign, *, by, title, summary, category, location):
    _require_editor(campaign, by)
    _require_content_editable(campaign)
    if len(summary) > 140:
        raise DomainError("The summary can be at most 140 characters.", field="summary")
    values = {
        "title": title.strip(),
        "summary": summary.strip(),
        "category": category,
        "location": location.strip(),
    }
    changed = _apply(campaign, values)
    campaign.save(update_fields=["title", "summary", "category", "location", "updated_at"])
    _record_edit(campaign, "edited:basics", by=by, changed=changed)
    return campaign


@transaction.atomic
def update_story(campaign, *, by, story, cover=None):
    """Save the story (rendered to sanitized HTML) and, if given, a new cover image."""
    _require_editor(campaign, by)
    _require_content_editable(campaign)
    fields = ["story", "story_html", "updated_at"]
    changed = ["story"] if campaign.story != story else []
    campaign.story = story
    campaign.story_html = render_story(story)
    if cover is not None:
        # Checked and re-encoded before anything is written; stored under names we choose.
        files = images.cover_files(cover)
        campaign.cover.save(files["master"].name, files["master"], save=False)
        campaign.cover_large.save(files["large"].name, files["large"], save=False)
        campaign.cover_card.save(files["card"].name, files["card"], save=False)
        fields += ["cover", "cover_large", "cover_card"]
    campaign.save(update_fields=fields)
    if cover is not None:
        changed.append("cover")
    _record_edit(campaign, "edited:story", by=by, changed=changed)
    return campaign


def validate_schedule(*, duration_days, end_date, today=None):
    today = today or timezone.localdate()
    if bool(duration_days) == bool(end_date):
        raise DomainError("Choose either a duration in days or an end date.", field="duration_days")
    if duration_days is not None and not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise DomainError(
            f"A campaign runs between 1 and {MAX_DURATION_DAYS} days.", field="duration_days"
        )
    if end_date is not None:
        if end_date <= today:
            raise DomainError("The end date must be in the future.", field="end_date")
        if end_date > today + timedelta(days=MAX_DURATION_DAYS):
            raise DomainError(
                f"The end date can be at most {MAX_DURATION_DAYS} days from today.",
                field="end_date",
            )


@transaction.atomic
def update_funding(campaign, *, by, goal_minor, currency, funding_model, duration_days, end_date):
    _require_editor(campaign, by)
    _require_terms_editable(campaign)
    exponent(currency)  # raises DomainError for a currency we do not support
    validate_goal(goal_minor)
    validate_schedule(duration_days=duration_days, end_date=end_date)
    if currency != campaign.currency and (
        campaign.rewards.exists()
        or campaign.budget_items.exists()
        or campaign.stretch_goals.exists()
    ):
        raise DomainError(
            "Remove the rewards, budget and stretch goals before changing the currency: "
            "their amounts are in the old currency.",
            field="currency",
        )
    too_dear = campaign.rewards.filter(minimum_minor__gt=goal_minor).first()
    if too_dear:
        raise DomainError(
            f"The reward “{too_dear.title}” asks more than this goal; lower it first.", field="goal"
        )
    required = _required_budget_minor(campaign)
    if required > goal_minor:
        raise DomainError(
            f"The required budget items add up to {format_money(required, currency)}, "
            "more than this goal.",
            field="goal",
        )
    if campaign.stretch_goals.filter(amount_minor__lte=goal_minor).exists():
        raise DomainError(
            "Stretch goals must stay above the goal; change them first.", field="goal"
        )
    values = {
        "goal_minor": goal_minor,
        "currency": currency,
        "funding_model": funding_model,
        "duration_days": duration_days,
        "end_date": end_date,
    }
    changed = _apply(campaign, values)
    campaign.save(
        update_fields=[
            "goal_minor",
            "currency",
            "funding_model",
            "duration_days",
            "end_date",
            "updated_at",
        ]
    )
    _record_edit(campaign, "edited:funding", by=by, changed=changed)
    return campaign


# --- rewards, budget, stretch goals ---------------------------------------------------------
@transaction.atomic
def save_reward(
    campaign,
    reward=None,
    *,
    by,
    title,
    description,
    minimum_minor,
    quantity_limit=None,
    estimated_delivery=None,
):
    """Create a tier (also allowed while live) or edit one (only its description once live)."""
    _require_editor(campaign, by)
    _require_content_editable(campaign)
    if minimum_minor <= 0:
        raise DomainError("The minimum pledge must be more than zero.", field="minimum")
    if minimum_minor < settings.MIN_PLEDGE_MINOR:
        platform_minimum = format_money(settings.MIN_PLEDGE_MINOR, campaign.currency)
        raise DomainError(
            f"The minimum pledge is at least {platform_minimum}.",
            field="minimum",
        )
    if campaign.goal_minor and minimum_minor > campaign.goal_minor:
        raise DomainError("A reward cannot ask more than the campaign's goal.", field="minimum")
    if reward is None:
        reward = RewardTier.objects.create(
            campaign=campaign,
            title=title.strip(),
            description=description,
            minimum_minor=minimum_minor,
            quantity_limit=quantity_limit,
            estimated_delivery=estimated_delivery,
            position=campaign.rewards.count(),
        )
        _record_edit(campaign, "reward:added", by=by, changed=[reward.title])
        return reward
    if reward.campaign_id != campaign.pk:
        raise NotPermitted("That reward belongs to another campaign.")
    with transaction.atomic():
        reward = RewardTier.objects.select_for_update().get(pk=reward.pk)
        if campaign.status == Status.LIVE:
            changed_terms = (
                reward.title != title.strip()
                or reward.minimum_minor != minimum_minor
                or reward.quantity_limit != quantity_limit
                or reward.estimated_delivery != estimated_delivery
            )
            if changed_terms:
                raise DomainError(
                    "Once a campaign is live only a reward's description can change; "
                    "add a new tier instead."
                )
        values = {
            "title": title.strip(),
            "description": description,
            "minimum_minor": minimum_minor,
            "quantity_limit": quantity_limit,
            "estimated_delivery": estimated_delivery,
        }
        subject = f"“{reward.title}”"
        changed = _apply(reward, values)
        reward.save()
        _record_edit(campaign, "reward:changed", by=by, changed=changed, subject=subject)
    return reward


@transaction.atomic
def delete_reward(reward, *, by):
    campaign = reward.campaign
    _require_editor(campaign, by)
    if not campaign.terms_editable:
        raise DomainError("Rewards cannot be removed once a campaign is submitted.")
    _record_edit(campaign, "reward:removed", by=by, changed=[reward.title])
    reward.delete()


def _required_budget_minor(campaign, exclude=None):
    items = campaign.budget_items.filter(required=True)
    if exclude is not None:
        items = items.exclude(pk=exclude.pk)
    return items.aggregate(total=Sum("amount_minor"))["total"] or 0


@transaction.atomic
def save_budget_item(campaign, item=None, *, by, label, amount_minor, required=True):
    _require_editor(campaign, by)
    _require_terms_editable(campaign)
    if amount_minor <= 0:
        raise DomainError("A budget item's amount must be more than zero.", field="amount")
    if required and campaign.goal_minor:
        total = _required_budget_minor(campaign, exclude=item) + amount_minor
        if total > campaign.goal_minor:
            raise DomainError(
                f"Required items would add up to {format_money(total, campaign.currency)}, "
                f"more than the goal of {format_money(campaign.goal_minor, campaign.currency)}.",
                field="amount",
            )
    if item is None:
        item = BudgetItem(campaign=campaign, position=campaign.budget_items.count())
    elif item.campaign_id != campaign.pk:
        raise NotPermitted("That budget item belongs to another campaign.")
    values = {"label": label.strip(), "amount_minor": amount_minor, "required": required}
    return _save_part(campaign, item, values, by=by, kind="budget", name="label")


@transaction.atomic
def delete_budget_item(item, *, by):
    _require_editor(item.campaign, by)
    _require_terms_editable(item.campaign)
    _record_edit(item.campaign, "budget:removed", by=by, changed=[item.label])
    item.delete()


@transaction.atomic
def save_stretch_goal(campaign, goal=None, *, by, amount_minor, description):
    _require_editor(campaign, by)
    _require_content_editable(campaign)
    if not campaign.goal_minor or amount_minor <= campaign.goal_minor:
        raise DomainError("A stretch goal must be above the campaign's goal.", field="amount")
    if goal is None:
        goal = StretchGoal(campaign=campaign)
    elif goal.campaign_id != campaign.pk:
        raise NotPermitted("That stretch goal belongs to another campaign.")
    if campaign.stretch_goals.filter(amount_minor=amount_minor).exclude(pk=goal.pk).exists():
        raise DomainError("There is already a stretch goal at this amount.", field="amount")
    values = {"amount_minor": amount_minor, "description": description.strip()}
    _save_part(campaign, goal, values, by=by, kind="stretch_goal", name="description")
    return goal


@transaction.atomic
def delete_stretch_goal(goal, *, by):
    _require_editor(goal.campaign, by)
    _require_content_editable(goal.campaign)
    _record_edit(goal.campaign, "stretch_goal:removed", by=by, changed=[goal.description])
    goal.delete()


# --- team -----------------------------------------------------------------------------------
def invite_collaborator(campaign, *, by, email):
    """The owner invites someone by email to co-edit (not to request payouts)."""
    _require_owner(campaign, by)
    email = email.strip().lower()
    if email == by.email.lower():
        raise DomainError("You already organize this campaign.", field="email")
    with transaction.atomic():  # the invitation, its audit row and its email together
        collaborator, created = Collaborator.objects.get_or_create(
            campaign=campaign, email=email, defaults={"invited_by": by}
        )
        if not created:
            raise DomainError("This person has already been invited.", field="email")
        record(campaign, action="collaborator_invited", by=by, note=email)
        queue_email(
            f"collaborator:{collaborator.pk}:invited",
            email,
            "collaborator_invited",
            {"campaign": campaign, "collaborator": collaborator, "by": by},
        )
    return collaborator


def accept_invitation(token, *, member):
    with transaction.atomic():
        collaborator = (
            Collaborator.objects.select_for_update().select_related("campaign").get(token=token)
        )
        if collaborator.email != member.email.lower():
            raise NotPermitted("This invitation was sent to another email address.")
        if collaborator.accepted_at is None:
            collaborator.member = member
            collaborator.accepted_at = timezone.now()
            collaborator.save(update_fields=["member", "accepted_at"])
            record(
                collaborator.campaign, action="collaborator_joined", by=member, note=member.email
            )
    return collaborator


def remove_collaborator(collaborator, *, by):
    _require_owner(collaborator.campaign, by)
    record(collaborator.campaign, action="collaborator_removed", by=by, note=collaborator.email)
    collaborator.delete()


# --- lifecycle ------------------------------------------------------------------------------
def readiness_problems(campaign):
    """What still stops a draft from being submitted, as user-facing sentences."""
    problems = []
    if not campaign.title.strip():
        problems.append("Add a title.")
    if not campaign.summary.strip():
        problems.append("Add a short summary.")
    if len(campaign.story.strip()) < 50:
        problems.append("Tell your story (at least a few sentences).")
    if not campaign.goal_minor:
        problems.append("Set a funding goal.")
    if not (campaign.duration_days or campaign.end_date):
        problems.append("Choose a duration or an end date.")
    if not campaign.location.strip():
        problems.append("Say where the campaign happens.")
    if not campaign.allow_no_reward and not campaign.rewards.exists():
        problems.append("Add a reward, or allow support without a reward.")
    if campaign.goal_minor and _required_budget_minor(campaign) > campaign.goal_minor:
        problems.append("The required budget items add up to more than the goal.")
    return problems


def submit_for_review(campaign, *, by):
    _require_team(campaign, by)

    def ready(locked):
        problems = readiness_problems(locked)
        if problems:
            raise DomainError("Not ready for review yet: " + " ".join(problems))
        if locked.end_date:
            validate_schedule(duration_days=None, end_date=locked.end_date)

    return transition(
        campaign,
        Status.IN_REVIEW,
        by=by,
        guard=ready,
        updates={"submitted_at": timezone.now(), "review_note": ""},
    )


def _email_organizer(campaign, name, note=""):
    """Queue email `name` to the organizer about the status change `transition` just made to
    `campaign` (inside its transaction). Keyed by the change's audit row: a campaign may be
    sent back for changes more than once, and each time is its own email."""
    queue_email(
        f"campaign:{campaign.pk}:{name}:event:{campaign.audit_event.pk}",
        campaign.organizer.email,
        name,
        {"campaign": campaign, "note": note},
    )


def _review(campaign, to, *, by, note, email, note_required=""):
    """One reviewer decision: permission, the note (required unless approving), the move."""
    _require_permission(by, REVIEW_PERMISSION)
    if note_required and not note.strip():
        raise DomainError(note_required, field="note")
    with transaction.atomic():
        reviewed = transition(campaign, to, by=by, note=note, updates={"review_note": note})
        if reviewed.moved:
            _email_organizer(reviewed, email, note)
    return reviewed


def approve(campaign, *, by, note=""):
    return _review(campaign, Status.APPROVED, by=by, note=note, email="campaign_approved")


def request_changes(campaign, *, by, note):
    return _review(
        campaign,
        Status.DRAFT,
        by=by,
        note=note,
        email="campaign_changes_requested",
        note_required="Tell the organizer what to change.",
    )


def reject(campaign, *, by, note):
    return _review(
        campaign,
        Status.REJECTED,
        by=by,
        note=note,
        email="campaign_rejected",
        note_required="Give the organizer a reason for the rejection.",
    )


def launch(campaign, *, by, now=None):
    """Go live: the deadline is fixed now, from the duration or the end date."""
    _require_team(campaign, by)
    now = now or timezone.now()
    deadline = campaign.planned_deadline(now)

    def check(locked):
        if deadline is None or deadline <= now:
            raise DomainError("The end date has passed; ask for changes to pick a new one.")
        if deadline > now + timedelta(days=MAX_DURATION_DAYS, hours=24):
            raise DomainError(
                f"A campaign can run at most {MAX_DURATION_DAYS} days; "
                "the end date is too far away."
            )

    return transition(
        campaign,
        Status.LIVE,
        by=by,
        guard=check,
        updates={"launched_at": now, "deadline": deadline},
        after_commit=[page_cache.forget],
    )


def cancel(campaign, *, by, reason=""):
    """The organizer (draft, approved, live) or staff (unpublish) cancels; pledges are released.

    Only the campaign's row changes here: its pledges (thousands, for a large campaign) are
    released afterwards in batches by a task, and the settlement sweep releases any that a
    lost task or a pledge write racing the cancellation left open.
    """
    if campaign.organizer_id != by.pk:
        _require_permission(by, MODERATE_PERMISSION)
        if not reason.strip():
            raise DomainError("Give a reason for unpublishing.", field="reason")

    def release_pledges(cancelled):
        from pledges.tasks import release_campaign_pledges

        release_campaign_pledges.delay(cancelled.pk)

    with transaction.atomic():
        cancelled = transition(
            campaign,
            Status.CANCELLED,
            by=by,
            note=reason,
            after_commit=[release_pledges, page_cache.forget],
            updates={"cancellation_reason": reason, "ended_at": timezone.now()},
        )
        if cancelled.moved and by.pk != campaign.organizer_id:
            _email_organizer(cancelled, "campaign_cancelled", reason)
    return cancelled


def set_featured(campaign, *, by, featured):
    _require_permission(by, MODERATE_PERMISSION)
    campaign.featured = featured
    campaign.save(update_fields=["featured", "updated_at"])
    record(campaign, action="featured" if featured else "unfeatured", by=by)
    return campaign


@transaction.atomic
def set_allow_no_reward(campaign, *, by, allowed):
    """Whether supporters may pledge without choosing a reward tier (an organizer's choice)."""
    _require_editor(campaign, by)
    _require_content_editable(campaign)
    changed = ["allow_no_reward"] if campaign.allow_no_reward != bool(allowed) else []
    campaign.allow_no_reward = bool(allowed)
    campaign.save(update_fields=["allow_no_reward", "updated_at"])
    _record_edit(campaign, "edited:allow_no_reward", by=by, changed=changed)
    return campaign

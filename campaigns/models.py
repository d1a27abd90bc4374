"""Campaigns and what hangs off them: reward tiers, budget items, stretch goals, co-organizers.

Lifecycle (DESIGN.md): draft → in_review → approved → live → settling → funded | failed;
in_review → draft (changes requested) | rejected; draft | approved | live → cancelled.
Every status change goes through `core.transitions.transition` (see campaigns.services).
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from core.images import stored_name
from core.money import CURRENCY_CHOICES

MAX_DURATION_DAYS = 60


class Category(models.TextChoices):
    COMMUNITY = "community", "Community spaces"
    ENVIRONMENT = "environment", "Environment"
    FOOD = "food", "Food and growing"
    ARTS = "arts", "Arts and culture"
    EDUCATION = "education", "Education"
    SPORT = "sport", "Sport and play"
    HEALTH = "health", "Health and care"
    MOBILITY = "mobility", "Mobility"
    HOUSING = "housing", "Housing"
    OTHER = "other", "Other"


class FundingModel(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
    FLEXIBLE = "flexible", "Flexible"


class CampaignQuerySet(models.QuerySet):
    def public(self):
        """What anyone may see: live campaigns and those that have ended after being live."""
        return self.filter(status__in=Campaign.PUBLIC_STATUSES)

    def live(self):
        return self.filter(status=Campaign.Status.LIVE)

    def editable_by(self, member):
        if not member.is_authenticated:
            return self.none()
        return self.filter(
            Q(organizer=member)
            | Q(collaborators__member=member, collaborators__accepted_at__isnull=False)
        ).distinct()

    def visible_to(self, member):
        """Public campaigns, plus any campaign the member organizes; staff see everything."""
        if member.is_authenticated and member.is_staff:
            return self
        if not member.is_authenticated:
            return self.public()
        return self.filter(
            Q(status__in=Campaign.PUBLIC_STATUSES)
            | Q(organizer=member)
            | Q(collaborators__member=member, collaborators__accepted_at__isnull=False)
        ).distinct()


def cover_path(campaign, filename):
    """Our own random name (core.images.stored_name): never the uploader's name or extension."""
    return f"campaigns/{campaign.public_id}/{stored_name(filename)}"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        LIVE = "live", "Live"
        SETTLING = "settling", "Settling"
        FUNDED = "funded", "Funded"
        FAILED = "failed", "Not funded"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS = {
        Status.DRAFT: {Status.IN_REVIEW, Status.CANCELLED},
        Status.IN_REVIEW: {Status.APPROVED, Status.DRAFT, Status.REJECTED},
        Status.APPROVED: {Status.LIVE, Status.CANCELLED},
        Status.LIVE: {Status.SETTLING, Status.CANCELLED},
        Status.SETTLING: {Status.FUNDED, Status.FAILED},
    }
    PUBLIC_STATUSES = (Status.LIVE, Status.SETTLING, Status.FUNDED, Status.FAILED)
    # Organizers may edit content in these; the money terms only while not yet live.
    EDITABLE_STATUSES = (Status.DRAFT, Status.APPROVED, Status.LIVE)
    TERMS_EDITABLE_STATUSES = (Status.DRAFT,)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organized_campaigns"
    )
    # Set by the "Start a campaign" form so a double submit finds the same draft.
    creation_token = models.UUIDField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT, db_index=True)

    title = models.CharField(max_length=90)
    summary = models.CharField(max_length=140, blank=True)
    story = models.TextField(blank=True, help_text="Markdown.")
    story_html = models.TextField(blank=True, editable=False)
    cover = models.ImageField(upload_to=cover_path, blank=True)
    cover_large = models.ImageField(upload_to=cover_path, blank=True, editable=False)
    cover_card = models.ImageField(upload_to=cover_path, blank=True, editable=False)
    category = models.CharField(max_length=20, choices=Category, default=Category.COMMUNITY)
    location = models.CharField(max_length=120, blank=True, help_text="Town or region.")

    goal_minor = models.PositiveBigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    funding_model = models.CharField(
        max_length=16, choices=FundingModel, default=FundingModel.ALL_OR_NOTHING
    )
    duration_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_DAYS)],
    )
    end_date = models.DateField(null=True, blank=True)
    allow_no_reward = models.BooleanField(
        default=True, help_text="Supporters may pledge without choosing a reward."
    )

    featured = models.BooleanField(default=False, help_text="Shown on the home page.")
    review_note = models.TextField(blank=True)
    cancellation_reason = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Frozen when the deadline closes the campaign (pledges.settlement): the honest figures
    # after it compare what was pledged then with what was collected and dropped since.
    pledged_at_deadline_minor = models.PositiveBigIntegerField(
        null=True, blank=True, editable=False
    )
    supporters_at_deadline = models.PositiveIntegerField(null=True, blank=True, editable=False)
    settled_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("review_campaign", "Can approve, reject or request changes to campaigns"),
            ("moderate_campaign", "Can unpublish live campaigns and feature campaigns"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(goal_minor__isnull=True) | Q(goal_minor__gt=0),
                name="campaign_goal_positive",
            ),
            models.CheckConstraint(
                condition=Q(currency__in=["EUR", "USD", "GBP"]), name="campaign_currency_known"
            ),
            models.CheckConstraint(
                condition=Q(duration_days__isnull=True)
                | Q(duration_days__gte=1, duration_days__lte=MAX_DURATION_DAYS),
                name="campaign_duration_range",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["live", "settling", "funded", "failed"])
                | (
                    Q(deadline__isnull=False)
                    & Q(launched_at__isnull=False)
                    & Q(goal_minor__isnull=False)
                ),
                name="campaign_launched_has_terms",
            ),
            models.CheckConstraint(
                condition=Q(deadline__isnull=True)
                | Q(launched_at__isnull=True)
                | Q(deadline__gt=F("launched_at")),
                name="campaign_deadline_after_launch",
            ),
            models.UniqueConstraint(
                fields=["organizer", "creation_token"], name="campaign_unique_creation_token"
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("campaigns:detail", args=[self.slug])

    @property
    def is_live(self):
        return self.status == self.Status.LIVE and not self.has_ended

    @property
    def has_ended(self):
        return self.deadline is not None and self.deadline <= timezone.now()

    @property
    def is_public(self):
        return self.status in self.PUBLIC_STATUSES

    @property
    def terms_editable(self):
        return self.status in self.TERMS_EDITABLE_STATUSES

    @property
    def content_editable(self):
        return self.status in self.EDITABLE_STATUSES and not (
            self.status == self.Status.LIVE and self.has_ended
        )

    @property
    def is_all_or_nothing(self):
        return self.funding_model == FundingModel.ALL_OR_NOTHING

    @property
    def statement_descriptor_suffix(self):
        """What supporters' card statements show after the platform's prefix ("GROUNDSWELL*
        ELM STREE"): Latin letters, digits and spaces of the title (never Stripe's forbidden
        <>\\'"*), as long as prefix, "* " and suffix fit Stripe's 22 characters; "" when no
        letter is left (Stripe refuses a suffix without one)."""
        import unicodedata

        room = 22 - len(settings.STRIPE_STATEMENT_DESCRIPTOR_PREFIX) - 2
        ascii_title = unicodedata.normalize("NFKD", self.title).encode("ascii", "ignore").decode()
        words = "".join(c if c.isalnum() else " " for c in ascii_title.upper()).split()
        suffix = " ".join(words)[: max(room, 0)].strip()
        return suffix if any(c.isalpha() for c in suffix) else ""

    def planned_deadline(self, launched_at):
        """The deadline launching at `launched_at` would give (end of day for an end date)."""
        if self.end_date:
            end = timezone.make_aware(
                timezone.datetime.combine(self.end_date, timezone.datetime.max.time())
            ).replace(microsecond=0)
            return end
        if self.duration_days:
            return launched_at + timedelta(days=self.duration_days)
        return None


class RewardTier(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rewards")
    title = models.CharField(max_length=80)
    description = models.TextField(max_length=1000, blank=True)
    minimum_minor = models.PositiveBigIntegerField()
    quantity_limit = models.PositiveIntegerField(null=True, blank=True)
    estimated_delivery = models.DateField(
        null=True, blank=True, help_text="Only the month and year are shown."
    )
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "minimum_minor", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minimum_minor__gt=0), name="reward_minimum_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_limit__isnull=True) | Q(quantity_limit__gt=0),
                name="reward_limit_positive",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def remaining(self):
        """Units left; needs the `claimed` annotation (campaigns.selectors.rewards_with_stock)."""
        if self.quantity_limit is None:
            return None
        return max(self.quantity_limit - getattr(self, "claimed", 0), 0)

    @property
    def is_sold_out(self):
        return self.quantity_limit is not None and self.remaining == 0


class BudgetItem(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="budget_items")
    label = models.CharField(max_length=120)
    amount_minor = models.PositiveBigIntegerField()
    required = models.BooleanField(
        default=True, help_text="Required items must fit within the goal; optional ones may not."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-required", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="budget_amount_positive"),
        ]

    def __str__(self):
        return self.label


class StretchGoal(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="stretch_goals")
    amount_minor = models.PositiveBigIntegerField()
    description = models.CharField(max_length=200)

    class Meta:
        ordering = ["amount_minor", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "amount_minor"], name="stretch_unique_amount"
            ),
        ]

    def __str__(self):
        return self.description


class Collaborator(models.Model):
    """A co-organizer: may edit the campaign, may not request payouts."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="collaborators")
    email = models.EmailField()
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="collaborations",
    )
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    invited_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invited_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "email"], name="collaborator_unique_email"),
        ]

    def __str__(self):
        return self.email


class CampaignInReview(Campaign):
    """The admin's review queue: the same rows as Campaign, its own admin page and permissions."""

    class Meta:
        proxy = True
        ordering = ["submitted_at", "id"]
        # Read in the list as "3 campaigns in review", on the admin's home page and crumbs as
        # "Campaigns in review".
        verbose_name = "campaign in review"
        verbose_name_plural = "campaigns in review"

"""The community around a campaign: updates, comments, reports, follows and each member's
notification settings.

This app sits above campaigns and pledges (an update's audience and a comment's "supporter"
badge are read from pledges) and below demo. DESIGN.md lists updates, comments and follows
under campaigns/; they live here because they need pledges, which sits above campaigns.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.images import stored_name


def update_image_path(update, filename):
    """Our own random name (core.images.stored_name): never the uploader's name or extension."""
    return f"updates/{update.campaign.public_id}/{stored_name(filename)}"


class Update(models.Model):
    """News from the organizers, numbered per campaign (the permalink is /c/<slug>/updates/<n>/).

    A supporters-only update is seen by members with a supporting pledge (community.audience)
    and by the campaign's organizers; with `public_from` set it turns public on that date.
    """

    class Audience(models.TextChoices):
        PUBLIC = "public", _("Everyone")
        SUPPORTERS = "supporters", _("Supporters only")

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="updates"
    )
    number = models.PositiveIntegerField(editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaign_updates"
    )
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"), max_length=20_000, help_text=_("Markdown."))
    body_html = models.TextField(editable=False)
    image = models.ImageField(upload_to=update_image_path, blank=True)
    image_large = models.ImageField(upload_to=update_image_path, blank=True, editable=False)
    audience = models.CharField(
        _("who can read it"), max_length=16, choices=Audience, default=Audience.PUBLIC
    )
    public_from = models.DateTimeField(
        _("public from"),
        null=True,
        blank=True,
        help_text=_("A supporters-only update turns public on this date (optional)."),
    )
    # When it is dated (the demo back-dates its story); created_at is when the row was made.
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # When an edit made it public (audience → everyone); the feed dates it from then.
    made_public_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Fan-out bookkeeping (community.updates): when the email to the audience it had when
    # posted was queued, when everyone (supporters and followers) had been emailed — at once
    # for a public update, later for one that turned public — and which run holds the
    # fan-out now (a lease: a run that died leaves it to the sweep once it has expired).
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    public_emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    fan_out_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Failed fan-out runs in a row and the last one's error: past FAN_OUT_MAX_FAILURES the
    # sweep stops trying, and the admin's update list shows it (with "Email it again").
    fan_out_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    fan_out_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="update_number_unique"),
            models.CheckConstraint(
                condition=Q(public_from__isnull=True) | Q(audience="supporters"),
                name="update_public_from_only_for_supporters",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "-published_at"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("community:update", args=[self.campaign.slug, self.number])

    def is_public_at(self, moment=None):
        if self.audience == self.Audience.PUBLIC:
            return True
        moment = moment or timezone.now()
        return self.public_from is not None and self.public_from <= moment

    @property
    def is_public(self):
        return self.is_public_at()


class Comment(models.Model):
    """A member's comment on a campaign, or on one of its updates; replies are one level deep
    (a reply to a reply is attached to the top comment, community.comments)."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="comments"
    )
    update = models.ForeignKey(
        Update, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    body = models.TextField(_("comment"), max_length=2_000)
    body_html = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.CharField(_("reason for hiding"), max_length=500, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hidden_at__isnull=True) | ~Q(hidden_reason=""),
                name="comment_hidden_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "update", "parent", "-created_at"]),
            models.Index(fields=["author", "-created_at"]),
        ]

    def __str__(self):
        return f"Comment {self.pk} by {self.author_id}"

    @property
    def is_hidden(self):
        return self.hidden_at is not None


class Report(models.Model):
    """A member's report of a comment or a campaign; open reports are the admin's queue."""

    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam or advertising")
        ABUSE = "abuse", _("Abusive or hateful")
        MISLEADING = "misleading", _("Misleading or a scam")
        PRIVACY = "privacy", _("Shares someone's personal information")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACTED_ON = "acted_on", _("Acted on")
        DISMISSED = "dismissed", _("Dismissed")

    TRANSITIONS = {Status.OPEN: {Status.ACTED_ON, Status.DISMISSED}}

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="reports"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason)
    note = models.TextField(_("what is wrong"), max_length=1_000, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("moderate_community", "Can hide comments and resolve reports")]
        constraints = [
            # One open report per member and thing reported: a second click changes nothing.
            models.UniqueConstraint(
                fields=["reporter", "comment"],
                condition=Q(status="open", comment__isnull=False),
                name="report_one_open_per_comment",
            ),
            models.UniqueConstraint(
                fields=["reporter", "campaign"],
                condition=Q(status="open", comment__isnull=True),
                name="report_one_open_per_campaign",
            ),
        ]

    def __str__(self):
        return f"Report {self.pk} ({self.get_reason_display()})"


class Follow(models.Model):
    """A member following a campaign (also before launch: "Notify me when it launches")."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="follows"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The follower sweep (community.follows) marks what it has queued, so each goes once.
    launch_emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminder_emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "campaign"], name="follow_unique"),
        ]
        indexes = [
            models.Index(fields=["campaign", "launch_emailed_at"]),
            models.Index(fields=["campaign", "reminder_emailed_at"]),
        ]

    def __str__(self):
        return f"{self.member_id} follows {self.campaign_id}"


class NotificationSettings(models.Model):
    """Which optional emails a member gets; no row means every kind is on. Money emails (a
    charge that failed, a refund, a payout) are not optional and are not listed here."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    updates = models.BooleanField(
        _("updates"), default=True, help_text=_("Updates from campaigns I support or follow.")
    )
    comments = models.BooleanField(
        _("comments on my campaigns"),
        default=True,
        help_text=_("New comments on campaigns I organize."),
    )
    replies = models.BooleanField(
        _("replies to me"), default=True, help_text=_("Replies to my comments.")
    )
    reminders = models.BooleanField(
        _("reminders"),
        default=True,
        help_text=_("When a campaign I follow launches, and 48 hours before it ends."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self):
        return f"Notification settings of {self.member_id}"

"""Campaign updates: posting and editing them (services), who reads which (selectors), and
emailing each one to its audience once (the fan-out the tasks and the sweep run).

A public update is for everyone: it is emailed to the campaign's supporters and followers. A
supporters-only update is read by supporters and the team, and emailed to supporters; with
`public_from` it turns public on that date, when the sweep emails the followers it had not
reached. Every email is keyed by (update, member), so each member gets an update once.
"""

import html
import re
from datetime import timedelta

import nh3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Window
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps

from campaigns import page_cache
from campaigns.images import MASTER_FORMATS, MASTER_MAX_SIDE
from campaigns.models import Campaign
from campaigns.rendering import render_story
from community.audience import (
    is_team,
    supporters,
    supporters_or_followers,
    supporting_pledges,
)
from community.models import Update
from community.notifications import Kind, members_who_want, notify
from core import images
from core.errors import DomainError, NotPermitted
from core.images import ImageLimits
from core.models import record

Audience = Update.Audience

IMAGE_LIMITS = ImageLimits(
    field="image",
    label=gettext_lazy("image"),
    max_bytes=5 * 1024 * 1024,
    min_size=(200, 100),
)
# The rendition pages show: 1200 wide (never enlarged), a tall picture bounded too.
IMAGE_LARGE_SIZE = (1200, 1800)
# Recipients are read this many at a time: a campaign with 10,000 supporters never loads them
# all at once.
FAN_OUT_CHUNK = 500
# The sweep emails the wider audience of at most this many updates a run (the rest next run).
TURNED_PUBLIC_PER_SWEEP = 20
# An update not emailed this long after it was posted lost its task message (a broker that
# was down at commit): the sweep runs its fan-out.
FAN_OUT_LOST_AFTER = timedelta(minutes=5)
LIST_PER_PAGE = 10
CAMPAIGN_PAGE_LATEST = 3


# --- permissions and reading ------------------------------------------------------------------
def _require_team(campaign, by):
    """The organizer and accepted co-organizers; anyone else (staff included) gets a 404."""
    if not is_team(by, campaign):
        raise NotPermitted("You cannot post updates to this campaign.")


def _require_public(campaign):
    if campaign.status not in Campaign.PUBLIC_STATUSES:
        raise DomainError(_("You can post updates once your campaign is live."))


def viewer_standing(campaign, viewer):
    """(is on the team, may read supporters-only updates) for `viewer`, in at most one query.

    The same rule as community.audience.is_team / can_read_supporters_only, asked in a single
    query so a page showing updates stays at a fixed number of queries.
    """
    if not viewer.is_authenticated:
        return False, False
    if campaign.organizer_id == viewer.pk:
        return True, True
    Member = get_user_model()
    row = (
        Member.objects.filter(pk=viewer.pk)
        .annotate(
            on_team=Exists(
                campaign.collaborators.filter(member=OuterRef("pk"), accepted_at__isnull=False)
            ),
            supports=Exists(supporting_pledges(campaign).filter(supporter=OuterRef("pk"))),
        )
        .values_list("on_team", "supports")
        .first()
    )
    if row is None:
        return False, False
    on_team, supports = row
    return bool(on_team), bool(on_team or supports)


def public_now(moment=None):
    """The condition of an update anyone may read at `moment` (now by default)."""
    moment = moment or timezone.now()
    return Q(audience=Audience.PUBLIC) | Q(public_from__lte=moment)


def visible_updates(campaign, viewer, *, reads_supporters_only=None):
    """The campaign's updates `viewer` may read, newest first, with their author.

    `reads_supporters_only`: what `viewer_standing` said, when the caller asked already.
    """
    if reads_supporters_only is None:
        reads_supporters_only = viewer_standing(campaign, viewer)[1]
    updates = Update.objects.filter(campaign=campaign).select_related("author", "campaign")
    if not reads_supporters_only:
        updates = updates.filter(public_now())
    return updates.order_by("-published_at", "-id")


def public_updates(campaign, *, limit=None):
    """What the Atom feed lists: updates public now, never a supporters-only one before its date."""
    updates = (
        Update.objects.filter(campaign=campaign)
        .filter(public_now())
        .select_related("author", "campaign")
        .order_by("-published_at", "-id")
    )
    return updates[:limit] if limit else updates


def campaign_page_summary(campaign, viewer):
    """What the campaign page's Updates section shows, in a fixed number of queries: the
    viewer's standing (at most one) and the latest few with the count of all (one: the
    count is a window over the rows before the LIMIT)."""
    on_team, reads_all = viewer_standing(campaign, viewer)
    latest = list(
        visible_updates(campaign, viewer, reads_supporters_only=reads_all).annotate(
            visible_count=Window(Count("pk"))
        )[:CAMPAIGN_PAGE_LATEST]
    )
    count = latest[0].visible_count if latest else 0
    return {"count": count, "latest": latest, "can_post": on_team}


def public_campaign(slug):
    """The campaign whose update pages these are: public campaigns only (NotPermitted, a 404,
    for any other, also to its team: updates are posted once the campaign is public)."""
    campaign = Campaign.objects.public().select_related("organizer").filter(slug=slug).first()
    if campaign is None:
        raise NotPermitted("No such campaign.")
    return campaign


def update_for_permalink(campaign_slug, number, viewer):
    """(update, may the viewer post) for the permalink; NotPermitted (a 404) for an update
    that does not exist, of a campaign that is not public, or that is supporters-only and
    `viewer` may not read (anonymous visitors included): its existence is not revealed."""
    campaign = public_campaign(campaign_slug)
    update = (
        Update.objects.select_related("author").filter(campaign=campaign, number=number).first()
    )
    if update is None:
        raise NotPermitted("No such update.")
    update.campaign = campaign
    on_team, reads_all = viewer_standing(campaign, viewer)
    if not update.is_public and not reads_all:
        raise NotPermitted("No such update.")
    return update, on_team


def team_update(campaign, number, *, by):
    """An update of `campaign` for its team to edit (NotPermitted for anyone else)."""
    _require_team(campaign, by)
    update = Update.objects.filter(campaign=campaign, number=number).first()
    if update is None:
        raise NotPermitted("No such update.")
    update.campaign = campaign
    return update


# --- posting and editing ----------------------------------------------------------------------
def _clean_text(title, body):
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise DomainError(_("Give your update a title."), field="title")
    if len(title) > Update._meta.get_field("title").max_length:
        raise DomainError(_("The title can be at most 120 characters."), field="title")
    if not body:
        raise DomainError(_("Write the text of your update."), field="body")
    if len(body) > Update._meta.get_field("body").max_length:
        raise DomainError(_("The text can be at most 20,000 characters."), field="body")
    return title, body


def _clean_audience(value, public_from, *, unchanged_public_from=None):
    try:
        value = Audience(value)
    except ValueError:
        raise DomainError(_("Choose who can read this update."), field="audience") from None
    if public_from is None:
        return value, None
    if value != Audience.SUPPORTERS:
        raise DomainError(
            _("Only a supporters-only update can turn public on a later date."),
            field="public_from",
        )
    if unchanged_public_from is not None and _same_minute(public_from, unchanged_public_from):
        return value, unchanged_public_from  # an edit that leaves the date as it was
    if public_from <= timezone.now():
        raise DomainError(_("The date it turns public must be in the future."), field="public_from")
    return value, public_from


def _same_minute(first, second):
    return first.replace(second=0, microsecond=0) == second.replace(second=0, microsecond=0)


def _image_files(upload):
    """(master, large) for an uploaded image: checked and re-encoded like covers
    (core.images), before anything is written; DomainError(field="image") otherwise."""
    picture, detected_format = images.decode_upload(upload, IMAGE_LIMITS)
    master = images.encode(
        images.fit_within(picture, MASTER_MAX_SIDE), MASTER_FORMATS[detected_format], stem="image"
    )
    large = picture
    if picture.width > IMAGE_LARGE_SIZE[0] or picture.height > IMAGE_LARGE_SIZE[1]:
        large = ImageOps.contain(picture, IMAGE_LARGE_SIZE, Image.Resampling.LANCZOS)
    return master, images.encode(large, "JPEG", stem="large")


def _store_image(update, files):
    master, large = files
    update.image.save(master.name, master, save=False)
    update.image_large.save(large.name, large, save=False)


def _after_commit(update, *, email):
    campaign = update.campaign
    # The cookieless campaign page is cached for a few seconds; show the change at once.
    transaction.on_commit(lambda: page_cache.forget(campaign))
    if email:
        from community.tasks import fan_out_update

        # robust: a broker that is down must not fail the post; the sweep fans out what
        # was not emailed (fan_out_lost).
        transaction.on_commit(lambda: fan_out_update.delay(update.pk), robust=True)


def post_update(campaign, *, by, title, body, audience, public_from=None, image=None, now=None):
    """Post an update (the team only, on a public campaign) and email it after commit.

    Numbered per campaign under the campaign's row lock; the text is Markdown rendered to
    safe HTML (campaigns.rendering); `image` is checked and re-encoded before anything is
    written; `public_from` only for a supporters-only update, and in the future. `now` is
    when it is published (the demo tells its story over weeks); the present by default.
    """
    _require_team(campaign, by)
    _require_public(campaign)
    title, body = _clean_text(title, body)
    audience, public_from = _clean_audience(audience, public_from)
    files = _image_files(image) if image else None
    with transaction.atomic():
        # FOR NO KEY UPDATE: two posts at once get different numbers, pledge writes (FOR KEY
        # SHARE) are not held up.
        locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        _require_public(locked)
        last = locked.updates.aggregate(last=Max("number"))["last"] or 0
        update = Update(
            campaign=locked,
            number=last + 1,
            author=by,
            title=title,
            body=body,
            body_html=render_story(body),
            audience=audience,
            public_from=public_from,
            published_at=now or timezone.now(),
        )
        if files:
            _store_image(update, files)
        update.save()
        note = f"#{update.number} ({audience.value})"
        if public_from:
            note += f", public from {public_from.isoformat()}"
        record(update, action="update:posted", by=by, note=note)
        _after_commit(update, email=True)
    return update


def edit_update(
    update, *, by, title, body, audience, public_from=None, image=None, remove_image=False
):
    """Change an update's text, audience, date or image; nobody is emailed again.

    `image`: a new file replaces the image; `remove_image` drops it. A public_from already
    passed may stay as it was (the update is public since then), not be set anew.
    """
    _require_team(update.campaign, by)
    title, body = _clean_text(title, body)
    audience, public_from = _clean_audience(
        audience, public_from, unchanged_public_from=update.public_from
    )
    files = _image_files(image) if image else None
    with transaction.atomic():
        locked = Update.objects.select_for_update().select_related("campaign").get(pk=update.pk)
        changed = [
            name
            for name, value in (
                ("title", title),
                ("body", body),
                ("audience", audience),
                ("public_from", public_from),
            )
            if getattr(locked, name) != value
        ]
        locked.title, locked.body, locked.body_html = title, body, render_story(body)
        locked.audience, locked.public_from = audience, public_from
        if files:
            _store_image(locked, files)
            changed.append("image")
        elif remove_image and locked.image:
            locked.image, locked.image_large = "", ""
            changed.append("image removed")
        if changed:
            locked.edited_at = timezone.now()
            locked.save()
            record(locked, action="update:edited", by=by, note=", ".join(changed))
            _after_commit(locked, email=False)
    return locked


# --- emailing ---------------------------------------------------------------------------------
def _email_audience(update, members):
    """Queue the update's email for every member of `members` who wants updates (not its
    author), read FAN_OUT_CHUNK at a time; returns how many members have it queued (an
    email stored by an earlier run counts, and is not sent again)."""
    campaign = update.campaign
    recipients = (
        members_who_want(members, Kind.UPDATES)
        .exclude(pk=update.author_id)
        .annotate(supports=Exists(supporting_pledges(campaign).filter(supporter=OuterRef("pk"))))
        # notify reads each member's settings: fetched in the same query.
        .select_related("notification_settings")
        .order_by("pk")
    )
    permalink = settings.SITE_URL.rstrip("/") + update.get_absolute_url()
    body_text = plain_text(update.body)
    queued = 0
    for member in recipients.iterator(chunk_size=FAN_OUT_CHUNK):
        email = notify(
            member,
            Kind.UPDATES,
            key=f"update:{update.pk}:member:{member.pk}",
            template="update_posted",
            context={
                "update": update,
                "campaign": campaign,
                "permalink": permalink,
                "body_text": body_text,
                "as_supporter": member.supports,
            },
        )
        queued += email is not None
    return queued


def plain_text(markdown_source):
    """The update's text for the plain-text email: its Markdown as written, without the tags
    the page removes (a <script> and its content, an <img onerror>), blank runs collapsed."""
    text = html.unescape(nh3.clean(markdown_source, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def fan_out(update_id):
    """Email an update to the audience it has now, once: supporters for a supporters-only
    update, supporters and followers for a public one. Safe to run twice (a second run finds
    it emailed; a run that died half-way is finished by the next, each email keyed per
    member). Returns how many members it emailed (0 when it had been emailed)."""
    update = Update.objects.select_related("campaign").filter(pk=update_id).first()
    if update is None or update.emailed_at is not None:
        return 0
    campaign = update.campaign
    now = timezone.now()
    public = update.is_public_at(now)
    members = supporters_or_followers(campaign) if public else supporters(campaign)
    queued = _email_audience(update, members)
    marks = {"emailed_at": now}
    if public and update.audience == Audience.SUPPORTERS:
        marks["public_emailed_at"] = now  # its date passed before it was emailed: all at once
    Update.objects.filter(pk=update.pk, emailed_at__isnull=True).update(**marks)
    return queued


def fan_out_turned_public(*, limit=TURNED_PUBLIC_PER_SWEEP):
    """The sweep: supporters-only updates whose public_from has passed are emailed to the
    followers they had not reached (supporters already have it: same key). At most `limit`
    updates a run, oldest date first; returns how many updates it finished."""
    now = timezone.now()
    due = list(
        Update.objects.filter(
            audience=Audience.SUPPORTERS,
            public_from__lte=now,
            public_emailed_at__isnull=True,
            emailed_at__isnull=False,
        )
        .select_related("campaign")
        .order_by("public_from", "pk")[:limit]
    )
    for update in due:
        _email_audience(update, supporters_or_followers(update.campaign))
        Update.objects.filter(pk=update.pk, public_emailed_at__isnull=True).update(
            public_emailed_at=now
        )
    return len(due)


def fan_out_lost(*, limit=TURNED_PUBLIC_PER_SWEEP):
    """The sweep: updates never emailed FAN_OUT_LOST_AFTER after they were posted (their task
    message was lost) are fanned out now. Returns how many."""
    cutoff = timezone.now() - FAN_OUT_LOST_AFTER
    lost = list(
        Update.objects.filter(emailed_at__isnull=True, published_at__lt=cutoff)
        .order_by("published_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for update_id in lost:
        fan_out(update_id)
    return len(lost)

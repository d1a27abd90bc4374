"""Campaign updates: posting and editing them (services), who reads which (selectors), and
emailing each one to its audience once (the fan-out the tasks and the sweep run).

A public update is for everyone: it is emailed to the campaign's supporters and followers. A
supporters-only update is read by supporters and the team, and emailed to supporters; when it
turns public (its `public_from` date passes, or an edit makes it public) the followers it had
not reached are emailed too. Every email is keyed by (update, member), so each member gets an
update once; one run at a time works an update's fan-out (a claim with a lease).
"""

import logging
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, F, Max, Q, When, Window
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps

from campaigns import page_cache
from campaigns.images import MASTER_FORMATS, MASTER_MAX_SIDE
from campaigns.models import Campaign
from campaigns.rendering import render_story
from community.audience import (
    co_organizes,
    is_team,
    supporters,
    supporters_or_followers,
    supports,
)
from community.models import Update
from community.notifications import Kind, members_who_want, notify, site_url
from core import images
from core.errors import DomainError, NotPermitted
from core.images import ImageLimits
from core.models import record

logger = logging.getLogger(__name__)

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
# The sweep hands at most this many updates a run to fan-out tasks, per kind (the rest next run).
TURNED_PUBLIC_PER_SWEEP = 20
# An update not emailed this long after it was created lost its task message (a broker that
# was down at commit): the sweep queues its fan-out again.
FAN_OUT_LOST_AFTER = timedelta(minutes=5)
# A fan-out run holds its update this long from its last sign of life (it renews the claim
# every FAN_OUT_CHUNK members); a run that died leaves the update to the sweep after that.
FAN_OUT_LEASE = timedelta(minutes=15)
# Failed runs (each task tries 9 times) after which the sweep gives up on an update's fan-out,
# until an admin asks for it again (retry_fan_out): about two sweeps' worth of tasks.
FAN_OUT_MAX_FAILURES = 18
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

    community.audience.is_team / can_read_supporters_only, with their expressions asked in a
    single query so a page showing updates stays at a fixed number of queries.
    """
    if not viewer.is_authenticated:
        return False, False
    if campaign.organizer_id == viewer.pk:
        return True, True
    Member = get_user_model()
    row = (
        Member.objects.filter(pk=viewer.pk)
        .annotate(
            on_team=co_organizes(campaign),
            supports=supports(campaign),
        )
        .values_list("on_team", "supports")
        .first()
    )
    if row is None:
        return False, False
    on_team, supporter = row
    return bool(on_team), bool(on_team or supporter)


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
    """What the Atom feed lists: updates public now, never a supporters-only one before its
    date; newest public first, each with `public_since`, when anyone could first read it (the
    latest of its publication, its public_from date and the edit that made it public), so an
    update that turned public later is new in the feed then."""
    now = timezone.now()
    updates = (
        Update.objects.filter(campaign=campaign)
        .filter(public_now(now))
        .annotate(
            # Coalesce each: SQLite's MAX() of a NULL is NULL (PostgreSQL's GREATEST skips it).
            public_since=Greatest(
                "published_at",
                Coalesce(Case(When(public_from__lte=now, then="public_from")), "published_at"),
                Coalesce("made_public_at", "published_at"),
            )
        )
        .select_related("author", "campaign")
        .order_by("-public_since", "-id")
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


def _after_commit(update, *, email, forget_files=()):
    campaign = update.campaign
    # The cookieless campaign page is cached for a few seconds; show the change at once.
    transaction.on_commit(lambda: page_cache.forget(campaign))
    if forget_files:
        names = list(forget_files)
        # robust: a file storage that fails must not fail the edit (it is saved); logged.
        transaction.on_commit(lambda: _delete_files(names), robust=True)
    if email:
        _dispatch_fan_out(update.pk)


def _dispatch_fan_out(update_id):
    from community.tasks import fan_out_update

    # robust: a broker that is down must not fail the caller; the sweep fans out what was
    # not emailed (fan_out_lost, fan_out_turned_public).
    transaction.on_commit(lambda: fan_out_update.delay(update_id), robust=True)


def _delete_files(names):
    """Delete image files nothing shows any more: media is served without an access check,
    so a photo removed from a supporters-only update must not stay at its address."""
    storage = Update._meta.get_field("image").storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("Could not delete the update image %s", name)


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
    """Change an update's text, audience, date or image. Nobody is emailed again, except
    followers when the edit makes an emailed supporters-only update public (once, after
    commit: they had not had it).

    `image`: a new file replaces the image; `remove_image` drops it; the old files are deleted
    after commit. A public_from already passed may stay as it was (the update is public since
    then), not be set anew.
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
        now = timezone.now()
        was_public = locked.is_public_at(now)
        old_files = [field.name for field in (locked.image, locked.image_large) if field]
        if audience == Audience.PUBLIC and locked.audience == Audience.SUPPORTERS:
            # Public from now on, or since its date if that had passed (the date goes: only a
            # supporters-only update has one); the feed dates it from then.
            locked.made_public_at = locked.public_from if was_public else now
        locked.title, locked.body, locked.body_html = title, body, render_story(body)
        locked.audience, locked.public_from = audience, public_from
        if files:
            _store_image(locked, files)
            changed.append("image")
        elif remove_image and locked.image:
            locked.image, locked.image_large = "", ""
            changed.append("image removed")
        else:
            old_files = []
        if changed:
            locked.edited_at = now
            locked.save()
            record(locked, action="update:edited", by=by, note=", ".join(changed))
            # Made public after it was emailed: the followers it had not reached get it now
            # (the sweep does it too, should this task message be lost).
            _after_commit(locked, email=_needs_wider_fan_out(locked, now), forget_files=old_files)
    return locked


# --- emailing ---------------------------------------------------------------------------------
# An update is fanned out in up to two steps, each exactly once: to the audience it has when
# first emailed (emailed_at; public_emailed_at too when that was everyone), then — if it was
# supporters-only and turns public later, by its date or an edit — to everyone it had not
# reached (public_emailed_at). The fan-out task does both; the sweep only queues tasks.
def _first_due():
    return Q(emailed_at__isnull=True)


def _wider_due(now):
    return Q(emailed_at__isnull=False, public_emailed_at__isnull=True) & public_now(now)


def _needs_wider_fan_out(update, now):
    return (
        update.emailed_at is not None
        and update.public_emailed_at is None
        and update.is_public_at(now)
    )


def _unclaimed(now, claim=None):
    """No run holds the fan-out: never claimed, released, its lease expired, or the claim is
    the one the sweep made for this very task message (`claim`)."""
    free = Q(fan_out_claimed_at__isnull=True) | Q(fan_out_claimed_at__lt=now - FAN_OUT_LEASE)
    return free | Q(fan_out_claimed_at=claim) if claim is not None else free


class _ClaimLost(Exception):
    """Another run took the update over (this one outlived its lease): stop, mark nothing."""


class FanOutInterrupted(Exception):
    """A fan-out run failed part-way (its cause chained). It keeps its claim, `claim` (an ISO
    time), for its retry (community.tasks): meanwhile no sweep queues the update again, and
    what it queued stays queued (keyed per member); after its lease the sweep takes over."""

    def __init__(self, claim):
        super().__init__(f"fan-out interrupted (claim {claim})")
        self.claim = claim


class _Claim:
    """This run's hold on an update's fan-out, taken and renewed by conditional UPDATEs: two
    runs never work the same update at once, and one that died frees it once its lease ends."""

    def __init__(self, update_id, at):
        self.update_id, self.at = update_id, at

    @classmethod
    def take(cls, update_id, *, now, claim=None):
        taken = (
            Update.objects.filter(pk=update_id)
            .filter(_first_due() | _wider_due(now))
            .filter(_unclaimed(now, claim))
            .update(fan_out_claimed_at=now)
        )
        return cls(update_id, now) if taken else None

    def _mine(self):
        return Update.objects.filter(pk=self.update_id, fan_out_claimed_at=self.at)

    def renew(self):
        now = timezone.now()
        if not self._mine().update(fan_out_claimed_at=now):
            raise _ClaimLost
        self.at = now

    def finish(self, **marks):
        self._mine().update(fan_out_claimed_at=None, fan_out_failures=0, fan_out_error="", **marks)

    def failed(self, error):
        """Count a failed run (the claim stays, for its retry) and keep its error."""
        self._mine().update(
            fan_out_failures=F("fan_out_failures") + 1,
            fan_out_error=f"{type(error).__name__}: {error}"[:4000],
        )

    def release(self):
        self._mine().update(fan_out_claimed_at=None)

    def token(self):
        return self.at.isoformat()


def _email_audience(update, members, *, claim=None):
    """Queue the update's email for every member of `members` who wants updates (not its
    author), read FAN_OUT_CHUNK at a time (renewing `claim` as it goes); returns how many
    members have it queued (an email stored by an earlier run counts, and is not sent again)."""
    campaign = update.campaign
    recipients = (
        members_who_want(members, Kind.UPDATES)
        .exclude(pk=update.author_id)
        .annotate(supports=supports(campaign))
        # notify reads each member's settings: fetched in the same query.
        .select_related("notification_settings")
        .order_by("pk")
    )
    permalink = site_url(update.get_absolute_url())
    body_text = plain_text(update.body_html)
    queued = 0
    for index, member in enumerate(recipients.iterator(chunk_size=FAN_OUT_CHUNK)):
        if claim is not None and index and index % FAN_OUT_CHUNK == 0:
            claim.renew()
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


def fan_out(update_id, *, claim=None):
    """Email an update to whoever of its audience now has not had it, once: supporters for a
    supporters-only update, supporters and followers for a public one, and the followers of
    a supporters-only update once it turned public. Returns how many members it emailed (0
    when there was nothing to do, or another run holds the update).

    Safe to run twice, even at once: a run first claims the update (community.models
    fan_out_claimed_at), so a second run finds it claimed or done; a run that died half-way
    is finished by the next once its lease expires, each email keyed per member. `claim`:
    the claim (an ISO time) the sweep took when it queued this run, or a failed run kept for
    its retry; any error is raised as FanOutInterrupted with the claim it keeps."""
    now = timezone.now()
    if isinstance(claim, str):
        claim = datetime.fromisoformat(claim)
    held = _Claim.take(update_id, now=now, claim=claim)
    if held is None:
        if claim is not None:
            # Queued with a claim but nothing is due any more (an edit moved its date, say):
            # free it, so the edit's own run or the next sweep does not wait out the lease.
            Update.objects.filter(pk=update_id, fan_out_claimed_at=claim).update(
                fan_out_claimed_at=None
            )
        return 0
    try:
        update = Update.objects.select_related("campaign").filter(pk=update_id).first()
        if update is None:  # deleted meanwhile
            return 0
        public = update.is_public_at(now)
        if update.emailed_at is None:
            members = (
                supporters_or_followers(update.campaign) if public else supporters(update.campaign)
            )
            queued = _email_audience(update, members, claim=held)
            # Public when first emailed: everyone has it (nothing more when it turns public).
            held.finish(emailed_at=now, **({"public_emailed_at": now} if public else {}))
        else:  # claimed as turned public: the followers it had not reached (supporters have it)
            queued = _email_audience(update, supporters_or_followers(update.campaign), claim=held)
            held.finish(public_emailed_at=now)
    except _ClaimLost:
        return 0
    except Exception as error:
        held.failed(error)
        raise FanOutInterrupted(held.token()) from error
    return queued


def _queue_fan_outs(due, *, now, limit):
    """Claim up to `limit` updates of `due` (oldest first) for a fan-out task each, and queue
    the tasks; a task message that fails to go frees its update for the next sweep. Returns
    how many were queued."""
    from community.tasks import fan_out_update

    candidates = list(
        due.filter(_unclaimed(now), fan_out_failures__lt=FAN_OUT_MAX_FAILURES)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    queued = 0
    for update_id in candidates:
        # The sweep's claim, handed to the task: a later sweep does not queue it again while
        # it waits in the queue (until its lease expires).
        held = _Claim.take(update_id, now=now)
        if held is None:
            continue  # a run took it meanwhile
        try:
            fan_out_update.delay(update_id, claim=held.token())
        except Exception:
            logger.exception("Could not queue the fan-out of update %s", update_id)
            held.release()
            continue
        queued += 1
    return queued


def stuck_fan_outs():
    """Updates whose fan-out the sweep gave up on (FAN_OUT_MAX_FAILURES runs failed)."""
    return Update.objects.filter(fan_out_failures__gte=FAN_OUT_MAX_FAILURES)


def retry_fan_out(update, *, by):
    """An admin's "Email it again" for a fan-out the sweep gave up on: its failures are
    forgotten and a task is queued after commit (members who have it are not emailed again:
    each email is keyed per member). Audited; returns whether there was anything to retry."""
    with transaction.atomic():
        retried = Update.objects.filter(
            pk=update.pk, fan_out_failures__gte=FAN_OUT_MAX_FAILURES
        ).update(fan_out_failures=0, fan_out_claimed_at=None)
        if not retried:
            return False
        record(update, action="update:fan_out_retried", by=by, note=update.fan_out_error[:500])
        _dispatch_fan_out(update.pk)
    return True


def fan_out_turned_public(*, limit=TURNED_PUBLIC_PER_SWEEP):
    """The sweep: emailed updates public now whose wider audience was not emailed (a
    supporters-only update whose public_from passed, or that an edit made public) get a
    fan-out task for the followers they had not reached (supporters have it: same key). At
    most `limit` a run; returns how many were queued."""
    now = timezone.now()
    return _queue_fan_outs(Update.objects.filter(_wider_due(now)), now=now, limit=limit)


def fan_out_lost(*, limit=TURNED_PUBLIC_PER_SWEEP):
    """The sweep: updates not emailed FAN_OUT_LOST_AFTER after they were created (their task
    message was lost, or its run died) get a fan-out task again. At most `limit` a run;
    returns how many were queued. Keyed off created_at: published_at may be back-dated."""
    now = timezone.now()
    lost = Update.objects.filter(_first_due(), created_at__lt=now - FAN_OUT_LOST_AFTER)
    return _queue_fan_outs(lost, now=now, limit=limit)


# --- the plain-text email -----------------------------------------------------------------------
class _PlainText(HTMLParser):
    """An update's sanitized HTML (campaigns.rendering's tags only) as plain text: blocks on
    their own lines, list items with their marker, a link as "text (address)", emphasis and
    code as Markdown writes them, entities decoded."""

    MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*"}
    HEADINGS = {"h2": "## ", "h3": "### ", "h4": "#### "}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks = []
        self.breaks = 0  # newlines owed before the next text
        self.lists = []  # per open list: the next number (ol) or None (ul)
        self.links = []  # per open link: (address, index of its first chunk)
        self.quotes = 0
        self.preformatted = 0
        self.after_marker = False  # just wrote "* ": a paragraph in the item starts there
        self.cells = 0
        self.hidden = 0  # inside a <script> or <style>: never text (the HTML has none anyway)

    def text(self):
        self.close()
        text = "".join(self.chunks)
        text = re.sub(r"[ \t]+\n", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    def _break(self, count):
        self.breaks = max(self.breaks, count)

    def _write(self, text):
        if self.breaks and self.chunks:
            self.chunks.append("\n" * self.breaks + self._indent())
        self.breaks = 0
        self.after_marker = False
        self.chunks.append(text)

    def _indent(self):
        return "> " * self.quotes + "   " * len(self.lists)

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1
            return
        block = tag in ("p", "blockquote", "pre", "table", "hr") or tag in self.HEADINGS
        if block and not self.after_marker:
            self._break(2)
        if tag == "blockquote":
            self.quotes += 1
        elif tag == "pre":
            self.preformatted += 1
        elif tag in self.HEADINGS:
            self._write(self.HEADINGS[tag])
        elif tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            number = self.lists[-1] if self.lists else None
            if number is not None:
                self.lists[-1] += 1
            if self.chunks:  # the marker hangs out of the item's indent
                outer = "> " * self.quotes + "   " * max(len(self.lists) - 1, 0)
                self.chunks.append("\n" * max(self.breaks, 1) + outer)
            self.breaks = 0
            self.chunks.append("* " if number is None else f"{number}. ")
            self.after_marker = True
        elif tag == "br":
            self._break(1)
        elif tag == "hr":
            self._write("----")
            self._break(2)
        elif tag == "tr":
            self._break(1)
            self.cells = 0
        elif tag in ("td", "th"):
            if self.cells:
                self.chunks[-1] = self.chunks[-1].rstrip()
                self._write(" | ")
            self.cells += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.chunks)))
        elif tag in self.MARKS:
            self._write(self.MARKS[tag])
        elif tag == "code" and not self.preformatted:
            self._write("`")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden = max(self.hidden - 1, 0)
            return
        if tag in ("p", "pre", "table", "ul", "ol") or tag in self.HEADINGS:
            self._break(1 if tag in ("ul", "ol") and self.lists[:-1] else 2)
        if tag == "blockquote":
            self.quotes = max(self.quotes - 1, 0)
            self._break(2)
        elif tag == "pre":
            self.preformatted = max(self.preformatted - 1, 0)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "a" and self.links:
            address, start = self.links.pop()
            label = "".join(self.chunks[start:]).strip()
            shown = address.removeprefix("mailto:")
            if shown and label != shown:
                self.chunks.append(f" ({shown})")
        elif tag in self.MARKS:
            self.chunks.append(self.MARKS[tag])
        elif tag == "code" and not self.preformatted:
            self.chunks.append("`")

    def handle_data(self, data):
        if self.hidden:
            return
        if self.preformatted:
            lines = data.rstrip("\n").split("\n")
            self._write(lines[0])
            for line in lines[1:]:
                self.chunks.append("\n" + self._indent() + line)
            return
        text = re.sub(r"\s+", " ", data)
        if self.breaks or self.after_marker or not self.chunks:
            text = text.lstrip()  # a line's first words start it
        if text:
            self._write(text)


def plain_text(body_html):
    """The update's text for the plain-text email, from its sanitized HTML (what the page
    shows: never a <script>, its content or a handler, which the HTML never has)."""
    parser = _PlainText()
    parser.feed(body_html or "")
    return parser.text()

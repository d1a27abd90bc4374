"""Comments on a campaign and on its updates: posting (who, where, how fast), the body's
sanitizing, the emails a comment sends, hiding and unhiding, and the reads that show a page of
comments in a fixed number of queries.

- Any logged-in member (allauth makes every login a verified email) comments on a public
  campaign (live or ended), or on one of its updates they may read. Replies are one level
  deep: a reply to a reply is attached to the top comment. At most COMMENTS_PER_MINUTE and
  COMMENTS_PER_HOUR per member, counted from their own comments.
- The body is a small Markdown subset (paragraphs, line breaks, bold, italics, code, quotes,
  lists, links; bare web addresses become links), cleaned by nh3 to a short allow-list.
- The campaign's team (minus the author) is emailed each comment (Kind.COMMENTS); the author
  of the comment replied to, and of its thread's top comment, each reply (Kind.REPLIES). A
  comment on an update that is supporters-only is emailed only to who may read it now (its
  team and current supporters: a supporter who cancelled their pledge gets no reply).
- A comment on a supporters-only update is shown and linked to that update's readers only
  (comment_for_permalink, the permalink and the hide and report pages).
- The team, or staff holding community.moderate_community, hide a comment with a reason: its
  text gives way to a placeholder with the reason, its replies stay. Staff may unhide it.
Every hide and unhide records an AuditEvent.
"""

import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from datetime import timedelta

import markdown
import nh3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import page_cache
from campaigns.models import Campaign
from campaigns.rendering import sanitize
from community import audience
from community.models import Comment
from community.notifications import Kind, notify, site_url
from community.pace import check_pace, queue_behind
from core.errors import DomainError, NotPermitted
from core.models import record

MAX_BODY_LENGTH = Comment._meta.get_field("body").max_length
MAX_REASON_LENGTH = Comment._meta.get_field("hidden_reason").max_length
MODERATE_PERMISSION = "community.moderate_community"
DRAFT_SESSION_KEY = "community:comment_draft"


# --- the body: Markdown subset → safe HTML -------------------------------------------------------
ALLOWED_TAGS = {"p", "br", "strong", "em", "a", "code", "blockquote", "ul", "ol", "li"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,:;!?)]}'\""


class _BareLinks(markdown.treeprocessors.Treeprocessor):
    """Turn web addresses written out in the text into links (never inside a link or code)."""

    SKIP = {"a", "code", "pre"}

    def run(self, root):
        self._walk(root)

    def _walk(self, element):
        if element.tag in self.SKIP:
            return
        for child in list(element):
            self._walk(child)
        self._linkify_text(element)
        for index, child in reversed(list(enumerate(element))):
            self._linkify_tail(element, index, child)

    def _pieces(self, text):
        """The text split into strings and (address,) tuples, or None when it has none."""
        if not text or "://" not in text:
            return None
        pieces, position = [], 0
        for match in _URL.finditer(text):
            url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
            if "://" not in url or url.endswith("://"):
                continue
            start = match.start()
            pieces.append(text[position:start])
            pieces.append((url,))
            position = start + len(url)
        if not any(isinstance(piece, tuple) for piece in pieces):
            return None
        pieces.append(text[position:])
        return pieces

    @staticmethod
    def _link(url):
        link = etree.Element("a", {"href": url})
        link.text = markdown.util.AtomicString(url)
        return link

    def _linkify_text(self, element):
        pieces = self._pieces(element.text)
        if pieces is None:
            return
        element.text = pieces[0]
        self._insert(element, 0, pieces[1:])

    def _linkify_tail(self, parent, index, child):
        pieces = self._pieces(child.tail)
        if pieces is None:
            return
        child.tail = pieces[0]
        self._insert(parent, index + 1, pieces[1:])

    def _insert(self, parent, index, pieces):
        previous = None
        for piece in pieces:
            if isinstance(piece, tuple):
                previous = self._link(piece[0])
                parent.insert(index, previous)
                index += 1
            elif previous is not None:
                previous.tail = (previous.tail or "") + piece


class _CommentSubset(markdown.Extension):
    """What a comment may use of Markdown: no headings, rules, indented code or images (their
    source shows as written), and bare web addresses as links."""

    def extendMarkdown(self, md):  # noqa: N802 - Markdown's API
        for name in ("hashheader", "setextheader", "hr", "code"):
            md.parser.blockprocessors.deregister(name, strict=False)
        for name in ("image_link", "image_reference", "short_image_ref"):
            md.inlinePatterns.deregister(name, strict=False)
        # After "inline" (20), which makes the links this must not nest inside.
        md.treeprocessors.register(_BareLinks(md), "bare_links", 5)


def render_comment(source):
    """The comment's HTML: safe to show as is (no script, handlers, styles or images)."""
    html = markdown.markdown(
        source or "",
        extensions=["sane_lists", "nl2br", _CommentSubset()],
        output_format="html",
    )
    return sanitize(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES).strip()


def _has_visible_text(html):
    return bool(nh3.clean(html, tags=set()).strip())


# --- rules ---------------------------------------------------------------------------------------
def can_moderate_all(member):
    """Staff holding community.moderate_community (hide and unhide on any campaign)."""
    return bool(
        member.is_authenticated and member.is_staff and member.has_perm(MODERATE_PERMISSION)
    )


def can_hide(member, campaign, *, team_ids=None):
    """The campaign's organizer and accepted co-organizers, and moderating staff."""
    if not member.is_authenticated:
        return False
    team = audience.team_ids(campaign) if team_ids is None else team_ids
    return member.pk in team or can_moderate_all(member)


def comments_open(campaign):
    return campaign.is_public


def can_read_update(update, member):
    """Whether `member` may read `update` (and so its comments) now: anyone once it is public,
    before that its team and current supporters (update.campaign is read)."""
    if update.published_at > timezone.now():
        return False
    return update.is_public or audience.can_read_supporters_only(member, update.campaign)


def _pace_limits():
    """COMMENTS_PER_MINUTE in a minute, COMMENTS_PER_HOUR in an hour (community.pace)."""
    return [
        (
            timedelta(minutes=1),
            settings.COMMENTS_PER_MINUTE,
            _("You are commenting very fast; try again in a minute."),
        ),
        (
            timedelta(hours=1),
            settings.COMMENTS_PER_HOUR,
            _("You have posted many comments in the last hour; try again later."),
        ),
    ]


def _clean_body(body):
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise DomainError(_("Write your comment."), field="body")
    if len(body) > MAX_BODY_LENGTH:
        raise DomainError(
            _("Keep your comment under %(max)s characters.") % {"max": f"{MAX_BODY_LENGTH:,}"},
            field="body",
        )
    html = render_comment(body)
    if not _has_visible_text(html):
        raise DomainError(_("Write your comment."), field="body")
    return body, html


def _thread_parent(parent, campaign, update):
    """The comment a reply attaches to: `parent`, or its top comment when it is a reply."""
    if parent is None:
        return None
    top = parent.parent if parent.parent_id else parent
    if top.campaign_id != campaign.pk or top.update_id != (update.pk if update else None):
        raise NotPermitted(_("No such comment."))
    if parent.is_hidden or top.is_hidden:
        raise DomainError(_("This comment was hidden, so it takes no replies."), field="body")
    return top


# --- writes --------------------------------------------------------------------------------------
def post_comment(campaign, *, by, body, update=None, parent=None, now=None):
    """Publish `by`'s comment on `campaign` (or on its `update`; a reply to `parent`)."""
    now = now or timezone.now()
    if not by.is_authenticated:
        raise NotPermitted(_("Log in to comment."))
    if not comments_open(campaign):
        raise NotPermitted(_("No such campaign."))
    if update is not None:
        if update.campaign_id != campaign.pk:
            raise NotPermitted(_("No such update."))
        update.campaign = campaign
        if not can_read_update(update, by):
            raise NotPermitted(_("No such update."))
    replied_to = parent
    top = _thread_parent(parent, campaign, update)
    body, html = _clean_body(body)
    with transaction.atomic():
        queue_behind(by)
        # The member's own rows (index author, -created_at).
        check_pace(
            Comment.objects.filter(author=by),
            now=now,
            limits=_pace_limits(),
            field="body",
            code="too_many_comments",
        )
        comment = Comment.objects.create(
            campaign=campaign,
            update=update,
            parent=top,
            author=by,
            body=body,
            body_html=html,
            created_at=now,
        )
        _notify(comment, replied_to=replied_to)
        transaction.on_commit(lambda: page_cache.forget(campaign))
    return comment


def _notify(comment, *, replied_to):
    """Queue the emails of a new comment (exactly once each: keyed by comment and member)."""
    campaign = comment.campaign
    Member = get_user_model()
    team = audience.team_ids(campaign)
    context = {
        "campaign": campaign,
        "comment": comment,
        "author_name": comment.author.display_name,
        "update": comment.update,
        "comment_url": site_url(comment_url(comment)),
    }
    emailed = set()
    to_team = _readers(comment, team - {comment.author_id}, team=team)
    for member in Member.objects.filter(pk__in=to_team).select_related("notification_settings"):
        if notify(
            member,
            Kind.COMMENTS,
            key=f"comment:{comment.pk}:member:{member.pk}",
            template="comment_posted",
            context=context,
        ):
            emailed.add(member.pk)
    if comment.parent_id is None:
        return
    repliers = {replied_to.author_id, comment.parent.author_id} - {comment.author_id} - emailed
    repliers = _readers(comment, repliers, team=team)
    members = Member.objects.filter(pk__in=repliers).select_related("notification_settings")
    for member in members:
        notify(
            member,
            Kind.REPLIES,
            key=f"comment:{comment.pk}:member:{member.pk}",
            template="comment_reply",
            context={**context, "parent": comment.parent},
        )


def _readers(comment, member_ids, *, team):
    """Of `member_ids`, who may read `comment` now: everyone on the campaign's own thread and
    under a public update; under one that is supporters-only, its team and current
    supporters (one query at most)."""
    update = comment.update
    if update is None or update.is_public:
        return set(member_ids)
    others = set(member_ids) - team
    return (set(member_ids) & team) | audience.supporter_ids(comment.campaign, others)


def _clean_reason(reason):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason for hiding this comment."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(
            _("Keep the reason under %(max)d characters.") % {"max": MAX_REASON_LENGTH},
            field="reason",
        )
    return reason


def hide_comment(comment, *, by, reason, now=None):
    """Hide the comment's text behind a placeholder with `reason` (its replies stay)."""
    campaign = comment.campaign
    if not can_hide(by, campaign):
        raise NotPermitted(_("No such comment."))
    reason = _clean_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        if locked.is_hidden:
            return locked
        locked.hidden_at = now
        locked.hidden_by = by
        locked.hidden_reason = reason
        locked.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        record(locked, action="comment:hidden", by=by, note=reason)
        transaction.on_commit(lambda: page_cache.forget(campaign))
    comment.__dict__.update(hidden_at=now, hidden_by_id=by.pk, hidden_reason=reason)
    return locked


def unhide_comment(comment, *, by, note=""):
    """Show a hidden comment again (moderating staff only)."""
    if not can_moderate_all(by):
        raise NotPermitted(_("No such comment."))
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        if not locked.is_hidden:
            return locked
        was = locked.hidden_reason
        locked.hidden_at, locked.hidden_by, locked.hidden_reason = None, None, ""
        locked.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        record(
            locked,
            action="comment:unhidden",
            by=by,
            note=(note or "").strip() or f"Hidden for: {was}",
        )
        transaction.on_commit(lambda: page_cache.forget(comment.campaign))
    comment.__dict__.update(hidden_at=None, hidden_by_id=None, hidden_reason="")
    return locked


# --- drafts: a refused comment comes back to its form (post, redirect, get) ----------------------
def keep_draft(request, *, campaign, update, parent_id, body, error):
    request.session[DRAFT_SESSION_KEY] = {
        "campaign": campaign.pk,
        "update": update.pk if update else None,
        "parent": parent_id,
        "body": body[: MAX_BODY_LENGTH * 2],
        "error": str(error),
    }


def take_draft(request, *, campaign, update):
    """The refused comment for this thread (once), or None."""
    if not request.user.is_authenticated or DRAFT_SESSION_KEY not in request.session:
        return None
    draft = request.session[DRAFT_SESSION_KEY]
    if draft.get("campaign") != campaign.pk or draft.get("update") != (
        update.pk if update else None
    ):
        return None
    del request.session[DRAFT_SESSION_KEY]
    return draft


# --- reads ---------------------------------------------------------------------------------------
def comment_for_permalink(pk, viewer):
    """The comment `pk` (campaign, update and author joined) if `viewer` may see it: its
    campaign visible to them, its update readable by them (can_read_update: a supporters-only
    update's comments are its readers'). NotPermitted (a 404) otherwise: its existence is
    not revealed."""
    comment = Comment.objects.select_related("campaign", "update", "author").filter(pk=pk).first()
    if comment is None:
        raise NotPermitted(_("No such comment."))
    campaign = comment.campaign
    if not Campaign.objects.visible_to(viewer).filter(pk=campaign.pk).exists():
        raise NotPermitted(_("No such comment."))
    if comment.update is not None:
        comment.update.campaign = campaign
        if not can_read_update(comment.update, viewer):
            raise NotPermitted(_("No such comment."))
    return comment


def thread_comments(campaign, update=None):
    """Top-level comments of the campaign's own thread (update=None) or an update's, newest
    first, with authors and replies (oldest first, authors joined) in one query more."""
    replies = Comment.objects.select_related("author").order_by("created_at", "id")
    return (
        Comment.objects.filter(campaign=campaign, update=update, parent__isnull=True)
        .select_related("author")
        .prefetch_related(Prefetch("replies", queryset=replies, to_attr="thread_replies"))
        .order_by("-created_at", "-id")
    )


@dataclass
class CommentThread:
    """A page of one thread's comments and what the viewer may do with them."""

    campaign: object
    update: object
    page: object
    page_numbers: list
    total: int
    is_open: bool
    can_post: bool
    can_hide: bool
    team_ids: set = field(default_factory=set)
    draft: dict | None = None

    @property
    def comments(self):
        return self.page.object_list

    @property
    def action_url(self):
        return reverse("community:post_comment", args=[self.campaign.slug])

    @property
    def page_url(self):
        return thread_url(self.campaign, self.update)

    @property
    def reply_draft(self):
        """The refused reply's draft (its `parent` is the comment replied to), or None."""
        return self.draft if self.draft and self.draft.get("parent") else None

    @property
    def comment_draft(self):
        return self.draft if self.draft and not self.draft.get("parent") else None


def comment_thread(campaign, viewer, *, update=None, page_number=None, draft=None):
    """One page of a thread (COMMENTS_PER_PAGE top-level comments) with badges, in five
    queries whatever the number of comments: counts, the page, its replies, the team and
    which authors support the campaign (one, the counts, when there are none)."""
    counts = Comment.objects.filter(campaign=campaign, update=update).aggregate(
        top=Count("pk", filter=Q(parent__isnull=True)),
        shown=Count("pk", filter=Q(hidden_at__isnull=True)),
    )
    paginator = Paginator(thread_comments(campaign, update), settings.COMMENTS_PER_PAGE)
    paginator.count = counts["top"]  # known already: no second COUNT
    page = paginator.get_page(page_number)
    comments = list(page.object_list)
    page.object_list = comments
    # The team is for badges and the Hide buttons, so a page without comments does not ask.
    team = audience.team_ids(campaign) if comments else set()
    everyone = [c for comment in comments for c in (comment, *comment.thread_replies)]
    supporters = audience.supporter_ids(campaign, {c.author_id for c in everyone} - team)
    for comment in everyone:
        if comment.author_id in team:
            comment.badge = "organizer"
        elif comment.author_id in supporters:
            comment.badge = "supporter"
        else:
            comment.badge = ""
        comment.hidden_by_team = comment.hidden_by_id in team
    is_open = comments_open(campaign)
    return CommentThread(
        campaign=campaign,
        update=update,
        page=page,
        page_numbers=list(paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)),
        total=counts["shown"],
        is_open=is_open,
        can_post=is_open and viewer.is_authenticated,
        can_hide=bool(comments) and can_hide(viewer, campaign, team_ids=team),
        team_ids=team,
        draft=draft,
    )


def page_of(comment):
    """Which page of its thread shows `comment` (its top comment, newest first)."""
    top = comment.parent if comment.parent_id else comment
    newer = Comment.objects.filter(
        campaign_id=top.campaign_id, update_id=top.update_id, parent__isnull=True
    ).filter(Q(created_at__gt=top.created_at) | Q(created_at=top.created_at, pk__gt=top.pk))
    return newer.count() // settings.COMMENTS_PER_PAGE + 1


def thread_url(campaign, update=None):
    """The page a thread is on: the campaign page, or the update's permalink."""
    if update is None:
        return campaign.get_absolute_url()
    update.campaign = campaign
    try:
        return update.get_absolute_url()
    except NoReverseMatch:  # pragma: no cover - the permalink ships with the updates pages
        return campaign.get_absolute_url()


def comment_url(comment):
    """The comment's permalink (it redirects to the page of its thread that shows it)."""
    return reverse("community:comment", args=[comment.pk])

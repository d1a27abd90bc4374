"""Comments (community.comments, community.views.comments): who may comment where, the body's
sanitizing, one level of replies, the pace limit, the emails each comment sends exactly once,
hiding (the team and moderators; anyone else a 404) with its audit row, the badges, and the
campaign page's comments in a fixed number of queries whatever their number."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Collaborator
from community import comments, notifications
from community.models import Comment, Update
from core.errors import DomainError, NotPermitted
from core.models import AuditEvent, OutboundEmail
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory

pytestmark = pytest.mark.django_db

SUPPORTERS = Update.Audience.SUPPORTERS


@pytest.fixture
def campaign():
    return CampaignFactory(live=True, title="Tool library")


@pytest.fixture
def organizer(campaign):
    return campaign.organizer


@pytest.fixture
def co_organizer(campaign):
    member = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=member.email,
        member=member,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    return member


@pytest.fixture
def commenter():
    return MemberFactory(display_name="Ada")


def make_update(campaign, number=1, **extra):
    return Update.objects.create(
        campaign=campaign,
        number=number,
        author=campaign.organizer,
        title=f"News {number}",
        body="News.",
        body_html="<p>News.</p>",
        **extra,
    )


def post(campaign, member, body="Lovely idea!", **extra):
    return comments.post_comment(campaign, by=member, body=body, **extra)


def page_html(client, campaign, query=""):
    response = client.get(campaign.get_absolute_url() + query)
    assert response.status_code == 200
    return response.content.decode()


def moderator():
    member = MemberFactory(is_staff=True)
    member.user_permissions.add(
        Permission.objects.get(content_type__app_label="community", codename="moderate_community")
    )
    return member


# --- the body -------------------------------------------------------------------------------------
def test_script_tags_and_handlers_are_removed(campaign, commenter):
    comment = post(
        campaign,
        commenter,
        '**Great** <script>alert("x")</script><img src=x onerror="alert(1)">'
        '<a href="javascript:alert(2)" onclick="alert(3)">click</a> <p onmouseover="x()">hi</p>',
    )
    html = comment.body_html
    assert "<strong>Great</strong>" in html
    for bad in ("<script", "alert", "onerror", "onclick", "onmouseover", "javascript:", "<img"):
        assert bad not in html
    assert "<script" in comment.body  # the source is kept as written, for the admin


def test_markdown_subset_links_and_line_breaks(campaign, commenter):
    html = post(
        campaign, commenter, "See https://example.org/tools.\nSecond line\n\n> quoted"
    ).body_html
    assert '<a href="https://example.org/tools" rel="noopener noreferrer nofollow ugc">' in html
    assert "<br>" in html and "<blockquote>" in html
    assert "<h1>" not in post(campaign, commenter, "# not a heading").body_html


@pytest.mark.parametrize("body", ["", "   \n\t ", "<script>alert(1)</script>"])
def test_empty_comment_is_refused_on_the_field(campaign, commenter, body):
    with pytest.raises(DomainError) as refused:
        post(campaign, commenter, body)
    assert refused.value.field == "body"
    assert not Comment.objects.exists()


def test_comment_over_2000_characters_is_refused(campaign, commenter):
    with pytest.raises(DomainError, match="2,000"):
        post(campaign, commenter, "x" * 2001)
    assert post(campaign, commenter, "x" * 2000).pk


# --- where one may comment ---------------------------------------------------------------------
@pytest.mark.parametrize("status", [Campaign.Status.DRAFT, Campaign.Status.CANCELLED])
def test_only_public_campaigns_take_comments(commenter, status):
    campaign = CampaignFactory(live=True)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    with pytest.raises(NotPermitted):
        post(campaign, commenter)


def test_ended_campaigns_take_comments(commenter):
    campaign = CampaignFactory(live=True)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.FUNDED)
    campaign.refresh_from_db()
    assert post(campaign, commenter).pk


def test_anonymous_members_cannot_comment(campaign, client):
    with pytest.raises(NotPermitted):
        post(campaign, AnonymousUser())
    response = client.post(reverse("community:post_comment", args=[campaign.slug]), {"body": "Hi"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Comment.objects.exists()


def test_reply_to_a_reply_attaches_to_the_top_comment(campaign, commenter):
    top = post(campaign, commenter, "Top")
    reply = post(campaign, MemberFactory(), "Reply", parent=top)
    deeper = post(campaign, MemberFactory(), "Reply to the reply", parent=reply)
    assert reply.parent_id == top.pk
    assert deeper.parent_id == top.pk


def test_parent_must_be_in_the_same_thread_and_not_hidden(campaign, organizer, commenter):
    elsewhere = post(CampaignFactory(live=True), commenter, "Elsewhere")
    with pytest.raises(NotPermitted):
        post(campaign, commenter, "Reply", parent=elsewhere)
    on_update = post(campaign, commenter, "On the update", update=make_update(campaign))
    with pytest.raises(NotPermitted):
        post(campaign, commenter, "Reply on the page", parent=on_update)
    hidden = post(campaign, commenter, "Rude")
    comments.hide_comment(hidden, by=organizer, reason="Rude.")
    with pytest.raises(DomainError, match="hidden"):
        post(campaign, MemberFactory(), "Reply", parent=hidden)


def test_supporters_only_update_takes_comments_from_its_readers_only(
    campaign, organizer, commenter, client
):
    update = make_update(campaign, audience=SUPPORTERS)
    with pytest.raises(NotPermitted):
        post(campaign, commenter, update=update)
    client.force_login(commenter)
    url = reverse("community:post_comment", args=[campaign.slug])
    assert client.post(url, {"body": "Let me in", "update": update.pk}).status_code == 404
    assert not Comment.objects.exists()

    supporter = PledgeFactory(campaign=campaign).supporter
    assert post(campaign, supporter, update=update).update_id == update.pk
    assert post(campaign, organizer, update=update).update_id == update.pk
    public = make_update(campaign, number=2)
    assert post(campaign, commenter, update=public).update_id == public.pk


def test_update_of_another_campaign_is_refused(campaign, commenter, client):
    other = make_update(CampaignFactory(live=True))
    with pytest.raises(NotPermitted):
        post(campaign, commenter, update=other)
    client.force_login(commenter)
    url = reverse("community:post_comment", args=[campaign.slug])
    assert client.post(url, {"body": "Hi", "update": other.pk}).status_code == 404


# --- the pace limit -----------------------------------------------------------------------------
def test_a_flood_gets_a_clear_message_and_saves_nothing_past_the_limit(
    campaign, commenter, client, settings
):
    settings.COMMENTS_PER_MINUTE = 2
    client.force_login(commenter)
    url = reverse("community:post_comment", args=[campaign.slug])
    for number in range(2):
        assert client.post(url, {"body": f"Comment {number}"}).status_code == 302
    response = client.post(url, {"body": "One too many"})
    assert response.status_code == 302
    assert response["Location"].endswith("#comment-form")
    assert Comment.objects.count() == 2
    html = page_html(client, campaign)
    assert "You are commenting very fast; try again in a minute." in html
    assert ">One too many</textarea>" in html  # the text is kept for the next try
    # Shown once: the next visit has an empty form.
    assert "You are commenting very fast" not in page_html(client, campaign)


def test_the_minute_and_hour_limits_count_the_members_own_comments(campaign, commenter, settings):
    settings.COMMENTS_PER_MINUTE = 2
    settings.COMMENTS_PER_HOUR = 3
    now = timezone.now()
    post(campaign, commenter, "One", now=now - timedelta(minutes=5))
    post(campaign, commenter, "Two", now=now - timedelta(seconds=30))
    post(campaign, MemberFactory(), "Someone else's", now=now)
    post(campaign, commenter, "Three", now=now)
    with pytest.raises(DomainError, match="commenting very fast"):
        post(campaign, commenter, "Four", now=now)
    with pytest.raises(DomainError, match="last hour"):
        post(campaign, commenter, "Four", now=now + timedelta(minutes=2))
    assert post(campaign, commenter, "Later", now=now + timedelta(minutes=56)).pk


# --- emails ------------------------------------------------------------------------------------
def keys():
    return set(OutboundEmail.objects.values_list("key", flat=True))


def test_the_team_is_emailed_each_comment_once(campaign, organizer, co_organizer, commenter):
    Collaborator.objects.create(  # invited, not accepted: not on the team
        campaign=campaign, email="pending@example.org", invited_by=organizer
    )
    comment = post(campaign, commenter)
    assert keys() == {
        f"comment:{comment.pk}:member:{organizer.pk}",
        f"comment:{comment.pk}:member:{co_organizer.pk}",
    }
    email = OutboundEmail.objects.get(to=organizer.email)
    assert email.template == "comment_posted"
    assert "Ada commented on “Tool library”" in email.subject
    assert "Lovely idea!" in email.body_text
    assert reverse("community:comment", args=[comment.pk]) in email.body_text
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    comments._notify(comment, replied_to=None)  # a second run sends nothing more
    assert OutboundEmail.objects.count() == 2


def test_the_author_is_not_emailed_their_own_comment(campaign, organizer, co_organizer):
    comment = post(campaign, organizer, "Thank you all")
    assert keys() == {f"comment:{comment.pk}:member:{co_organizer.pk}"}


def test_team_members_who_turned_comments_off_get_none(campaign, organizer, commenter):
    notifications.set_preferences(organizer, comments=False)
    post(campaign, commenter)
    assert not OutboundEmail.objects.exists()


def test_a_reply_emails_the_parent_author_if_they_want_replies(campaign, organizer, commenter):
    top = post(campaign, commenter, "Top")
    replier = MemberFactory(display_name="Bo")
    reply = post(campaign, replier, "A reply", parent=top)
    email = OutboundEmail.objects.get(key=f"comment:{reply.pk}:member:{commenter.pk}")
    assert email.template == "comment_reply"
    assert "Bo replied to your comment" in email.subject
    assert OutboundEmail.objects.filter(key=f"comment:{reply.pk}:member:{organizer.pk}").exists()

    notifications.set_preferences(commenter, replies=False)
    second = post(campaign, replier, "Another reply", parent=top)
    assert not OutboundEmail.objects.filter(key=f"comment:{second.pk}:member:{commenter.pk}")

    # Replying to a reply: the reply's author (and the thread's, who turned them off: not).
    third = post(campaign, MemberFactory(), "To Bo", parent=reply)
    assert OutboundEmail.objects.filter(key=f"comment:{third.pk}:member:{replier.pk}").exists()
    assert not OutboundEmail.objects.filter(key=f"comment:{third.pk}:member:{commenter.pk}")


def test_a_reply_to_the_organizer_sends_them_one_email(campaign, organizer, commenter):
    top = post(campaign, organizer, "Ask us anything")
    reply = post(campaign, commenter, "When do you open?", parent=top)
    emails = OutboundEmail.objects.filter(to=organizer.email)
    assert [e.key for e in emails] == [f"comment:{reply.pk}:member:{organizer.pk}"]
    assert emails[0].template == "comment_posted"


def test_an_organizer_who_turned_comments_off_still_gets_replies(campaign, organizer, commenter):
    notifications.set_preferences(organizer, comments=False)
    top = post(campaign, organizer, "Ask us anything")
    post(campaign, commenter, "When?", parent=top)
    assert list(OutboundEmail.objects.values_list("template", flat=True)) == ["comment_reply"]


def cancel_pledge_of(member, campaign):
    Pledge.objects.filter(supporter=member, campaign=campaign).update(
        status=Pledge.Status.CANCELLED
    )


def test_a_former_supporter_gets_no_reply_email_from_a_supporters_only_update(
    campaign, organizer, co_organizer, client
):
    """They commented as a supporter, then cancelled their pledge: the update (and the
    replies under it) is no longer theirs to read, so its replies are not emailed to them."""
    update = make_update(campaign, audience=SUPPORTERS)
    former = PledgeFactory(campaign=campaign).supporter
    top = post(campaign, former, "Can't wait", update=update)
    cancel_pledge_of(former, campaign)
    replier = PledgeFactory(campaign=campaign).supporter
    reply = post(campaign, replier, "Secret plans for the supporters", update=update, parent=top)

    assert not OutboundEmail.objects.filter(to=former.email).exists()
    # The team can always read it: emailed as usual.
    assert set(OutboundEmail.objects.values_list("to", flat=True)) == {
        organizer.email,
        co_organizer.email,
    }
    # A current supporter replied to is emailed.
    third = post(campaign, organizer, "Thanks!", update=update, parent=reply)
    assert OutboundEmail.objects.filter(
        key=f"comment:{third.pk}:member:{replier.pk}", template="comment_reply"
    ).exists()
    assert not OutboundEmail.objects.filter(to=former.email).exists()
    # Its permalink and report page are a 404 to them.
    client.force_login(former)
    for name in ("comment", "report_comment"):
        assert client.get(reverse(f"community:{name}", args=[reply.pk])).status_code == 404


def test_once_the_update_is_public_its_replies_are_emailed_to_anyone(campaign, organizer):
    update = make_update(
        campaign, audience=SUPPORTERS, public_from=timezone.now() - timedelta(days=1)
    )
    top = post(campaign, MemberFactory(), "Now I can read it", update=update)
    reply = post(campaign, organizer, "Welcome", update=update, parent=top)
    assert OutboundEmail.objects.filter(key=f"comment:{reply.pk}:member:{top.author_id}").exists()


def test_a_deactivated_member_gets_no_comment_or_reply_emails(campaign, organizer, commenter):
    top = post(campaign, organizer, "Ask us anything")
    type(organizer).objects.filter(pk=organizer.pk).update(is_active=False)
    post(campaign, commenter, "When?", parent=top)
    assert not OutboundEmail.objects.exists()


# --- hiding ------------------------------------------------------------------------------------
def test_organizer_hides_a_comment_with_a_reason_and_an_audit_row(campaign, organizer, commenter):
    comment = post(campaign, commenter, "Buy cheap watches")
    comments.hide_comment(comment, by=organizer, reason="Spam.")
    comment.refresh_from_db()
    assert comment.is_hidden and comment.hidden_by == organizer
    assert comment.hidden_reason == "Spam."
    event = AuditEvent.objects.get(action="comment:hidden")
    assert event.target_id == str(comment.pk) and event.actor == organizer
    assert event.note == "Spam."
    comments.hide_comment(comment, by=organizer, reason="Again")  # already hidden: no change
    assert AuditEvent.objects.filter(action="comment:hidden").count() == 1


def test_co_organizers_and_moderators_hide_too(campaign, co_organizer, commenter):
    first, second = post(campaign, commenter, "One"), post(campaign, commenter, "Two")
    comments.hide_comment(first, by=co_organizer, reason="Off topic.")
    comments.hide_comment(second, by=moderator(), reason="Abuse.")
    assert Comment.objects.filter(hidden_at__isnull=False).count() == 2


def test_a_reason_is_required(campaign, organizer, commenter):
    comment = post(campaign, commenter)
    with pytest.raises(DomainError) as refused:
        comments.hide_comment(comment, by=organizer, reason="  ")
    assert refused.value.field == "reason"
    comment.refresh_from_db()
    assert not comment.is_hidden


def test_hiding_by_anyone_else_is_a_404_and_changes_nothing(campaign, commenter, client):
    comment = post(campaign, commenter, "Fine comment")
    outsider = MemberFactory(is_staff=True)  # staff without the permission, too
    with pytest.raises(NotPermitted):
        comments.hide_comment(comment, by=outsider, reason="I dislike it")
    client.force_login(outsider)
    url = reverse("community:hide_comment", args=[comment.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "I dislike it"}).status_code == 404
    client.force_login(commenter)  # the author neither
    assert client.post(url, {"reason": "Oops"}).status_code == 404
    comment.refresh_from_db()
    assert not comment.is_hidden
    assert not AuditEvent.objects.filter(action="comment:hidden").exists()
    assert "Hide comment" not in page_html(client, campaign)


def test_hide_page_and_placeholder(campaign, organizer, commenter, client):
    comment = post(campaign, commenter, "Call 0470 12 34 56 for a date")
    reply = post(campaign, MemberFactory(), "A reply that stays", parent=comment)
    client.force_login(organizer)
    url = reverse("community:hide_comment", args=[comment.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Call 0470" in page.content.decode()
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200
    assert "Give a reason for hiding this comment." in refused.content.decode()
    response = client.post(url, {"reason": "Personal data."})
    assert response.status_code == 302
    assert response["Location"].endswith(f"{campaign.get_absolute_url()}#comment-{comment.pk}")
    html = page_html(client, campaign)
    assert "This comment was hidden by the organizers: Personal data." in html
    assert "Call 0470" not in html
    assert "A reply that stays" in html and f'id="comment-{reply.pk}"' in html


def test_hidden_by_moderators_says_so(campaign, commenter, client):
    comment = post(campaign, commenter, "Nasty")
    comments.hide_comment(comment, by=moderator(), reason="Hateful.")
    assert "This comment was hidden by the moderators: Hateful." in page_html(client, campaign)


def test_moderators_unhide_with_an_audit_row_and_organizers_cannot(campaign, organizer, commenter):
    comment = post(campaign, commenter)
    comments.hide_comment(comment, by=organizer, reason="Too harsh.")
    with pytest.raises(NotPermitted):
        comments.unhide_comment(comment, by=organizer)
    staff = moderator()
    comments.unhide_comment(comment, by=staff)
    comment.refresh_from_db()
    assert not comment.is_hidden and comment.hidden_reason == ""
    event = AuditEvent.objects.get(action="comment:unhidden")
    assert event.actor == staff and "Too harsh." in event.note


# --- posting through the page ------------------------------------------------------------------
def test_posting_comes_back_to_the_new_comment(campaign, commenter, client):
    client.force_login(commenter)
    url = reverse("community:post_comment", args=[campaign.slug])
    response = client.post(url, {"body": "Count me in"})
    comment = Comment.objects.get()
    assert response["Location"] == f"{campaign.get_absolute_url()}#comment-{comment.pk}"
    reply = client.post(url, {"body": "Me too", "parent": comment.pk})
    assert reply.status_code == 302
    assert Comment.objects.get(body="Me too").parent_id == comment.pk
    html = page_html(client, campaign)
    assert "Count me in" in html and "Me too" in html


def test_a_refused_reply_comes_back_to_its_form(campaign, commenter, client):
    top = post(campaign, MemberFactory(), "Top")
    client.force_login(commenter)
    url = reverse("community:post_comment", args=[campaign.slug])
    response = client.post(url, {"body": "  ", "parent": top.pk})
    assert response["Location"].endswith(f"#comment-{top.pk}")
    html = page_html(client, campaign)
    assert "Write your comment." in html
    assert '<details class="cm-action cm-reply" open>' in html


def test_visitors_get_a_login_link_and_no_forms(campaign, commenter, client):
    post(campaign, commenter, "Hello")
    html = page_html(client, campaign)
    login = reverse("account_login")
    assert f'href="{login}?next=/c/{campaign.slug}/%23comments"' in html
    assert "csrfmiddlewaretoken" not in html  # the page stays cacheable for visitors
    assert "Comments (1)" in html and "Hello" in html


def test_permalink_goes_to_the_page_that_shows_the_comment(campaign, commenter, client, settings):
    settings.COMMENTS_PER_PAGE = 2
    now = timezone.now()
    oldest = post(campaign, commenter, "Oldest", now=now - timedelta(hours=3))
    reply = post(campaign, MemberFactory(), "Reply", parent=oldest, now=now)
    for hours in (2, 1):
        post(campaign, MemberFactory(), f"{hours} hours ago", now=now - timedelta(hours=hours))
    response = client.get(reverse("community:comment", args=[reply.pk]))
    page_two = f"{campaign.get_absolute_url()}?comments_page=2"
    assert response["Location"] == f"{page_two}#comment-{reply.pk}"


def test_permalink_of_a_supporters_only_comment_is_404_to_others(campaign, client):
    update = make_update(campaign, audience=SUPPORTERS)
    supporter = PledgeFactory(campaign=campaign).supporter
    comment = post(campaign, supporter, update=update)
    assert client.get(reverse("community:comment", args=[comment.pk])).status_code == 404
    client.force_login(MemberFactory())
    assert client.get(reverse("community:report_comment", args=[comment.pk])).status_code == 404


def test_comment_for_permalink_is_for_the_updates_readers_only(campaign, organizer):
    update = make_update(campaign, audience=SUPPORTERS)
    supporter = PledgeFactory(campaign=campaign).supporter
    comment = post(campaign, supporter, update=update)
    for reader in (supporter, organizer):
        found = comments.comment_for_permalink(comment.pk, reader)
        assert found == comment and found.update.campaign is found.campaign
    cancel_pledge_of(supporter, campaign)
    for outsider in (supporter, MemberFactory(), moderator(), AnonymousUser()):
        with pytest.raises(NotPermitted):
            comments.comment_for_permalink(comment.pk, outsider)
    with pytest.raises(NotPermitted):
        comments.comment_for_permalink(comment.pk + 1, organizer)
    on_page = post(campaign, MemberFactory())
    assert comments.comment_for_permalink(on_page.pk, AnonymousUser()) == on_page


# --- badges -----------------------------------------------------------------------------------
def test_badges_for_the_team_and_supporters(campaign, organizer, co_organizer, commenter, client):
    pledge = PledgeFactory(campaign=campaign)
    post(campaign, organizer, "From the organizer")
    post(campaign, co_organizer, "From the co-organizer")
    post(campaign, pledge.supporter, "From a supporter")
    post(campaign, commenter, "From a neighbour")
    thread = comments.comment_thread(campaign, AnonymousUser())
    badges = {comment.body: comment.badge for comment in thread.comments}
    assert badges == {
        "From the organizer": "organizer",
        "From the co-organizer": "organizer",
        "From a supporter": "supporter",
        "From a neighbour": "",
    }
    html = page_html(client, campaign)
    assert html.count('class="cm-badge cm-badge-organizer"') == 2
    assert html.count('class="cm-badge cm-badge-supporter"') == 1

    Pledge.objects.filter(pk=pledge.pk).update(status=Pledge.Status.CANCELLED)
    thread = comments.comment_thread(campaign, AnonymousUser())
    assert {c.body: c.badge for c in thread.comments}["From a supporter"] == ""


# --- the campaign page: paginated, fixed queries ------------------------------------------------
def fill(campaign, *, top_level, updates, replies_each=1):
    """`top_level` comments on the campaign page (each with replies), and `updates` updates with
    one comment each, in a few bulk inserts."""
    now = timezone.now()
    members = [MemberFactory() for _ in range(5)]
    PledgeFactory(campaign=campaign, supporter=members[0])
    made = Update.objects.bulk_create(
        Update(
            campaign=campaign,
            number=number,
            author=campaign.organizer,
            title=f"Update {number}",
            body="News",
            body_html="<p>News</p>",
            published_at=now - timedelta(days=1),
        )
        for number in range(1, updates + 1)
    )

    def comment(number, **extra):
        return Comment(
            campaign=campaign,
            author=members[number % len(members)],
            body=f"Comment {number}",
            body_html=f"<p>Comment {number}</p>",
            created_at=now - timedelta(minutes=number),
            **extra,
        )

    tops = Comment.objects.bulk_create(comment(n) for n in range(top_level))
    Comment.objects.bulk_create(
        comment(10_000 + n * replies_each + r, parent=top)
        for n, top in enumerate(tops)
        for r in range(replies_each)
    )
    Comment.objects.bulk_create(comment(20_000 + n, update=u) for n, u in enumerate(made))
    return tops


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_campaign_page_runs_the_same_queries_for_5_comments_and_1000(client, settings):
    settings.COMMENTS_PER_PAGE = 20
    small, large = CampaignFactory(live=True), CampaignFactory(live=True)
    fill(small, top_level=5, updates=1)
    fill(large, top_level=500, updates=100)  # 500 comments, 500 replies, 100 update comments
    assert Comment.objects.filter(campaign=large).count() == 1_100
    client.force_login(MemberFactory())  # logged in: the forms too, and never the page cache
    client.get(small.get_absolute_url())  # warm the session, content types and the like
    few = count_queries(client, small.get_absolute_url())
    many = count_queries(client, large.get_absolute_url())
    assert many == few


def test_campaign_page_shows_one_page_of_comments_newest_first(client, settings):
    settings.COMMENTS_PER_PAGE = 3
    campaign = CampaignFactory(live=True)
    fill(campaign, top_level=7, updates=2, replies_each=0)
    html = page_html(client, campaign)
    assert "Comments (7)" in html  # the campaign's own, not its updates'
    shown = [n for n in range(7) if f"<p>Comment {n}</p>" in html]
    assert shown == [0, 1, 2]  # newest first
    assert "Comment 20000" not in html
    assert "?comments_page=2#comments" in html
    second = page_html(client, campaign, "?comments_page=2")
    assert [n for n in range(7) if f"<p>Comment {n}</p>" in second] == [3, 4, 5]
    third = page_html(client, campaign, "?comments_page=3")
    assert [n for n in range(7) if f"<p>Comment {n}</p>" in third] == [6]


def test_replies_are_shown_oldest_first_under_their_comment(campaign, commenter, client):
    now = timezone.now()
    top = post(campaign, commenter, "Top", now=now - timedelta(hours=2))
    post(campaign, MemberFactory(), "First reply", parent=top, now=now - timedelta(hours=1))
    post(campaign, MemberFactory(), "Second reply", parent=top, now=now)
    html = page_html(client, campaign)
    assert html.index("Top") < html.index("First reply") < html.index("Second reply")
    assert "Comments (3)" in html


# --- an update's comments (its permalink includes community/_update_comments.html) --------------
def render_update_comments(update, viewer):
    request = RequestFactory().get("/")
    request.user = viewer
    request.session = {}
    return render_to_string(
        "community/_update_comments.html",
        {"update": update, "campaign": update.campaign, "user": viewer},
        request=request,
    )


def test_update_comments_include_shows_that_updates_thread(campaign, commenter):
    update = make_update(campaign)
    post(campaign, commenter, "About the update", update=update)
    post(campaign, commenter, "About the campaign")
    html = render_update_comments(update, commenter)
    assert "About the update" in html and "About the campaign" not in html
    assert "Comments (1)" in html
    assert f'name="update" value="{update.pk}"' in html
    assert "Report this campaign" not in html


def test_commenting_on_an_update_comes_back_to_its_permalink(campaign, commenter, client):
    update = make_update(campaign)
    client.force_login(commenter)
    url = reverse("community:post_comment", args=[campaign.slug])
    response = client.post(url, {"body": "Good news!", "update": update.pk})
    comment = Comment.objects.get()
    assert comment.update_id == update.pk and comment.parent_id is None
    assert response["Location"] == f"{update.get_absolute_url()}#comment-{comment.pk}"
    html = client.get(update.get_absolute_url()).content.decode()
    assert "Good news!" in html and "Comments (1)" in html
    assert "Good news!" not in page_html(client, campaign)

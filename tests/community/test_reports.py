"""Reports (community.reports) and the community admin (community.admin): reporting a comment
or a campaign once, the hourly limit, resolving through the transition table with its audit
rows, hiding a comment from its report, the queue for superusers and for staff holding
community.moderate_community, and the comment list's hide action."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from community import comments, reports
from community.models import Comment, Report, Update
from core.errors import DomainError, NotPermitted, TransitionError
from core.models import AuditEvent
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory

pytestmark = pytest.mark.django_db

Status = Report.Status
QUEUE = reverse("admin:community_report_changelist")
COMMENTS = reverse("admin:community_comment_changelist")


@pytest.fixture
def campaign():
    return CampaignFactory(live=True, title="Tool library")


@pytest.fixture
def comment(campaign):
    return comments.post_comment(
        campaign, by=MemberFactory(display_name="Spammer"), body="Cheap watches here"
    )


@pytest.fixture
def reporter():
    return MemberFactory(display_name="Careful neighbour")


def moderator(**extra):
    member = MemberFactory(is_staff=True, **extra)
    member.user_permissions.add(
        Permission.objects.get(content_type__app_label="community", codename="moderate_community")
    )
    return member


def file(target, by, reason=Report.Reason.SPAM, note=""):
    return reports.report(target, by=by, reason=reason, note=note)


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def action_url(report, tool):
    return reverse("admin:community_report_actions", args=[report.pk, tool])


# --- reporting -----------------------------------------------------------------------------------
def test_reporting_a_comment_twice_makes_one_report(comment, reporter, client):
    client.force_login(reporter)
    url = reverse("community:report_comment", args=[comment.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Cheap watches here" in page.content.decode()
    assert "Spam or advertising" in page.content.decode()
    first = client.post(url, {"reason": "spam", "note": "Links to a shop"})
    assert first.status_code == 302
    assert first["Location"].endswith(f"#comment-{comment.pk}")
    assert "Thank you for your report. Our team will look at it." in messages_of(first)
    second = client.post(url, {"reason": "abuse"})
    assert second.status_code == 302
    assert "You have already reported this; our team will look at it." in messages_of(second)
    report = Report.objects.get()
    assert (report.reporter, report.comment) == (reporter, comment)
    assert report.campaign == comment.campaign
    assert (report.reason, report.note, report.status) == ("spam", "Links to a shop", Status.OPEN)


def test_reporting_a_campaign_twice_makes_one_report(campaign, reporter, client):
    client.force_login(reporter)
    url = reverse("community:report_campaign", args=[campaign.slug])
    assert client.post(url, {"reason": "misleading"})["Location"] == campaign.get_absolute_url()
    client.post(url, {"reason": "misleading"})
    report = Report.objects.get()
    assert report.comment is None and report.campaign == campaign
    # A report of the campaign and one of its comment are two things.
    comment = comments.post_comment(campaign, by=MemberFactory(), body="Hello")
    assert file(comment, reporter).created
    assert Report.objects.count() == 2


def test_a_closed_report_lets_the_member_report_again(comment, reporter):
    first = file(comment, reporter).report
    reports.resolve_report(first, by=moderator(), outcome=Status.DISMISSED)
    again = file(comment, reporter)
    assert again.created and again.report.pk != first.pk


def test_report_page_needs_a_reason_and_a_login(comment, reporter, client):
    url = reverse("community:report_comment", args=[comment.pk])
    assert "/accounts/login/" in client.get(url)["Location"]
    client.force_login(reporter)
    response = client.post(url, {"note": "Bad"})
    assert response.status_code == 200
    assert "Choose what is wrong." in response.content.decode()
    assert not Report.objects.exists()


def test_reports_are_limited_per_hour(campaign, reporter, client, settings):
    settings.REPORTS_PER_HOUR = 2
    first, second, third = (
        comments.post_comment(campaign, by=MemberFactory(), body=f"Comment {n}") for n in range(3)
    )
    file(first, reporter)
    file(second, reporter)
    with pytest.raises(DomainError, match="many reports"):
        file(third, reporter)
    client.force_login(reporter)
    response = client.post(reverse("community:report_comment", args=[third.pk]), {"reason": "spam"})
    assert response.status_code == 200
    assert "You have sent many reports in the last hour" in response.content.decode()
    assert Report.objects.count() == 2
    # A repeat of an open report is still a friendly no-op, not a refusal.
    assert not file(first, reporter).created


def test_older_reports_do_not_count_against_the_hour(campaign, reporter, settings):
    settings.REPORTS_PER_HOUR = 1
    first = comments.post_comment(campaign, by=MemberFactory(), body="One")
    second = comments.post_comment(campaign, by=MemberFactory(), body="Two")
    reports.report(first, by=reporter, reason="spam", now=timezone.now() - timedelta(hours=2))
    assert file(second, reporter).created


def test_a_comment_under_a_supporters_only_update_is_reported_by_its_readers_only(campaign):
    update = Update.objects.create(
        campaign=campaign,
        number=1,
        author=campaign.organizer,
        title="For supporters",
        body="Plans.",
        body_html="<p>Plans.</p>",
        audience=Update.Audience.SUPPORTERS,
    )
    author, reader = (PledgeFactory(campaign=campaign).supporter for _ in range(2))
    comment = comments.post_comment(campaign, by=author, body="Plans!", update=update)
    for outsider in (MemberFactory(), moderator()):
        with pytest.raises(NotPermitted):
            file(comment, outsider)
    assert not Report.objects.exists()
    assert file(comment, reader).created


def test_members_cannot_report_their_own_comment_or_a_hidden_one(comment, client, campaign):
    with pytest.raises(DomainError):
        file(comment, comment.author)
    comments.hide_comment(comment, by=campaign.organizer, reason="Spam.")
    client.force_login(MemberFactory())
    response = client.get(reverse("community:report_comment", args=[comment.pk]))
    assert response.status_code == 302
    assert "This comment is already hidden." in messages_of(response)


def test_campaigns_that_are_not_public_cannot_be_reported(reporter, client):
    draft = CampaignFactory()
    with pytest.raises(NotPermitted):
        file(draft, reporter)
    client.force_login(reporter)
    assert client.get(reverse("community:report_campaign", args=[draft.slug])).status_code == 404


def test_report_links_on_the_campaign_page(campaign, comment, reporter, client):
    client.force_login(reporter)
    html = client.get(campaign.get_absolute_url()).content.decode()
    assert reverse("community:report_comment", args=[comment.pk]) in html
    assert reverse("community:report_campaign", args=[campaign.slug]) in html


# --- resolving ------------------------------------------------------------------------------------
def test_only_moderators_resolve(comment, reporter, campaign):
    report = file(comment, reporter).report
    for member in (reporter, campaign.organizer, MemberFactory(is_staff=True)):
        with pytest.raises(NotPermitted):
            reports.resolve_report(report, by=member, outcome=Status.DISMISSED)
    report.refresh_from_db()
    assert report.status == Status.OPEN


def test_dismissing_goes_through_the_transition_and_is_audited(comment, reporter):
    report = file(comment, reporter).report
    staff = moderator()
    reports.resolve_report(report, by=staff, outcome=Status.DISMISSED, note="Not spam.")
    report.refresh_from_db()
    assert report.status == Status.DISMISSED
    assert report.resolved_by == staff and report.resolved_at is not None
    assert report.resolution_note == "Not spam."
    event = AuditEvent.objects.get(action="status:dismissed")
    assert (event.from_status, event.to_status, event.note) == ("open", "dismissed", "Not spam.")
    comment.refresh_from_db()
    assert not comment.is_hidden
    # Again: nothing happens; another outcome is refused by the table.
    reports.resolve_report(report, by=staff, outcome=Status.DISMISSED)
    assert AuditEvent.objects.filter(action="status:dismissed").count() == 1
    with pytest.raises(TransitionError):
        reports.resolve_report(report, by=staff, outcome=Status.ACTED_ON)


def test_acting_on_a_comment_report_hides_it_and_closes_its_other_reports(comment, reporter):
    report = file(comment, reporter).report
    other = file(comment, MemberFactory()).report
    unrelated = file(comment.campaign, reporter).report
    staff = moderator()
    reports.resolve_report(report, by=staff, outcome=Status.ACTED_ON, hide_reason="Spam.")
    comment.refresh_from_db()
    assert comment.is_hidden and comment.hidden_reason == "Spam." and comment.hidden_by == staff
    assert AuditEvent.objects.filter(action="comment:hidden", target_id=str(comment.pk)).exists()
    statuses = dict(Report.objects.values_list("pk", "status"))
    assert statuses == {report.pk: "acted_on", other.pk: "acted_on", unrelated.pk: "open"}
    assert AuditEvent.objects.filter(action="status:acted_on").count() == 2


def test_a_failed_hide_rolls_the_resolution_back(comment, reporter):
    report = file(comment, reporter).report
    with pytest.raises(DomainError):
        reports.resolve_report(
            report, by=moderator(), outcome=Status.ACTED_ON, hide_reason="x" * 501
        )
    report.refresh_from_db()
    assert report.status == Status.OPEN
    assert not AuditEvent.objects.filter(action="status:acted_on").exists()


# --- the admin --------------------------------------------------------------------------------
@pytest.fixture
def moderator_client(client):
    client.force_login(moderator())
    return client


@pytest.mark.parametrize("who", ["superuser", "moderator"])
def test_report_queue_open_first_oldest_first_with_counts(
    who, admin_client, moderator_client, campaign, comment, reporter
):
    browser = admin_client if who == "superuser" else moderator_client
    assert QUEUE in browser.get(reverse("admin:index")).content.decode()
    now = timezone.now()
    newer = reports.report(comment, by=reporter, reason="spam", now=now - timedelta(hours=1))
    older = reports.report(
        comment, by=MemberFactory(), reason="abuse", note="Nasty", now=now - timedelta(days=1)
    )
    closed = reports.report(campaign, by=reporter, reason="misleading", now=now - timedelta(days=3))
    reports.resolve_report(closed.report, by=moderator(), outcome=Status.DISMISSED)

    response = browser.get(QUEUE)
    assert response.status_code == 200
    shown = [report.pk for report in response.context["cl"].result_list]
    assert shown == [older.report.pk, newer.report.pk, closed.report.pk]
    html = response.content.decode()
    assert "Cheap watches here" in html and "Spammer" in html and "Tool library" in html
    assert "1 (1 open)" in html  # each of the two has the other

    page = browser.get(reverse("admin:community_report_change", args=[older.report.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nasty" in html and "Cheap watches here" in html
    assert action_url(older.report, "hide_the_comment") in html
    assert action_url(older.report, "dismiss") in html
    assert 'name="_save"' not in html  # read-only


def test_staff_without_the_permission_do_not_see_the_queue(client, comment, reporter):
    file(comment, reporter)
    client.force_login(MemberFactory(is_staff=True))
    assert client.get(QUEUE).status_code == 403


def test_hide_the_comment_from_its_report(moderator_client, comment, reporter, campaign):
    report = file(comment, reporter).report
    url = action_url(report, "hide_the_comment")
    page = moderator_client.get(url)
    assert page.status_code == 200 and "Cheap watches here" in page.content.decode()
    refused = moderator_client.post(url, {"reason": ""})
    assert refused.status_code == 200
    assert "Give a reason for hiding this comment." in refused.content.decode()
    comment.refresh_from_db()
    assert not comment.is_hidden
    response = moderator_client.post(url, {"reason": "Spam."})
    assert response.status_code == 302 and response["Location"] == QUEUE
    comment.refresh_from_db()
    report.refresh_from_db()
    assert comment.is_hidden and report.status == Status.ACTED_ON
    html = moderator_client.get(campaign.get_absolute_url()).content.decode()
    assert "This comment was hidden by the moderators: Spam." in html


def test_dismiss_from_the_admin(moderator_client, comment, reporter):
    report = file(comment, reporter).report
    response = moderator_client.post(action_url(report, "dismiss"), {"note": "Fine."})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == Status.DISMISSED and report.resolution_note == "Fine."
    # The buttons are gone, and typing the URL again changes nothing.
    page = moderator_client.get(reverse("admin:community_report_change", args=[report.pk]))
    assert action_url(report, "dismiss") not in page.content.decode()
    again = moderator_client.post(action_url(report, "dismiss"), {"note": "Again"})
    assert again.status_code == 302
    assert AuditEvent.objects.filter(action="status:dismissed").count() == 1


def test_campaign_report_is_marked_acted_on(moderator_client, campaign, reporter):
    report = file(campaign, reporter).report
    page = moderator_client.get(reverse("admin:community_report_change", args=[report.pk]))
    html = page.content.decode()
    assert action_url(report, "act_on") in html
    assert action_url(report, "hide_the_comment") not in html
    moderator_client.post(action_url(report, "act_on"), {"note": "Unpublished it."})
    report.refresh_from_db()
    assert report.status == Status.ACTED_ON
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.LIVE


def test_comment_admin_search_filter_and_hide_action(moderator_client, campaign, comment):
    kept = comments.post_comment(campaign, by=MemberFactory(), body="Lovely garden")
    found = moderator_client.get(COMMENTS, {"q": "watches"})
    assert [c.pk for c in found.context["cl"].result_list] == [comment.pk]
    by_author = moderator_client.get(COMMENTS, {"q": comment.author.email})
    assert [c.pk for c in by_author.context["cl"].result_list] == [comment.pk]

    data = {"action": "hide_comments", ACTION_CHECKBOX_NAME: [comment.pk]}
    confirm = moderator_client.post(COMMENTS, {**data, "index": 0})
    assert confirm.status_code == 200 and "Cheap watches here" in confirm.content.decode()
    done = moderator_client.post(COMMENTS, {**data, "reason": "Spam.", "apply": "1"})
    assert done.status_code == 302
    comment.refresh_from_db()
    kept.refresh_from_db()
    assert comment.is_hidden and comment.hidden_reason == "Spam." and not kept.is_hidden
    assert AuditEvent.objects.filter(action="comment:hidden").count() == 1

    hidden = moderator_client.get(COMMENTS, {"hidden": "yes"})
    assert [c.pk for c in hidden.context["cl"].result_list] == [comment.pk]
    shown = moderator_client.get(COMMENTS, {"hidden": "no"})
    assert [c.pk for c in shown.context["cl"].result_list] == [kept.pk]

    page = moderator_client.get(reverse("admin:community_comment_change", args=[comment.pk]))
    assert page.status_code == 200
    unhide = reverse("admin:community_comment_actions", args=[comment.pk, "unhide"])
    assert unhide in page.content.decode()
    moderator_client.post(unhide, {"note": "Not spam after all."})
    assert not Comment.objects.get(pk=comment.pk).is_hidden


def test_update_and_follow_lists_open(admin_client):
    assert admin_client.get(reverse("admin:community_update_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:community_follow_changelist")).status_code == 200

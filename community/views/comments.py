"""Community pages: comments and reports (routes in urlpatterns, collected by community.urls).

Posting is a POST that comes back to the thread's page (the campaign page or the update's
permalink) at the new comment; a refused comment comes back to its form with the message and
the text (community.comments.keep_draft). Hiding and reporting have their own small pages
(GET the form, POST it). The rules are community.comments' and community.reports'; whatever a
member may not do or see is a 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.models import Campaign
from community import comments, reports
from community.comment_forms import CommentForm, HideCommentForm, ReportForm
from community.models import Comment, Update
from core.errors import DomainError, NotPermitted


def _public_campaign(slug):
    return get_object_or_404(Campaign.objects.public().select_related("organizer"), slug=slug)


def _back_to(comment):
    """The thread's page that shows the comment, at the comment."""
    url = comments.thread_url(comment.campaign, comment.update)
    page = comments.page_of(comment)
    if page > 1:
        url += f"?comments_page={page}"
    return f"{url}#comment-{comment.pk}"


@login_required
@require_POST
def post_comment_view(request, slug):
    campaign = _public_campaign(slug)
    form = CommentForm(request.POST)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    update = parent = None
    if data.get("update"):
        update = get_object_or_404(Update, pk=data["update"], campaign=campaign)
    if data.get("parent"):
        parent = get_object_or_404(
            Comment.objects.select_related("parent"), pk=data["parent"], campaign=campaign
        )
    body = request.POST.get("body", "")
    try:
        if "body" in form.errors:
            raise DomainError(form.errors["body"][0], field="body")
        comment = comments.post_comment(
            campaign, by=request.user, body=body, update=update, parent=parent
        )
    except NotPermitted as error:
        raise Http404(str(error)) from None
    except DomainError as error:
        comments.keep_draft(
            request,
            campaign=campaign,
            update=update,
            parent_id=parent.pk if parent else None,
            body=body,
            error=error.message,
        )
        anchor = f"comment-{parent.pk}" if parent else "comment-form"
        return HttpResponseRedirect(f"{comments.thread_url(campaign, update)}#{anchor}")
    comment.campaign, comment.update = campaign, update
    messages.success(request, _("Your comment is published."))
    return HttpResponseRedirect(_back_to(comment))


@require_GET
def comment_view(request, pk):
    """A comment's permalink (emails link here): the page of its thread that shows it."""
    return HttpResponseRedirect(_back_to(comments.comment_for_permalink(pk, request.user)))


@login_required
@require_http_methods(["GET", "POST"])
def hide_comment_view(request, pk):
    comment = comments.comment_for_permalink(pk, request.user)
    if not comments.can_hide(request.user, comment.campaign):
        raise Http404("No such comment.")
    back_url = _back_to(comment)
    if comment.is_hidden:
        messages.info(request, _("This comment is already hidden."))
        return HttpResponseRedirect(back_url)
    form = HideCommentForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            comments.hide_comment(comment, by=request.user, reason=form.cleaned_data["reason"])
        except NotPermitted as error:
            raise Http404(str(error)) from None
        except DomainError as error:
            form.add_error("reason" if error.field == "reason" else None, error.message)
        else:
            messages.success(request, _("The comment is hidden; your reason is shown instead."))
            return HttpResponseRedirect(back_url)
    return render(
        request,
        "community/comments/hide.html",
        {"comment": comment, "campaign": comment.campaign, "form": form, "back_url": back_url},
    )


def _report_page(request, target, *, campaign, back_url, title):
    form = ReportForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            filed = reports.report(
                target,
                by=request.user,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except NotPermitted as error:
            raise Http404(str(error)) from None
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if filed.created:
                messages.success(request, _("Thank you for your report. Our team will look at it."))
            else:
                messages.info(
                    request, _("You have already reported this; our team will look at it.")
                )
            return HttpResponseRedirect(back_url)
    return render(
        request,
        "community/comments/report.html",
        {
            "form": form,
            "campaign": campaign,
            "comment": target if isinstance(target, Comment) else None,
            "title": title,
            "back_url": back_url,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def report_comment_view(request, pk):
    comment = comments.comment_for_permalink(pk, request.user)
    if not comment.campaign.is_public:
        raise Http404("No such comment.")
    back_url = _back_to(comment)
    if comment.is_hidden:
        messages.info(request, _("This comment is already hidden."))
        return HttpResponseRedirect(back_url)
    return _report_page(
        request, comment, campaign=comment.campaign, back_url=back_url, title=_("Report a comment")
    )


@login_required
@require_http_methods(["GET", "POST"])
def report_campaign_view(request, slug):
    campaign = _public_campaign(slug)
    return _report_page(
        request,
        campaign,
        campaign=campaign,
        back_url=campaign.get_absolute_url(),
        title=_("Report this campaign"),
    )


urlpatterns = [
    path("c/<slug:slug>/comments/", post_comment_view, name="post_comment"),
    path("c/<slug:slug>/report/", report_campaign_view, name="report_campaign"),
    path("comments/<int:pk>/", comment_view, name="comment"),
    path("comments/<int:pk>/hide/", hide_comment_view, name="hide_comment"),
    path("comments/<int:pk>/report/", report_comment_view, name="report_comment"),
]

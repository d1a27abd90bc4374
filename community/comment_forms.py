"""Forms of the comment pages: a comment (or reply), hiding one, and a report. They parse input
only; the rules (length, who, how fast) are community.comments' and community.reports'."""

from django import forms
from django.utils.translation import gettext_lazy as _

from community import comments, reports
from community.models import Report


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Your comment"),
        # The service counts after stripping; the browser's limit is a courtesy.
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": comments.MAX_BODY_LENGTH}),
        strip=False,
        error_messages={"required": _("Write your comment.")},
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)
    update = forms.IntegerField(required=False, widget=forms.HiddenInput)


class HideCommentForm(forms.Form):
    reason = forms.CharField(
        label=_("Why hide it"),
        max_length=comments.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown in place of the comment, for everyone to read."),
        error_messages={"required": _("Give a reason for hiding this comment.")},
    )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("What is wrong?"),
        choices=Report.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what is wrong.")},
    )
    note = forms.CharField(
        label=_("Anything our team should know (optional)"),
        required=False,
        max_length=reports.MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only our team reads your report; the author is not told who sent it."),
    )

"""Public member profiles and the member's own profile editor."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from campaigns.selectors import organized_by
from core.errors import DomainError, NotPermitted
from members.forms import ProfileForm
from members.models import Member
from members.services import update_profile


def profile(request, pk):
    member = get_object_or_404(Member, pk=pk, is_active=True)
    organized = list(organized_by(member, request.user))
    return render(request, "members/profile.html", {"member": member, "organized": organized})


@login_required
def edit_profile(request):
    form = ProfileForm(request.POST or None, request.FILES or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            update_profile(
                request.user,
                display_name=form.cleaned_data["display_name"],
                bio=form.cleaned_data["bio"],
                location=form.cleaned_data["location"],
                avatar=form.cleaned_data["avatar"] if "avatar" in form.changed_data else None,
                by=request.user,
            )
        except NotPermitted:
            raise
        except DomainError as error:
            # A refused picture is shown next to its field, like any other bad input.
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Your profile was saved."))
            return redirect(request.user.get_absolute_url())
    return render(request, "members/edit_profile.html", {"form": form})

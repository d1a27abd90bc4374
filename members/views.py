"""Public member profiles and the member's own profile editor."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from campaigns.selectors import organized_by
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
        avatar = form.cleaned_data.get("avatar")
        update_profile(
            request.user,
            display_name=form.cleaned_data["display_name"],
            bio=form.cleaned_data["bio"],
            location=form.cleaned_data["location"],
            avatar=avatar if "avatar" in form.changed_data else None,
            by=request.user,
        )
        messages.success(request, "Your profile was saved.")
        return redirect(request.user.get_absolute_url())
    return render(request, "members/edit_profile.html", {"form": form})

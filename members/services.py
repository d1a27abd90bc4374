"""Every write to a member's own data, and the avatar's limits (checked and re-encoded by
core.images, like campaign covers)."""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import images
from core.errors import NotPermitted
from core.models import record
from members.models import Member

AVATAR_MAX_BYTES = 2 * 1024 * 1024
# Shown at most 88 CSS pixels wide (twice that on dense screens): one bounded square JPEG.
AVATAR_SIZE = (256, 256)
# A PNG or WebP is decoded in full (about 3 bytes a pixel, several copies on the way), so a
# picture shown this small gets a lower pixel cap than a cover; a JPEG decodes scaled down.
AVATAR_MAX_PIXELS = 25_000_000
AVATAR_LIMITS = images.ImageLimits(
    field="avatar",
    label=_("picture"),
    max_bytes=AVATAR_MAX_BYTES,
    max_pixels=AVATAR_MAX_PIXELS,
    decode_size=(AVATAR_SIZE[0] * 2, AVATAR_SIZE[1] * 2),
)


def update_profile(member: Member, *, display_name, bio, location, avatar=None, by: Member):
    """Save the member's profile. `avatar`: None keeps it, False removes it, a file replaces it.

    A new picture is checked like a cover (type, bytes, pixels, fully decodable) and stored as
    a re-encoded square JPEG under a name we choose; a bad one raises DomainError(field="avatar")
    before anything is saved.
    """
    if by.pk != member.pk:
        raise NotPermitted("Members can only edit their own profile.")
    fields = ["display_name", "bio", "location"]
    picture = None
    if avatar:
        picture, _format = images.decode_upload(avatar, AVATAR_LIMITS)
    member.display_name = display_name.strip()
    member.bio = bio
    member.location = location.strip()
    if picture is not None:
        square = images.encode(images.crop_to_fill(picture, AVATAR_SIZE), "JPEG", stem="avatar")
        member.avatar.save(square.name, square, save=False)
        fields.append("avatar")
    elif avatar is not None:  # False or "": the member cleared the picture
        member.avatar = ""
        fields.append("avatar")
    member.save(update_fields=fields)
    return member


def remove_avatar(member: Member, *, by: Member, reason=""):
    """A moderator takes down a member's picture (the admin's only way to change it: uploads
    go through update_profile's checks, which the admin's file field would skip)."""
    if not (by.is_staff and by.has_perm("members.change_member")):
        raise NotPermitted("You do not have permission to do this.")
    if not member.avatar:
        return member
    with transaction.atomic():
        member.avatar = ""
        member.save(update_fields=["avatar"])
        record(member, action="avatar_removed", by=by, note=reason)
    return member

"""The profile editor's picture: checked like a cover (type, bytes, pixels, decodable), stored as
a re-encoded bounded square under our name; and only the member may edit their profile."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from core.errors import NotPermitted
from members.models import Member
from members.services import AVATAR_MAX_BYTES, AVATAR_SIZE, update_profile
from tests.factories import MemberFactory
from tests.uploads import (
    HTML,
    assert_reencoded,
    bad_images,
    exif_rotated_jpeg,
    field_errors,
    files_under,
    image_bytes,
)

pytestmark = pytest.mark.django_db

NOT_AN_IMAGE = "The picture must be a JPEG, PNG or WebP image."
DAMAGED = "The picture could not be read: the file is damaged or incomplete."
TOO_MANY_PIXELS = "The picture has too many pixels (at most 25 megapixels)."
AVATAR_ERRORS = {
    "gif": NOT_AN_IMAGE,
    "svg": NOT_AN_IMAGE,
    "text": NOT_AN_IMAGE,
    "html": NOT_AN_IMAGE,
    "truncated-png": DAMAGED,
    "truncated-jpeg": DAMAGED,
    "bomb-169-megapixels": TOO_MANY_PIXELS,
    "bomb-over-pillow-hard-limit": TOO_MANY_PIXELS,
    "over-our-pixel-limit": TOO_MANY_PIXELS,
    "huge": "The picture must be 2 MB or smaller.",
}
BAD_AVATARS = bad_images(max_bytes=AVATAR_MAX_BYTES)
assert set(BAD_AVATARS) == set(AVATAR_ERRORS)


@pytest.fixture
def editor(client):
    member = MemberFactory(display_name="Nora", bio="Old bio")
    client.force_login(member)
    return client, member


def post_profile(client, avatar, **extra):
    fields = {"display_name": "Nora N.", "bio": "New bio", "location": "Ghent", **extra}
    if avatar is not None:
        fields["avatar"] = avatar
    return client.post(reverse("members:edit_profile"), fields)


def test_only_the_member_may_edit_their_profile_not_a_500():
    member, other = MemberFactory(), MemberFactory()
    with pytest.raises(NotPermitted):
        update_profile(member, display_name="x", bio="", location="", by=other)


@pytest.mark.parametrize("kind", sorted(BAD_AVATARS))
def test_a_bad_picture_is_a_form_error_and_nothing_is_saved(editor, settings, kind):
    client, member = editor
    name, content, content_type = BAD_AVATARS[kind]
    response = post_profile(client, SimpleUploadedFile(name, content, content_type))
    assert response.status_code == 200
    assert field_errors(response, "avatar") == [AVATAR_ERRORS[kind]]
    stored = Member.objects.get(pk=member.pk)
    assert (stored.display_name, stored.bio, stored.avatar.name) == ("Nora", "Old bio", "")
    assert files_under(settings.MEDIA_ROOT, f"avatars/{member.pk}") == []


def test_an_empty_picture_is_a_form_error(editor):
    client, _member = editor
    response = post_profile(client, SimpleUploadedFile("me.png", b"", "image/png"))
    assert response.status_code == 200
    assert field_errors(response, "avatar") == ["The submitted file is empty."]


@pytest.mark.parametrize(
    "name,content",
    [
        ("evil.html", image_bytes((300, 300)) + HTML),
        ("photo.jpg", image_bytes((300, 200))),  # really a PNG
        ("huge.png", image_bytes((6000, 4000), fmt="JPEG")),  # within 2 MB, 24 megapixels
        ("tiny.webp", image_bytes((10, 10), fmt="WEBP")),
        ("phone.jpg", exif_rotated_jpeg()),
    ],
    ids=["png-with-html-as-html", "png-named-jpg", "large", "tiny", "exif-gps"],
)
def test_a_picture_is_stored_as_a_bounded_reencoded_square(editor, name, content):
    client, member = editor
    response = post_profile(client, SimpleUploadedFile(name, content, "image/png"))
    assert response.status_code == 302
    member.refresh_from_db()
    assert_reencoded(member.avatar, fmt="JPEG", extension=".jpg", prefix=f"avatars/{member.pk}/")
    with Image.open(member.avatar.path) as stored:
        assert stored.size == AVATAR_SIZE
    served = client.get(member.avatar.url)
    assert (served.status_code, served["Content-Type"]) == (200, "image/jpeg")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert member.avatar.url in client.get(member.get_absolute_url()).content.decode()


def test_the_picture_can_be_removed_and_is_kept_when_not_changed(editor):
    client, member = editor
    post_profile(client, SimpleUploadedFile("me.png", image_bytes((300, 300))))
    member.refresh_from_db()
    kept = member.avatar.name
    assert kept

    assert post_profile(client, None).status_code == 302
    member.refresh_from_db()
    assert member.avatar.name == kept

    assert post_profile(client, None, **{"avatar-clear": "on"}).status_code == 302
    member.refresh_from_db()
    assert not member.avatar


def test_a_big_jpeg_is_decoded_scaled_down_and_a_big_png_is_refused(editor, monkeypatch):
    """A picture shown 88 px wide never costs a photo's full pixels in memory."""
    from PIL import JpegImagePlugin

    decoded_sizes = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spying_load(image):
        result = real_load(image)
        decoded_sizes.append(image.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spying_load)
    client, member = editor
    photo = SimpleUploadedFile("photo.jpg", image_bytes((6000, 4000), fmt="JPEG"), "image/jpeg")
    assert post_profile(client, photo).status_code == 302
    assert decoded_sizes and max(w * h for w, h in decoded_sizes) <= 2_000_000  # not 24 MP

    png = SimpleUploadedFile("big.png", image_bytes((6000, 4500), mode="1"), "image/png")
    response = post_profile(client, png)  # 27 megapixels: fine for a cover, not for a picture
    assert field_errors(response, "avatar") == [TOO_MANY_PIXELS]

"""Uploaded images (core.images) and campaign covers: every bad file is a form error next to the
field, never a 500; every good one is stored re-encoded under a name we chose."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageCms

from campaigns import services
from campaigns.images import COVER_LIMITS, MAX_COVER_BYTES
from campaigns.models import Campaign
from core import images
from core.errors import DomainError
from tests.factories import CampaignFactory
from tests.uploads import (
    HTML,
    assert_reencoded,
    bad_images,
    exif_rotated_jpeg,
    field_errors,
    files_under,
    image_bytes,
    upload,
)

pytestmark = pytest.mark.django_db

NOT_AN_IMAGE = "The cover must be a JPEG, PNG or WebP image."
DAMAGED = "The cover could not be read: the file is damaged or incomplete."
TOO_MANY_PIXELS = "The cover has too many pixels (at most 40 megapixels)."
TOO_BIG = "The cover must be 5 MB or smaller."
COVER_ERRORS = {
    "gif": NOT_AN_IMAGE,
    "svg": NOT_AN_IMAGE,
    "text": NOT_AN_IMAGE,
    "html": NOT_AN_IMAGE,
    "truncated-png": DAMAGED,
    "truncated-jpeg": DAMAGED,
    "bomb-169-megapixels": TOO_MANY_PIXELS,
    "bomb-over-pillow-hard-limit": TOO_MANY_PIXELS,
    "over-our-pixel-limit": TOO_MANY_PIXELS,
    "huge": TOO_BIG,
}
BAD_COVERS = bad_images(max_bytes=MAX_COVER_BYTES)
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
assert set(BAD_COVERS) == set(COVER_ERRORS)


def polyglot_png():
    """A valid PNG with an HTML page appended: Pillow (and verify()) accept it."""
    return image_bytes((1200, 675)) + HTML


# --- core.images: what decodes and what does not ----------------------------------------------
@pytest.mark.parametrize("kind", sorted(BAD_COVERS))
def test_a_bad_image_is_a_domain_error_on_its_field(kind):
    name, content, content_type = BAD_COVERS[kind]
    with pytest.raises(DomainError) as excinfo:
        images.decode_upload(upload(name, content, content_type), COVER_LIMITS)
    assert (excinfo.value.field, excinfo.value.message) == ("cover", COVER_ERRORS[kind])


def test_an_empty_file_is_refused():
    with pytest.raises(DomainError, match="The cover file is empty."):
        images.decode_upload(upload("cover.png", b""), COVER_LIMITS)


def test_the_decompression_bomb_warning_is_an_error_even_under_a_generous_own_limit():
    # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; we refuse.
    limits = images.ImageLimits(field="cover", label="cover", max_bytes=MAX_COVER_BYTES,
                                max_pixels=10**9)  # fmt: skip
    name, content, content_type = BAD_COVERS["bomb-169-megapixels"]
    with pytest.raises(DomainError, match="too many pixels"):
        images.decode_upload(upload(name, content, content_type), limits)


@pytest.mark.parametrize(
    "content,expected_format",
    [
        (polyglot_png(), "PNG"),
        (image_bytes(fmt="JPEG", mode="CMYK"), "JPEG"),
        (image_bytes(mode="I;16"), "PNG"),  # 16-bit greyscale
        (image_bytes(mode="P", transparency=0), "PNG"),
        (image_bytes(mode="RGBA", color=(0, 0, 0, 0)), "PNG"),
        (image_bytes(fmt="WEBP", mode="RGBA", color=(10, 20, 30, 128)), "WEBP"),
        (image_bytes(fmt="JPEG", icc_profile=SRGB_ICC), "JPEG"),
        (image_bytes(icc_profile=b"not a colour profile at all"), "PNG"),
    ],
    ids=[
        "png-with-html-appended",
        "cmyk-jpeg",
        "16-bit-png",
        "palette-transparent",
        "rgba",
        "webp",
        "icc-profile",
        "broken-icc-profile",
    ],
)
def test_awkward_but_valid_images_decode_to_rgb(content, expected_format):
    picture, detected = images.decode_upload(upload("x", content), COVER_LIMITS)
    assert detected == expected_format
    assert picture.mode in ("RGB", "RGBA") and picture.size == (1200, 675)
    assert picture.info == {}


def test_exif_orientation_is_applied_and_the_metadata_dropped():
    picture, _format = images.decode_upload(upload("p.jpg", exif_rotated_jpeg()), COVER_LIMITS)
    assert picture.size == (700, 1200)
    encoded = images.encode(picture, "JPEG")
    with Image.open(encoded) as stored:
        assert not stored.getexif()


@pytest.mark.parametrize(
    "uploaded,kept",
    [("photo.JPG", ".jpg"), ("a.png", ".png"), ("evil.html", ""), ("x.png.html", ""),
     ("../../etc/passwd", ""), ("", ""), ("shell.php.webp", ".webp")],
)  # fmt: skip
def test_stored_names_are_random_and_keep_only_our_extensions(uploaded, kept):
    first, second = images.stored_name(uploaded), images.stored_name(uploaded)
    assert first != second
    stem, extension = first[:32], first[32:]
    assert extension == kept and all(c in "0123456789abcdef" for c in stem)


# --- covers through the service ---------------------------------------------------------------
def test_a_png_with_html_appended_named_html_is_stored_as_a_reencoded_png():
    campaign = CampaignFactory()
    services.update_story(
        campaign,
        by=campaign.organizer,
        story="",
        cover=upload("evil.html", polyglot_png(), "text/html"),
    )
    campaign.refresh_from_db()
    prefix = f"campaigns/{campaign.public_id}/"
    assert_reencoded(campaign.cover, fmt="PNG", extension=".png", prefix=prefix)
    assert_reencoded(campaign.cover_large, fmt="JPEG", extension=".jpg", prefix=prefix)
    assert_reencoded(campaign.cover_card, fmt="JPEG", extension=".jpg", prefix=prefix)


def test_a_png_named_jpg_is_stored_as_what_it_is():
    campaign = CampaignFactory()
    services.update_story(
        campaign,
        by=campaign.organizer,
        story="",
        cover=upload("photo.jpg", image_bytes(), "image/jpeg"),
    )
    campaign.refresh_from_db()
    assert_reencoded(
        campaign.cover, fmt="PNG", extension=".png", prefix=f"campaigns/{campaign.public_id}/"
    )


def test_a_huge_cover_is_stored_bounded():
    campaign = CampaignFactory()
    content = image_bytes((6000, 3000), fmt="JPEG")
    services.update_story(
        campaign, by=campaign.organizer, story="", cover=upload("big.jpg", content)
    )
    campaign.refresh_from_db()
    with Image.open(campaign.cover) as master:
        assert master.size == (2560, 1280)


# --- covers over HTTP: an error next to the field, nothing stored -----------------------------
@pytest.fixture
def organizer(client):
    campaign = CampaignFactory(story="Original story that is long enough to be a story.")
    client.force_login(campaign.organizer)
    return client, campaign


@pytest.mark.parametrize("kind", sorted(BAD_COVERS))
def test_a_bad_cover_is_a_form_error_and_nothing_is_stored(organizer, settings, kind):
    client, campaign = organizer
    name, content, content_type = BAD_COVERS[kind]
    response = client.post(
        reverse("campaigns:edit_story", args=[campaign.pk]),
        {"story": "Changed", "cover": SimpleUploadedFile(name, content, content_type)},
    )
    assert response.status_code == 200
    assert field_errors(response, "cover") == [COVER_ERRORS[kind]]
    stored = Campaign.objects.get(pk=campaign.pk)
    assert stored.story.startswith("Original") and not stored.cover
    assert files_under(settings.MEDIA_ROOT, f"campaigns/{campaign.public_id}") == []


def test_an_empty_cover_is_a_form_error(organizer):
    client, campaign = organizer
    response = client.post(
        reverse("campaigns:edit_story", args=[campaign.pk]),
        {"story": "Changed", "cover": SimpleUploadedFile("cover.png", b"", "image/png")},
    )
    assert response.status_code == 200
    assert field_errors(response, "cover") == ["The submitted file is empty."]


def test_a_polyglot_cover_is_served_back_as_a_png_only(organizer):
    client, campaign = organizer
    response = client.post(
        reverse("campaigns:edit_story", args=[campaign.pk]),
        {"story": "Changed", "cover": SimpleUploadedFile("evil.html", polyglot_png(), "text/html")},
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    for stored in (campaign.cover, campaign.cover_large, campaign.cover_card):
        assert not stored.name.endswith(".html")
        served = client.get(stored.url)
        assert served.status_code == 200
        assert served["Content-Type"] in ("image/png", "image/jpeg")
        assert served["X-Content-Type-Options"] == "nosniff"
        body = b"".join(served.streaming_content)
        assert b"<script" not in body
        with Image.open(BytesIO(body)) as image:
            image.load()

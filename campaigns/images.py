"""Cover images: the cover's limits, and the files we store for one (core.images does the
checking and re-encoding shared with avatars).

What we keep of an upload: a re-encoded master, bounded to MASTER_MAX_SIDE, in the format the
upload was (so new renditions can be cut later without asking organizers again), and JPEG
renditions that pages show. Never the uploaded bytes themselves: see core.images for why.
"""

from django.utils.translation import gettext_lazy as _

from core import images
from core.images import ImageLimits

MAX_COVER_BYTES = 5 * 1024 * 1024
MIN_COVER_SIZE = (600, 300)
MAX_COVER_PIXELS = images.MAX_PIXELS
COVER_LIMITS = ImageLimits(
    field="cover",
    label=_("cover"),
    max_bytes=MAX_COVER_BYTES,
    max_pixels=MAX_COVER_PIXELS,
    min_size=MIN_COVER_SIZE,
)
MASTER_MAX_SIDE = 2560
# name: (width, height) — 16:9 crops for the campaign page and for cards in lists.
RENDITIONS = {"large": (1200, 675), "card": (640, 360)}
# The master keeps the upload's format (a PNG drawing stays sharp); MPO is a phone's JPEG.
MASTER_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}


def cover_files(upload):
    """{"master": ContentFile, "large": ..., "card": ...} for an uploaded cover.

    Raises DomainError(field="cover") unless the upload is a JPEG/PNG/WebP of sensible size
    that decodes completely; nothing is written anywhere before that is known.
    """
    picture, detected_format = images.decode_upload(upload, COVER_LIMITS)
    master_format = MASTER_FORMATS[detected_format]
    files = {
        "master": images.encode(
            images.fit_within(picture, MASTER_MAX_SIDE), master_format, stem="cover"
        )
    }
    for name, size in RENDITIONS.items():
        files[name] = images.encode(images.crop_to_fill(picture, size), "JPEG", stem=name)
    return files

"""Cover images: validate what was uploaded, and make the resized copies pages show."""

from io import BytesIO

from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

from core.errors import DomainError

MAX_COVER_BYTES = 5 * 1024 * 1024
MIN_COVER_SIZE = (600, 300)
MAX_COVER_PIXELS = 40_000_000
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
# name: (width, height) — 16:9 crops for the campaign page and for cards in lists.
RENDITIONS = {"large": (1200, 675), "card": (640, 360)}


def validate_cover(upload):
    """Raise DomainError unless `upload` is a JPEG/PNG/WebP image of sensible size."""
    if upload.size > MAX_COVER_BYTES:
        raise DomainError("The cover image must be 5 MB or smaller.", field="cover")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            image_format = probe.format
            width, height = probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise DomainError("The cover must be a JPEG, PNG or WebP image.", field="cover") from None
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise DomainError("The cover must be a JPEG, PNG or WebP image.", field="cover")
    if width * height > MAX_COVER_PIXELS:
        raise DomainError("The cover image has too many pixels.", field="cover")
    if width < MIN_COVER_SIZE[0] or height < MIN_COVER_SIZE[1]:
        raise DomainError(
            f"The cover must be at least {MIN_COVER_SIZE[0]}×{MIN_COVER_SIZE[1]} pixels.",
            field="cover",
        )


def renditions(upload):
    """{name: ContentFile} JPEG crops of the uploaded cover."""
    upload.seek(0)
    with Image.open(upload) as original:
        original = original.convert("RGB")
        result = {}
        for name, size in RENDITIONS.items():
            image = _cover_crop(original, size)
            buffer = BytesIO()
            image.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
            result[name] = ContentFile(buffer.getvalue(), name=f"cover-{name}.jpg")
    upload.seek(0)
    return result


def _cover_crop(image, size):
    target_w, target_h = size
    scale = max(target_w / image.width, target_h / image.height)
    resized = image.resize(
        (max(target_w, round(image.width * scale)), max(target_h, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left = (resized.width - target_w) // 2
    top = (resized.height - target_h) // 2
    return resized.crop((left, top, left + target_w, top + target_h))

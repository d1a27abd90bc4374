"""Uploaded images, for every app: check that a file is a JPEG, PNG or WebP that Pillow can
fully decode within our limits, re-encode it, and name what we store.

Covers (campaigns.images) and avatars (members.services) both go through `decode_upload` and
`encode`; `stored_name` is what their `upload_to` functions call, so no uploader's file name or
extension ever reaches the storage.

Why we re-encode everything we keep instead of storing the uploaded bytes: a file can be a
valid image *and* something else (a PNG with an HTML page appended, a JPEG whose comment holds
a script); `verify()` and format detection both accept such polyglots. Pixels decoded by
Pillow and written back out by Pillow carry none of the uploader's bytes: no trailing data, no
metadata (EXIF with GPS positions included), no ICC blob. The cost is one lossy generation for
JPEG/WebP at high quality, which nobody sees at the sizes pages show.
"""

import logging
import uuid
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath
from typing import NamedTuple

from django.core.files.base import ContentFile
from django.utils.translation import gettext
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core.errors import DomainError

logger = logging.getLogger(__name__)

# Pillow's format name → the extension we store it under. MPO is how Pillow reports the JPEGs
# many phones write (a JPEG with a second, stereo/depth picture appended).
FORMAT_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# The only decoders Pillow may try on an upload (GIF, SVG, TIFF, BMP, ... are never parsed);
# Pillow's JPEG opener is the one that reports MPO.
OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
# What the media view serves, and with which type. ".jpeg" only for files stored before names
# were ours.
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
# Decoding costs memory in proportion to pixels, not bytes: a 20 KB PNG can be 169 megapixels.
MAX_PIXELS = 40_000_000
SRGB = ImageCms.createProfile("sRGB")
ORIENTATION = 0x0112  # the EXIF tag


@dataclass(frozen=True)
class ImageLimits:
    """What one kind of upload may be. `label` names it in messages ("cover", "picture")."""

    field: str
    label: str
    max_bytes: int
    max_pixels: int = MAX_PIXELS
    min_size: tuple[int, int] | None = None
    # The largest size kept: a JPEG is then decoded at a reduced scale (libjpeg's draft
    # mode), so a big photo for a small picture never costs its full pixels in memory.
    decode_size: tuple[int, int] | None = None


class DecodedImage(NamedTuple):
    image: Image.Image  # fully decoded, upright, sRGB, RGB or RGBA, no metadata
    format: str  # as Pillow detected it: "JPEG", "MPO", "PNG" or "WEBP"


def decode_upload(upload, limits: ImageLimits) -> DecodedImage:
    """The upload's (first) picture, fully decoded, upright, in RGB or RGBA, and its format.

    Raises DomainError(field=limits.field) for anything else: empty, too many bytes, not a
    JPEG/PNG/WebP, too many pixels (checked from the header before any pixel is decoded, and
    Pillow's own decompression-bomb warning counts as an error), too small, or not decodable to
    the end (truncated or corrupt data that `verify()` alone lets through).
    """

    def refuse(message, **values):
        raise DomainError(gettext(message) % {"what": limits.label, **values}, field=limits.field)

    size = getattr(upload, "size", None)
    if not size:
        refuse("The %(what)s file is empty.")
    if size > limits.max_bytes:
        refuse("The %(what)s must be %(size)s or smaller.", size=_megabytes(limits.max_bytes))
    upload.seek(0)
    data = upload.read(limits.max_bytes + 1)
    upload.seek(0)
    if not data:
        refuse("The %(what)s file is empty.")
    if len(data) > limits.max_bytes:
        refuse("The %(what)s must be %(size)s or smaller.", size=_megabytes(limits.max_bytes))

    too_many_pixels = "The %(what)s has too many pixels (at most %(megapixels)s megapixels)."
    megapixels = limits.max_pixels // 1_000_000
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=OPEN_FORMATS) as probe:
                width, height = probe.size
                if width * height > limits.max_pixels:
                    refuse(too_many_pixels, megapixels=megapixels)
                probe.verify()
            # verify() leaves the image unusable and checks little (nothing at all for JPEG):
            # open again and decode every pixel.
            with Image.open(BytesIO(data), formats=OPEN_FORMATS) as image:
                if limits.decode_size and image.format in ("JPEG", "MPO"):
                    image.draft(image.mode, limits.decode_size)
                image.load()
                image_format = image.format
                picture = _upright_rgb(image)
    except DomainError:
        raise
    except UnidentifiedImageError:
        refuse("The %(what)s must be a JPEG, PNG or WebP image.")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        refuse(too_many_pixels, megapixels=megapixels)
    except Exception as error:  # noqa: BLE001 - see below
        # Pillow's decoders report malformed input as OSError, SyntaxError, ValueError,
        # struct.error, EOFError, IndexError, ... Whatever the type, the file is at fault.
        logger.info("Refused an undecodable %s upload: %r", limits.field, error)
        refuse("The %(what)s could not be read: the file is damaged or incomplete.")

    if limits.min_size:
        min_width, min_height = limits.min_size
        if picture.width < min_width or picture.height < min_height:
            refuse(
                "The %(what)s must be at least %(width)s×%(height)s pixels.",
                width=min_width,
                height=min_height,
            )
    return DecodedImage(picture, image_format)


def encode(image: Image.Image, image_format="JPEG", *, stem="image") -> ContentFile:
    """`image` written by Pillow as JPEG, PNG or WebP, as a file named `<stem><extension>`.

    The stem is only a hint: the model's `upload_to` (through `stored_name`) picks the name.
    """
    buffer = BytesIO()
    if image_format == "JPEG":
        _flattened(image).save(buffer, "JPEG", quality=88, optimize=True, progressive=True)
    elif image_format == "PNG":
        image.save(buffer, "PNG", optimize=True)
    elif image_format == "WEBP":
        image.save(buffer, "WEBP", quality=88, method=4)
    else:
        raise ValueError(f"We do not store {image_format} images.")
    return ContentFile(buffer.getvalue(), name=f"{stem}{FORMAT_EXTENSIONS[image_format]}")


def stored_name(filename: str) -> str:
    """A fresh random file name, keeping `filename`'s extension only if it is one of ours.

    For `upload_to` functions: whatever path saves a file (services, admin, shell), the name on
    disk is ours. A file with any other extension is stored without one, and so never served.
    """
    extension = PurePosixPath(filename or "").suffix.lower()
    if extension not in CONTENT_TYPES:
        extension = ""
    return f"{uuid.uuid4().hex}{extension}"


def crop_to_fill(image: Image.Image, size) -> Image.Image:
    """`image` scaled to cover `size` exactly and centre-cropped to it."""
    return ImageOps.fit(image, size, Image.Resampling.LANCZOS)


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """`image` scaled down (never up) so neither side exceeds `max_side`."""
    if max(image.size) <= max_side:
        return image
    return ImageOps.contain(image, (max_side, max_side), Image.Resampling.LANCZOS)


def _upright_rgb(image):
    """EXIF orientation applied, colours in sRGB, 8-bit RGB or RGBA (all we ever encode)."""
    icc_profile = image.info.get("icc_profile")
    if image.getexif().get(ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)  # a copy, upright; keeps info (ICC, transparency)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit greyscale PNG
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    mode = "RGBA" if has_alpha else "RGB"
    if icc_profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
            image = ImageCms.profileToProfile(image, source, SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the numbers as they are
    image = image.convert(mode)  # a copy even when the mode is already right
    # PNG and WebP writers copy EXIF/ICC/text chunks from `info`: keep none of the uploader's.
    image.info = {}
    return image


def _flattened(image):
    if image.mode != "RGBA":
        return image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _megabytes(size):
    return f"{size / (1024 * 1024):g} MB"

"""Receipts and invoices attached to a payout request: check that an upload is a PDF or a
JPEG/PNG/WebP image within our limits, and produce the file we store for it under our own name.

Like covers (core.images), we never store the uploaded bytes. Images are decoded and re-encoded
by core.images. PDFs are parsed with pypdf and written again by pypdf's PdfWriter, pages only:
a new catalog (so no OpenAction, JavaScript name tree, embedded files, AcroForm or XFA, outline
or document metadata), each page with only the entries that draw it, and what an annotation
shows (a filled-in form field, a stamp) drawn into the page, the annotation itself dropped with
its actions, links and attachments. The page drawings (content streams, fonts, pictures) are
copied as they are, never decoded, so a compression bomb in a page is never expanded either.

Why: a file can be a valid PDF and still carry what a viewer can be talked into running
(scripts, launch actions, attached files, forms that submit). Receipts are public on the Money
page; a supporter who opens one opens pages we wrote, not what the uploader sent, and trailing
data, earlier revisions of the file and unreferenced objects are gone too.

The type is told from the bytes, never from the file name or the browser's content type.
`payouts.models.PayoutReceipt` stores the result; payouts.services does the writing.
"""

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    StreamObject,
)

from core import images
from core.errors import DomainError

logger = logging.getLogger(__name__)

FIELD = "receipts"
MAX_RECEIPT_BYTES = 10 * 1024 * 1024
MAX_RECEIPTS_PER_PAYOUT = 10
MAX_RECEIPT_PAGES = 50
MAX_ORIGINAL_NAME_LENGTH = 120  # PayoutReceipt.original_name
# A phone photo (4032×3024) or an A4 scan at 300 dpi (2480×3508) stays legible at full size.
RECEIPT_MAX_SIDE = 4096
RECEIPT_LIMITS = images.ImageLimits(
    field=FIELD,
    label=_("receipt"),
    max_bytes=MAX_RECEIPT_BYTES,
    decode_size=(RECEIPT_MAX_SIDE, RECEIPT_MAX_SIDE),
)
# The image keeps its format (a PNG scan stays sharp); MPO is a phone's JPEG.
IMAGE_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}
PDF_CONTENT_TYPE = "application/pdf"
# What we store, and with which type the receipt view serves it.
CONTENT_TYPES = {".pdf": PDF_CONTENT_TYPE, **images.CONTENT_TYPES}

# A page keeps only what draws it (ISO 32000 table 31); /Parent is the writer's own.
PAGE_KEYS = frozenset(
    {
        "/Type",
        "/Resources",
        "/MediaBox",
        "/CropBox",
        "/BleedBox",
        "/TrimBox",
        "/ArtBox",
        "/Contents",
        "/Rotate",
        "/Group",
        "/UserUnit",
    }
)
# Left out of everything copied from the upload, at any depth: none of them draws anything, so a
# reference smuggled into a page's resources brings no script or file along either.
NEVER_COPIED = (
    "/AA",
    "/OpenAction",
    "/JS",
    "/JavaScript",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/AcroForm",
    "/XFA",
    "/Names",
    "/Annots",
    "/Metadata",
)
# Annotation flags (ISO 32000 table 165) for annotations a viewer does not show.
HIDDEN = 1 << 1
NO_VIEW = 1 << 5
_WHITE_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CheckedReceipt:
    content: ContentFile  # our bytes, under our own random name
    content_type: str
    original_name: str  # the uploader's name, cleaned: for display only
    size: int  # of `content`, the bytes we store


def check_receipt(upload) -> CheckedReceipt:
    """The receipt we store for `upload`: a clean copy of a PDF, or a re-encoded image.

    Raises DomainError(field="receipts") for an empty or too big file, anything that is not a
    PDF or a JPEG/PNG/WebP image, a PDF pypdf cannot read, a password-protected PDF, or one with
    more than MAX_RECEIPT_PAGES pages (and, through core.images, an image that does not decode).
    """
    data = _read(upload)
    if data.startswith(b"%PDF-"):
        content = _clean_pdf(data)
        extension = ".pdf"
    elif _looks_like_an_image(data):
        picture, detected_format = images.decode_upload(ContentFile(data), RECEIPT_LIMITS)
        content = images.encode(
            images.fit_within(picture, RECEIPT_MAX_SIDE),
            IMAGE_FORMATS[detected_format],
            stem="receipt",
        )
        extension = PurePosixPath(content.name).suffix
    else:
        _refuse(gettext("A receipt must be a PDF, or a JPEG, PNG or WebP image."))
    content.name = stored_name(f"receipt{extension}")
    return CheckedReceipt(
        content=content,
        content_type=CONTENT_TYPES[extension],
        original_name=clean_original_name(getattr(upload, "name", ""), extension),
        size=content.size,
    )


def stored_name(filename: str) -> str:
    """A fresh random file name, keeping `filename`'s extension only if it is one we store.

    For `receipt_path` (the model's upload_to), so that whatever saves a receipt, the name on
    disk is ours.
    """
    extension = PurePosixPath(filename or "").suffix.lower()
    if extension not in CONTENT_TYPES:
        extension = ""
    return f"{uuid.uuid4().hex}{extension}"


def clean_original_name(name: str, extension: str = "") -> str:
    """The uploader's file name as we show it: no folders, no control or format characters
    (bidi overrides included), one space for any run of white space, at most 120 characters
    with the extension kept. "receipt.pdf" (with our extension) when nothing is left."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = _WHITE_SPACE.sub(" ", name)
    name = "".join(c for c in name if not unicodedata.category(c).startswith("C"))
    name = re.sub(" +", " ", name).strip(" .")
    if not name:
        return f"receipt{extension}"
    if len(name) > MAX_ORIGINAL_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix
        if len(suffix) > 10:
            suffix = ""
        name = name[: MAX_ORIGINAL_NAME_LENGTH - len(suffix)].rstrip() + suffix
    return name


def _read(upload) -> bytes:
    too_big = gettext("The receipt must be %(size)s or smaller.") % {
        "size": f"{MAX_RECEIPT_BYTES / (1024 * 1024):g} MB"
    }
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_RECEIPT_BYTES:
        _refuse(too_big)
    upload.seek(0)
    data = upload.read(MAX_RECEIPT_BYTES + 1)
    upload.seek(0)
    if not data:
        _refuse(gettext("The receipt file is empty."))
    if len(data) > MAX_RECEIPT_BYTES:
        _refuse(too_big)
    return data


def _looks_like_an_image(data: bytes) -> bool:
    """JPEG, PNG or WebP by their signatures; core.images then decodes the whole picture."""
    return (
        data.startswith(b"\xff\xd8\xff")
        or data.startswith(b"\x89PNG\r\n\x1a\n")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


def _clean_pdf(data: bytes) -> ContentFile:
    try:
        reader = PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted:
            _refuse(
                gettext(
                    "The receipt PDF is protected with a password. Please upload a copy "
                    "without a password."
                )
            )
        page_count = len(reader.pages)
        if page_count == 0:
            _refuse(gettext("The receipt PDF has no pages."))
        if page_count > MAX_RECEIPT_PAGES:
            _refuse(
                gettext("A receipt PDF may have at most %(max)s pages; this one has %(pages)s.")
                % {"max": MAX_RECEIPT_PAGES, "pages": page_count}
            )
        writer = PdfWriter()
        for page in reader.pages:
            _copy_page(writer, page)
        buffer = BytesIO()
        writer.write(buffer)
        written = buffer.getvalue()
        # What we store must be a PDF we can read back, with every page.
        if len(PdfReader(BytesIO(written)).pages) != page_count:
            raise ValueError("the clean copy lost pages")
    except DomainError:
        raise
    except Exception as error:  # noqa: BLE001 - see below
        # pypdf reports malformed input as PdfReadError, PdfStreamError, but also KeyError,
        # ValueError, TypeError, RecursionError, ... Whatever the type, the file is at fault.
        logger.info("Refused an unreadable receipt PDF: %r", error)
        _refuse(gettext("The receipt could not be read: the PDF is damaged or incomplete."))
    return ContentFile(written, name="receipt.pdf")


def _copy_page(writer: PdfWriter, page) -> None:
    """`page` added to `writer` with only the entries that draw it, its visible annotations
    drawn into its content."""
    annotations = _visible_appearances(page)
    for key in list(page.keys()):
        if key not in PAGE_KEYS:
            del page[key]  # the reader's copy, discarded after this
    copy = writer.add_page(page, excluded_keys=NEVER_COPIED)
    if annotations:
        _draw_appearances(writer, copy, annotations)


def _visible_appearances(page):
    """(appearance stream, rectangle) of each annotation a viewer would show on `page`."""
    found = []
    annots = page.get("/Annots")
    annots = annots.get_object() if annots is not None else None
    if not isinstance(annots, ArrayObject):
        return found
    for reference in annots:
        try:
            annotation = reference.get_object()
            if not isinstance(annotation, DictionaryObject):
                continue
            if annotation.get("/Subtype") in ("/Popup", "/Link"):
                continue
            if int(annotation.get("/F", 0)) & (HIDDEN | NO_VIEW):
                continue
            appearance = annotation.get("/AP")
            appearance = appearance.get_object() if appearance is not None else None
            if not isinstance(appearance, DictionaryObject) or "/N" not in appearance:
                continue
            normal = appearance["/N"].get_object()
            if not isinstance(normal, StreamObject):
                # A check box or radio button: one appearance per state, /AS picks the shown one.
                state = annotation.get("/AS")
                normal = normal.get(state).get_object() if state in normal else None
            if not isinstance(normal, StreamObject):
                continue
            rectangle = _numbers(annotation["/Rect"])
            found.append((normal, rectangle))
        except Exception as error:  # noqa: BLE001 - one odd annotation does not spoil the file
            logger.info("Skipped an unreadable annotation in a receipt: %r", error)
    return found


def _draw_appearances(writer: PdfWriter, page, annotations):
    """Draw each appearance into `page`'s content as a form XObject placed on its rectangle
    (ISO 32000 12.5.5), after the page's own content, in a clean graphics state."""
    contents = page.raw_get("/Contents") if "/Contents" in page else None
    resolved = contents.get_object() if contents is not None else None
    if isinstance(resolved, ArrayObject):
        original = list(resolved)
    else:
        original = [contents] if contents is not None else []
    if any(not isinstance(part, IndirectObject) for part in original):
        return  # not a well-formed content list: leave the page as it draws itself
    resources = page.get("/Resources")
    if resources is None:
        resources = page[NameObject("/Resources")] = DictionaryObject()
    resources = resources.get_object()
    xobjects = resources.get("/XObject")
    if xobjects is None:
        xobjects = resources[NameObject("/XObject")] = DictionaryObject()
    xobjects = xobjects.get_object()
    drawing = []
    for number, (appearance, rectangle) in enumerate(annotations):
        try:
            placement = _placement(appearance, rectangle)
        except Exception as error:  # noqa: BLE001
            logger.info("Skipped an annotation with an unusable box in a receipt: %r", error)
            continue
        if placement is None:
            continue
        name = f"/ReceiptAnnotation{number}"
        while name in xobjects:
            name += "x"
        form = appearance.clone(writer, ignore_fields=NEVER_COPIED)
        xobjects[NameObject(name)] = form.indirect_reference
        matrix = " ".join(f"{value:.4f}" for value in placement)
        drawing.append(f"q {matrix} cm {name} Do Q")
    if drawing:
        page[NameObject("/Contents")] = ArrayObject(
            [
                _stream(writer, b"q\n"),
                *original,
                _stream(writer, ("\nQ\n" + "\n".join(drawing) + "\n").encode("ascii")),
            ]
        )


def _placement(appearance, rectangle):
    """The matrix that maps the appearance's transformed bounding box onto the annotation's
    rectangle, or None when either is empty."""
    x0, y0, x1, y1 = _numbers(appearance["/BBox"])
    a, b, c, d, e, f = _numbers(appearance.get("/Matrix", [1, 0, 0, 1, 0, 0]))
    corners = [(a * x + c * y + e, b * x + d * y + f) for x in (x0, x1) for y in (y0, y1)]
    box_left, box_right = min(x for x, _ in corners), max(x for x, _ in corners)
    box_bottom, box_top = min(y for _, y in corners), max(y for _, y in corners)
    left, right = sorted(rectangle[0::2])
    bottom, top = sorted(rectangle[1::2])
    if box_right - box_left <= 0 or box_top - box_bottom <= 0 or right <= left or top <= bottom:
        return None
    scale_x = (right - left) / (box_right - box_left)
    scale_y = (top - bottom) / (box_top - box_bottom)
    return (scale_x, 0, 0, scale_y, left - scale_x * box_left, bottom - scale_y * box_bottom)


def _numbers(array):
    array = array.get_object() if hasattr(array, "get_object") else array
    return [float(value.get_object() if hasattr(value, "get_object") else value) for value in array]


def _stream(writer, content: bytes):
    stream = DecodedStreamObject()
    stream.set_data(content)
    # PdfWriter has no public way to add a new object; _add_object is what its own page and
    # form helpers use.
    return writer._add_object(stream)


def _refuse(message):
    raise DomainError(message, field=FIELD)

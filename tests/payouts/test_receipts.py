"""Checking receipts (payouts.receipts): PDFs and images told apart by their bytes, refused with
a clear message when they are not what we keep, and stored as our own copy: a PDF rewritten
pages only (no scripts, actions, attachments or forms), an image re-encoded."""

import re
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from core.errors import DomainError
from payouts import receipts
from payouts.receipts import (
    MAX_RECEIPT_BYTES,
    MAX_RECEIPT_PAGES,
    RECEIPT_MAX_SIDE,
    check_receipt,
    clean_original_name,
    stored_name,
)
from tests.uploads import HTML, image_bytes

RANDOM_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|jpg|png|webp)$")
# pypdf writes punctuation in strings as octal escapes: markers are letters and digits only.
SCRIPT = "ScriptMarker"
# What no stored receipt may contain, whatever the upload held.
ACTIVE_CONTENT = (
    b"/JavaScript",
    b"/JS",
    SCRIPT.encode(),
    b"/OpenAction",
    b"/AA",
    b"/EmbeddedFile",
    b"/AcroForm",
    b"/XFA",
    b"/Annots",
    b"/Launch",
    b"evil",
    b"<script",
)


# --- building PDFs in memory ------------------------------------------------------------------
def pdf_bytes(pages=1):
    """A real PDF (Pillow's writer): each page draws a red picture."""
    buffer = BytesIO()
    pictures = [Image.new("RGB", (200, 100), (200, 10, 10)) for _ in range(pages)]
    pictures[0].save(buffer, "PDF", save_all=True, append_images=pictures[1:])
    return buffer.getvalue()


def written(writer):
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def name(value):
    return NameObject(value)


def javascript(writer, code):
    return writer._add_object(
        DictionaryObject({name("/S"): name("/JavaScript"), name("/JS"): TextStringObject(code)})
    )


def numbers(*values):
    return ArrayObject(NumberObject(value) for value in values)


def hostile_pdf():
    """A receipt that tries everything a PDF can do besides drawing."""
    writer = PdfWriter(clone_from=BytesIO(pdf_bytes()))
    root = writer._root_object
    root[name("/OpenAction")] = javascript(writer, f"{SCRIPT}Open")
    root[name("/Names")] = DictionaryObject(
        {
            name("/JavaScript"): DictionaryObject(
                {
                    name("/Names"): ArrayObject(
                        [TextStringObject("x"), javascript(writer, f"{SCRIPT}Names")]
                    )
                }
            )
        }
    )
    writer.add_attachment("evil.html", HTML)
    root[name("/AcroForm")] = DictionaryObject(
        {name("/Fields"): ArrayObject(), name("/XFA"): TextStringObject("<xdp/>")}
    )
    page = writer.pages[0]
    page[name("/AA")] = DictionaryObject({name("/O"): javascript(writer, f"{SCRIPT}Page")})
    launch = DictionaryObject(
        {name("/S"): name("/Launch"), name("/F"): TextStringObject("evilcmd")}
    )
    writer.add_annotation(0, Link(rect=(0, 0, 50, 50), url="https://evil.example/"))
    page[name("/Annots")].append(
        writer._add_object(
            DictionaryObject(
                {
                    name("/Type"): name("/Annot"),
                    name("/Subtype"): name("/Link"),
                    name("/Rect"): numbers(60, 0, 100, 50),
                    name("/A"): writer._add_object(launch),
                }
            )
        )
    )
    return written(writer)


def appearance(writer, text, bbox=(0, 0, 100, 20)):
    stream = DecodedStreamObject()
    stream.set_data(f"BT /Helv 10 Tf 2 5 Td ({text}) Tj ET".encode())
    font = DictionaryObject(
        {
            name("/Type"): name("/Font"),
            name("/Subtype"): name("/Type1"),
            name("/BaseFont"): name("/Helvetica"),
        }
    )
    stream.update(
        {
            name("/Type"): name("/XObject"),
            name("/Subtype"): name("/Form"),
            name("/BBox"): numbers(*bbox),
            name("/Resources"): DictionaryObject(
                {name("/Font"): DictionaryObject({name("/Helv"): writer._add_object(font)})}
            ),
        }
    )
    return writer._add_object(stream)


def filled_form_pdf(hidden_text=None):
    """An invoice filled in as a PDF form: the amount is in a text field's appearance only,
    and the field runs a script on every keystroke. With `hidden_text`, a second, hidden field."""
    writer = PdfWriter(clone_from=BytesIO(pdf_bytes()))
    widgets = []
    fields = [("Total 120 EUR", 0)] + ([(hidden_text, 2)] if hidden_text else [])
    for number, (text, flags) in enumerate(fields):
        widgets.append(
            writer._add_object(
                DictionaryObject(
                    {
                        name("/Type"): name("/Annot"),
                        name("/Subtype"): name("/Widget"),
                        name("/FT"): name("/Tx"),
                        name("/T"): TextStringObject(f"field{number}"),
                        name("/V"): TextStringObject(text),
                        name("/F"): NumberObject(flags),
                        name("/Rect"): numbers(50, 40 + 30 * number, 150, 60 + 30 * number),
                        name("/AP"): DictionaryObject({name("/N"): appearance(writer, text)}),
                        name("/AA"): DictionaryObject(
                            {name("/K"): javascript(writer, f"{SCRIPT}Keystroke")}
                        ),
                    }
                )
            )
        )
    writer.pages[0][name("/Annots")] = ArrayObject(widgets)
    writer._root_object[name("/AcroForm")] = DictionaryObject(
        {name("/Fields"): ArrayObject(widgets)}
    )
    return written(writer)


def encrypted_pdf():
    writer = PdfWriter(clone_from=BytesIO(pdf_bytes()))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    return written(writer)


def pdf_of_exactly(size):
    """A valid one-page PDF of exactly `size` bytes (the padding is a comment in its content)."""

    def build(padding):
        writer = PdfWriter()
        page = writer.add_blank_page(200, 200)
        content = DecodedStreamObject()
        content.set_data(b"%" + b"x" * padding + b"\n0 0 1 rg 10 10 50 50 re f\n")
        page[name("/Contents")] = writer._add_object(content)
        return written(writer)

    first = build(size - 2000)
    data = build(size - 2000 + (size - len(first)))
    assert len(data) == size
    return data


def upload(file_name, content, content_type="application/pdf"):
    return SimpleUploadedFile(file_name, content, content_type=content_type)


def stored_bytes(checked):
    checked.content.seek(0)
    return checked.content.read()


def refusal(file_name, content, content_type="application/pdf"):
    with pytest.raises(DomainError) as caught:
        check_receipt(upload(file_name, content, content_type))
    assert caught.value.field == "receipts"
    return caught.value.message


# --- PDFs -------------------------------------------------------------------------------------
def test_a_pdf_is_stored_as_our_own_copy_under_our_own_name():
    original = pdf_bytes(pages=3)
    checked = check_receipt(upload("Invoice March.pdf", original))

    data = stored_bytes(checked)
    assert RANDOM_NAME.match(checked.content.name)
    assert checked.content.name.endswith(".pdf")
    assert checked.content_type == "application/pdf"
    assert checked.original_name == "Invoice March.pdf"
    assert checked.size == len(data)
    assert data != original
    assert b"/Producer (pypdf)" in data  # written by us, not Pillow
    reader = PdfReader(BytesIO(data))
    assert len(reader.pages) == 3
    assert all("/image" in page["/Resources"]["/XObject"] for page in reader.pages)


def test_each_receipt_gets_a_new_name():
    names = {check_receipt(upload("a.pdf", pdf_bytes())).content.name for _ in range(3)}
    assert len(names) == 3


def test_scripts_actions_attachments_forms_and_links_do_not_survive():
    original = hostile_pdf()
    assert all(needle in original for needle in ACTIVE_CONTENT)

    data = stored_bytes(check_receipt(upload("receipt.pdf", original)))

    assert [needle for needle in ACTIVE_CONTENT if needle in data] == []
    reader = PdfReader(BytesIO(data))
    assert len(reader.pages) == 1
    assert "/OpenAction" not in reader.trailer["/Root"]
    assert "/Names" not in reader.trailer["/Root"]
    assert reader.pages[0].get("/Annots") is None
    assert "/image" in reader.pages[0]["/Resources"]["/XObject"]  # still draws its picture


def test_what_a_filled_in_form_shows_is_kept_without_the_form():
    original = filled_form_pdf()
    assert all(needle in original for needle in (b"/Widget", b"/AcroForm", SCRIPT.encode()))

    data = stored_bytes(check_receipt(upload("invoice.pdf", original)))

    assert [needle for needle in ACTIVE_CONTENT if needle in data] == []
    assert b"/Widget" not in data
    page = PdfReader(BytesIO(data)).pages[0]
    assert "Total 120 EUR" in page.extract_text()
    drawing = page.get_contents().get_data()
    # The page's own drawing comes first, then the field's appearance on its rectangle.
    assert drawing.index(b"/image Do") < drawing.index(b"50.0000 40.0000 cm")


def test_a_hidden_annotation_is_not_drawn():
    original = filled_form_pdf("Secret 999")
    assert b"(Secret 999) Tj" in original

    data = stored_bytes(check_receipt(upload("invoice.pdf", original)))

    text = PdfReader(BytesIO(data)).pages[0].extract_text()
    assert "Total 120 EUR" in text
    assert "Secret 999" not in text
    assert b"Secret 999" not in data


def test_a_script_smuggled_into_page_resources_is_left_behind():
    writer = PdfWriter(clone_from=BytesIO(pdf_bytes()))
    resources = writer.pages[0]["/Resources"]
    resources[name("/Smuggled")] = DictionaryObject(
        {
            name("/OpenAction"): javascript(writer, f"{SCRIPT}Smuggled"),
            name("/JS"): TextStringObject(f"{SCRIPT}Direct"),
        }
    )

    original = written(writer)
    assert b"/Smuggled" in original and SCRIPT.encode() in original

    data = stored_bytes(check_receipt(upload("receipt.pdf", original)))

    assert b"/Smuggled" in data  # the resource itself is copied, only its contents are not
    assert SCRIPT.encode() not in data
    assert b"/OpenAction" not in data


def test_a_page_keeps_only_the_entries_that_draw_it():
    writer = PdfWriter(clone_from=BytesIO(pdf_bytes()))
    page = writer.pages[0]
    page[name("/PieceInfo")] = DictionaryObject(
        {name("/Editor"): DictionaryObject({name("/Private"): TextStringObject("PieceMarker")})}
    )
    page[name("/Rotate")] = NumberObject(90)
    original = written(writer)
    assert b"PieceMarker" in original

    data = stored_bytes(check_receipt(upload("receipt.pdf", original)))

    assert b"PieceMarker" not in data and b"/PieceInfo" not in data
    stored_page = PdfReader(BytesIO(data)).pages[0]
    assert stored_page["/Rotate"] == 90
    assert [float(value) for value in stored_page.mediabox] == [0, 0, 200, 100]


def test_bytes_after_the_end_of_a_pdf_are_not_stored():
    original = pdf_bytes() + b"\n" + HTML

    data = stored_bytes(check_receipt(upload("receipt.pdf", original)))

    assert b"<html" not in data and b"<script" not in data
    assert data.rstrip().endswith(b"%%EOF")


def test_a_pdf_of_exactly_the_limit_is_accepted():
    checked = check_receipt(upload("big.pdf", pdf_of_exactly(MAX_RECEIPT_BYTES)))
    assert checked.content_type == "application/pdf"
    assert len(PdfReader(BytesIO(stored_bytes(checked))).pages) == 1


def test_a_pdf_of_the_most_pages_we_take_is_accepted():
    checked = check_receipt(upload("long.pdf", pdf_bytes(pages=MAX_RECEIPT_PAGES)))
    assert len(PdfReader(BytesIO(stored_bytes(checked))).pages) == MAX_RECEIPT_PAGES


# --- images -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "extension", "content_type"),
    [("PNG", ".png", "image/png"), ("JPEG", ".jpg", "image/jpeg"), ("WEBP", ".webp", "image/webp")],
)
def test_an_image_is_re_encoded_in_its_own_format(fmt, extension, content_type):
    original = image_bytes((800, 1100), fmt)

    checked = check_receipt(upload(f"scan{extension}", original, content_type))

    data = stored_bytes(checked)
    assert RANDOM_NAME.match(checked.content.name)
    assert checked.content.name.endswith(extension)
    assert checked.content_type == content_type
    assert checked.size == len(data)
    with Image.open(BytesIO(data)) as image:
        assert image.format == fmt
        assert image.size == (800, 1100)


def test_html_appended_to_a_png_is_not_stored():
    original = image_bytes((300, 400)) + HTML

    data = stored_bytes(check_receipt(upload("receipt.png", original, "image/png")))

    assert b"<html" not in data and b"<script" not in data
    assert data.endswith(b"IEND\xaeB`\x82")


def test_a_small_image_is_fine_for_a_receipt():
    checked = check_receipt(upload("tiny.png", image_bytes((40, 20)), "image/png"))
    with Image.open(BytesIO(stored_bytes(checked))) as image:
        assert image.size == (40, 20)


def test_a_very_large_image_is_scaled_down_to_the_largest_side_we_keep():
    original = image_bytes((RECEIPT_MAX_SIDE * 2, 100), "PNG", mode="1")

    checked = check_receipt(upload("panorama.png", original, "image/png"))

    with Image.open(BytesIO(stored_bytes(checked))) as image:
        assert image.size == (RECEIPT_MAX_SIDE, 50)


def test_the_type_comes_from_the_bytes_not_the_name_or_the_browser():
    checked = check_receipt(upload("invoice.pdf", image_bytes((300, 400)), "application/pdf"))
    assert checked.content_type == "image/png"
    assert checked.content.name.endswith(".png")
    assert checked.original_name == "invoice.pdf"  # shown as typed; downloads get ".png"

    checked = check_receipt(upload("photo.jpg", pdf_bytes(), "image/jpeg"))
    assert checked.content_type == "application/pdf"
    assert checked.content.name.endswith(".pdf")


# --- refusals ---------------------------------------------------------------------------------
NOT_A_RECEIPT = "A receipt must be a PDF, or a JPEG, PNG or WebP image."
DAMAGED = "The receipt could not be read: the PDF is damaged or incomplete."


@pytest.mark.parametrize(
    ("file_name", "content", "content_type", "message"),
    [
        ("receipt.pdf", b"Paid 120 EUR for seeds, thanks!", "application/pdf", NOT_A_RECEIPT),
        ("receipt.pdf", HTML, "application/pdf", NOT_A_RECEIPT),
        ("receipt.html", HTML, "text/html", NOT_A_RECEIPT),
        (
            "receipt.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
            NOT_A_RECEIPT,
        ),
        ("receipt.gif", image_bytes(fmt="GIF", mode="P"), "image/gif", NOT_A_RECEIPT),
        ("receipt.zip", b"PK\x03\x04" + b"\0" * 100, "application/pdf", NOT_A_RECEIPT),
        ("receipt.pdf", b"%PDF-1.7\nthis is not a PDF at all\n%%EOF\n", "application/pdf", DAMAGED),
        ("receipt.pdf", b"%PDF-", "application/pdf", DAMAGED),
        ("receipt.pdf", pdf_bytes()[:40], "application/pdf", DAMAGED),
        (
            "receipt.pdf",
            written(PdfWriter()),
            "application/pdf",
            "The receipt PDF has no pages.",
        ),
        (
            "receipt.pdf",
            encrypted_pdf(),
            "application/pdf",
            "The receipt PDF is protected with a password. Please upload a copy without a "
            "password.",
        ),
        (
            "receipt.pdf",
            pdf_bytes(pages=MAX_RECEIPT_PAGES + 1),
            "application/pdf",
            "A receipt PDF may have at most 50 pages; this one has 51.",
        ),
        ("receipt.pdf", b"", "application/pdf", "The receipt file is empty."),
    ],
    ids=[
        "text-named-pdf",
        "html-claiming-pdf",
        "html",
        "svg",
        "gif",
        "zip-claiming-pdf",
        "pdf-header-then-garbage",
        "pdf-header-only",
        "truncated-pdf",
        "no-pages",
        "encrypted",
        "too-many-pages",
        "empty",
    ],
)
def test_refused(file_name, content, content_type, message):
    assert refusal(file_name, content, content_type) == message


def test_a_damaged_image_is_refused_by_the_image_checks():
    data = image_bytes((300, 400), "JPEG")
    message = refusal("receipt.jpg", data[: len(data) // 2], "image/jpeg")
    assert message == "The receipt could not be read: the file is damaged or incomplete."


@pytest.mark.parametrize(
    "make",
    [
        lambda: pdf_of_exactly(MAX_RECEIPT_BYTES + 1),
        lambda: (
            image_bytes((40, 20)) + b"\0" * (MAX_RECEIPT_BYTES + 1 - len(image_bytes((40, 20))))
        ),
    ],
    ids=["pdf", "png"],
)
def test_one_byte_over_the_limit_is_refused(make):
    content = make()
    assert len(content) == MAX_RECEIPT_BYTES + 1
    assert refusal("big.pdf", content) == "The receipt must be 10 MB or smaller."


def test_the_limit_holds_when_the_upload_does_not_say_its_size():
    class Unsized(BytesIO):
        name = "big.pdf"

    assert not hasattr(Unsized(), "size")
    with pytest.raises(DomainError, match="10 MB or smaller"):
        check_receipt(Unsized(pdf_of_exactly(MAX_RECEIPT_BYTES + 1)))
    # ... and a small one is checked as usual.
    assert check_receipt(Unsized(image_bytes((40, 20)))).content_type == "image/png"


def test_the_per_payout_limit_is_ten():
    assert receipts.MAX_RECEIPTS_PER_PAYOUT == 10


# --- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("uploaded", "shown"),
    [
        ("Factuur café.pdf", "Factuur café.pdf"),
        ("C:\\Users\\an\\Desktop\\bon.jpg", "bon.jpg"),
        ("../../etc/passwd", "passwd"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # no right-to-left override
        ("two\nlines\tand\x00nul.pdf", "two lines andnul.pdf"),
        ("  lots   of\u00a0space .pdf ", "lots of space .pdf"),
        ("", "receipt.pdf"),
        ("...", "receipt.pdf"),
    ],
)
def test_the_original_name_is_cleaned_for_display(uploaded, shown):
    assert clean_original_name(uploaded, ".pdf") == shown


def test_a_long_original_name_is_cut_to_120_characters_keeping_its_extension():
    shown = clean_original_name("x" * 300 + ".pdf", ".pdf")
    assert len(shown) == 120
    assert shown.endswith("x.pdf")


@pytest.mark.parametrize(
    ("filename", "extension"),
    [
        ("receipt.pdf", ".pdf"),
        ("receipt.PNG", ".png"),
        ("receipt.jpg", ".jpg"),
        ("receipt.webp", ".webp"),
        ("receipt.html", ""),
        ("receipt.svg", ""),
        ("receipt.pdf.exe", ""),
        ("", ""),
    ],
)
def test_stored_names_are_random_and_keep_only_our_extensions(filename, extension):
    stored = stored_name(filename)
    assert re.fullmatch(rf"[0-9a-f]{{32}}{re.escape(extension)}", stored)

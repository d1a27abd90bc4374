"""Image files for upload tests: good ones in awkward shapes, and the bad ones an attacker or an
unlucky phone sends (polyglots, truncated data, decompression bombs, other formats)."""

import re
import struct
import zlib
from io import BytesIO
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def image_bytes(size=(1200, 675), fmt="PNG", mode="RGB", color=(31, 111, 84), **save):
    buffer = BytesIO()
    Image.new(mode, size, color if mode in ("RGB", "RGBA") else 0).save(buffer, fmt, **save)
    return buffer.getvalue()


def upload(name, content, content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def png_with_short_idat(size=(1200, 675)):
    """A PNG whose chunks are all well-formed (so verify() passes) but whose pixel data stops
    half-way: what a cut-off upload looks like once a proxy has re-chunked it."""
    data = image_bytes(size)
    out, pos = [data[:8]], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IDAT":
            body = body[: len(body) // 2]
        crc = struct.pack(">I", zlib.crc32(kind + body))
        out.append(struct.pack(">I", len(body)) + kind + body + crc)
        pos += 12 + length
    return b"".join(out)


def truncated_jpeg(size=(1200, 675)):
    data = image_bytes(size, "JPEG")
    return data[: len(data) // 2]


def bomb_png(side=13000):
    """side² pixels (169 megapixels by default) in about 20 KB: 1-bit, all black."""
    return image_bytes((side, side), mode="1")


def exif_rotated_jpeg(size=(1200, 700)):
    """A landscape JPEG whose EXIF says "rotate 90°" (a phone held upright), with a GPS tag."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x8825] = {2: (50.0, 51.0, 0.0)}  # GPSInfo: latitude
    buffer = BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


# name → (file name, bytes, content type the browser claims): every one must be refused.
def bad_images(*, max_bytes):
    return {
        "gif": ("cover.gif", image_bytes(fmt="GIF", mode="P"), "image/gif"),
        "svg": (
            "cover.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675">'
            b"<script>alert(1)</script></svg>",
            "image/svg+xml",
        ),
        "text": ("cover.png", b"just some words, not a picture", "image/png"),
        "html": ("cover.html", HTML, "text/html"),
        "truncated-png": ("cover.png", png_with_short_idat(), "image/png"),
        "truncated-jpeg": ("cover.jpg", truncated_jpeg(), "image/jpeg"),
        "bomb-169-megapixels": ("cover.png", bomb_png(13000), "image/png"),
        "bomb-over-pillow-hard-limit": ("cover.png", bomb_png(14000), "image/png"),
        "over-our-pixel-limit": ("cover.png", image_bytes((8000, 6000), mode="1"), "image/png"),
        "huge": ("cover.png", image_bytes() + b"\0" * max_bytes, "image/png"),
    }


def assert_reencoded(stored_file, *, fmt, extension, prefix):
    """`stored_file` (a FieldFile) has our random name and is Pillow's output, not the upload."""
    name = stored_file.name
    assert name.startswith(prefix), name
    stem, _, ext = name.rsplit("/", 1)[-1].rpartition(".")
    assert f".{ext}" == extension, name
    assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem), name
    stored_file.open("rb")
    try:
        data = stored_file.read()
    finally:
        stored_file.close()
    assert b"<script" not in data and b"<html" not in data
    # Nothing after the image's own end marker.
    assert data.endswith({"PNG": b"IEND\xaeB`\x82", "JPEG": b"\xff\xd9"}.get(fmt, b""))
    with Image.open(BytesIO(data)) as image:
        assert image.format == fmt
        assert not image.getexif(), "metadata from the upload was kept"
        image.load()
    return data


def field_errors(response, field):
    """The error messages shown next to one field (includes/field.html)."""
    html = response.content.decode()
    match = re.search(rf'<ul class="errorlist" id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


def files_under(root, prefix):
    """Every file stored below MEDIA_ROOT/prefix."""
    folder = Path(root) / prefix
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

"""Serving uploaded media (covers, avatars) from MEDIA_ROOT, safely, when no proxy does it.

On by default (SERVE_MEDIA=true) so the embedded default and docker-compose show covers and
avatars with DEBUG on or off. A production set-up may turn it off and let a proxy or object
storage serve MEDIA_ROOT instead, with the same headers (see the README).

Only files with our image extensions are served, as what their extension says, with
`nosniff`, an inline plain-ASCII file name, and a CSP that forbids everything a document could
do (in case a browser ever renders one as a document). Anything else, any path that resolves
outside MEDIA_ROOT (`..`, absolute paths, symlinks out), and dot-files are 404.
"""

import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from core.images import CONTENT_TYPES

MEDIA_CSP = "default-src 'none'; img-src 'self'; sandbox"
# Stored names are random and never reused, so a copy may be kept a while; a day, not a year,
# so a picture an admin takes down does not linger in caches.
MEDIA_CACHE_CONTROL = "public, max-age=86400"
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")
# Folders of MEDIA_ROOT served only by their own views, which check who asks: payout receipts
# (payouts.receipt_views).
PRIVATE_FOLDERS = frozenset({"receipts"})


def media_file(path: str) -> Path:
    """The file under MEDIA_ROOT that `path` (from the URL) names; Http404 unless servable."""
    if not getattr(settings, "SERVE_MEDIA", True):
        raise Http404("Media is not served by the application.")
    parts = path.split("/")
    if not path or "\\" in path or "\x00" in path or any(p.startswith(".") for p in parts if p):
        raise Http404("No such file.")
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        candidate = root.joinpath(*[p for p in parts if p]).resolve()
    except (OSError, ValueError):
        raise Http404("No such file.") from None
    if not candidate.is_relative_to(root) or candidate == root or not candidate.is_file():
        raise Http404("No such file.")
    if candidate.relative_to(root).parts[0] in PRIVATE_FOLDERS:
        raise Http404("No such file.")
    if candidate.suffix.lower() not in CONTENT_TYPES:
        raise Http404("No such file.")
    return candidate


@require_safe
def serve(request, path):
    """One uploaded image from MEDIA_ROOT, with the headers a file from users needs."""
    file_path = media_file(path)
    stat = file_path.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), stat.st_mtime):
        response = HttpResponseNotModified()
    else:
        response = FileResponse(
            file_path.open("rb"), content_type=CONTENT_TYPES[file_path.suffix.lower()]
        )
        response["Content-Disposition"] = f'inline; filename="{_plain_name(file_path.name)}"'
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = MEDIA_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    return response


def _plain_name(name):
    return _UNSAFE_NAME_CHARACTERS.sub("_", name) or "image"

"""Downloading a payout's receipts: who may, and the headers a file from users needs.

Receipts are part of a campaign's public accounts (the Money page) once the campaign is public,
unless the payout was rejected; the campaign's organizer and accepted co-organizers, and staff,
may always download them. Anyone else gets a 404, as if the receipt did not exist.

A receipt is always an attachment (never shown in the browser's window), with its stored type,
`nosniff`, and core.media's CSP in case a browser renders it anyway. The bytes are ours
(payouts.receipts wrote them); the headers are for the day a file gets into storage some other
way.
"""

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import quote

from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from campaigns.models import Campaign
from core.media import MEDIA_CSP
from payouts.models import Payout, PayoutReceipt
from payouts.receipts import CONTENT_TYPES

# Who may see a receipt changes (a payout is rejected, a campaign taken down): no shared
# caches, and a browser asks again each time.
RECEIPT_CACHE_CONTROL = "private, no-cache"
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._ -]")


def visible_receipts(member):
    """The receipts `member` (maybe anonymous) may download."""
    receipts = PayoutReceipt.objects.select_related("payout__campaign")
    if member.is_authenticated and member.is_staff:
        return receipts
    public = Q(payout__campaign__status__in=Campaign.PUBLIC_STATUSES) & ~Q(
        payout__status=Payout.Status.REJECTED
    )
    if not member.is_authenticated:
        return receipts.filter(public)
    organizing = Campaign.objects.editable_by(member).values("pk")
    return receipts.filter(public | Q(payout__campaign__in=organizing))


@require_safe
def receipt_file(request, public_id, receipt_id):
    """One receipt of one payout, as a download."""
    receipt = get_object_or_404(
        visible_receipts(request.user), pk=receipt_id, payout__public_id=public_id
    )
    extension = PurePosixPath(receipt.file.name).suffix.lower()
    content_type = CONTENT_TYPES.get(extension)
    if content_type is None or content_type != receipt.content_type:
        # Not a file payouts.receipts wrote (a name or type set some other way): not served.
        raise Http404("No such receipt.")
    try:
        stored = receipt.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("No such receipt.") from None
    response = FileResponse(stored, content_type=content_type)
    response["Content-Disposition"] = attachment_header(receipt.original_name, extension)
    response["Cache-Control"] = RECEIPT_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    # Other sites may not embed or fetch it with their visitors' cookies.
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def attachment_header(original_name, extension):
    """`attachment` with the uploader's name (our extension, since the bytes are ours): a plain
    ASCII `filename` for every browser and the exact name as UTF-8 `filename*` (RFC 6266)."""
    stem = PurePosixPath(original_name or "").stem.strip() or "receipt"
    name = f"{stem}{extension}"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE_NAME_CHARACTERS.sub("_", ascii_name).strip(" .") or f"receipt{extension}"
    if not ascii_name.lower().endswith(extension):
        ascii_name = f"receipt{extension}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"

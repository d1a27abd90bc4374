"""Pledge API: create (with an Idempotency-Key header), confirm the card, list one's own.

Creating follows Stripe's idempotency rule, enforced by `services.start_pledge`: the same key
with the same terms replays the stored pledge (the original 201 and body, plus the header
`Idempotent-Replayed: true`); the same key with other terms is refused (422,
`idempotency_key_reused`). Only checks that cannot change over time (the request's syntax,
the reward belongs to the campaign, the currency) run before the service, so a replay answers
the same however the campaign has moved on since (reward sold out, deadline passed, hidden).
"""

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from campaigns.models import Campaign
from core.api import api_field_names
from core.errors import DomainError
from core.http import client_ip
from pledges import selectors, services
from pledges.serializers import PledgeCreateSerializer, PledgeSerializer

# The services' field names → this API's (a DomainError(field="amount") is about amount_minor).
API_FIELDS = {"amount": "amount_minor"}
MAX_IDEMPOTENCY_KEY_LENGTH = 64


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def pledges(request):
    if request.method == "GET":
        return Response(PledgeSerializer(selectors.pledges_of(request.user), many=True).data)
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise DomainError(
            _("Send an Idempotency-Key header (at most %(length)s characters).")
            % {"length": MAX_IDEMPOTENCY_KEY_LENGTH},
            code="idempotency_key_required",
        )
    incoming = PledgeCreateSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    data = incoming.validated_data
    campaign = _campaign_for(request.user, slug=data["campaign"], idempotency_key=key)
    reward = None
    if data.get("reward") is not None:
        reward = campaign.rewards.filter(pk=data["reward"]).first()
        if reward is None:
            raise DomainError(_("That reward is not part of this campaign."), field="reward")
    if data["currency"] != campaign.currency:
        raise DomainError(
            _("This campaign collects %(currency)s.") % {"currency": campaign.currency},
            field="currency",
        )
    with api_field_names(API_FIELDS):
        pledge = services.start_pledge(
            campaign,
            supporter=request.user,
            amount_minor=data["amount_minor"],
            reward=reward,
            public_name=data["public_name"],
            anonymous=data["anonymous"],
            message=data["message"],
            idempotency_key=key,
            ip=client_ip(request),
        )
    response = Response(PledgeSerializer(pledge).data, status=status.HTTP_201_CREATED)
    if getattr(pledge, "replayed", False):
        response["Idempotent-Replayed"] = "true"
    return response


def _campaign_for(member, *, slug, idempotency_key):
    """The public campaign with this slug, or the one this key already pledged to.

    The second case lets a retry reach the service (to be replayed or refused as reused)
    even if the campaign has been hidden since; other hidden campaigns stay a 404.
    """
    campaign = (
        Campaign.objects.filter(slug=slug)
        .filter(
            Q(status__in=Campaign.PUBLIC_STATUSES)
            | Q(pledges__supporter=member, pledges__idempotency_key=idempotency_key)
        )
        .distinct()
        .first()
    )
    if campaign is None:
        raise Http404
    return campaign


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def confirm(request, public_id):
    pledge = selectors.pledge_of(request.user, public_id)
    setup_intent_id = request.data.get("setup_intent") if isinstance(request.data, dict) else None
    if setup_intent_id is not None and not isinstance(setup_intent_id, str):
        raise DomainError(_("Send the SetupIntent's id as a string."), field="setup_intent")
    with api_field_names(API_FIELDS):
        services.confirm_card(
            pledge, setup_intent_id=setup_intent_id, by=request.user, ip=client_ip(request)
        )
    pledge.refresh_from_db()
    return Response(PledgeSerializer(pledge).data)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def detail(request, public_id):
    return Response(PledgeSerializer(selectors.pledge_of(request.user, public_id)).data)

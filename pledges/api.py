"""Pledge API: create (with an Idempotency-Key header), confirm the card, list one's own."""

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from campaigns.models import Campaign
from core.errors import DomainError
from core.http import client_ip
from pledges import selectors, services
from pledges.serializers import PledgeCreateSerializer, PledgeSerializer


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def pledges(request):
    if request.method == "GET":
        return Response(PledgeSerializer(selectors.pledges_of(request.user), many=True).data)
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 64:
        return Response(
            {"detail": "Send an Idempotency-Key header (at most 64 characters)."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    incoming = PledgeCreateSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    data = incoming.validated_data
    campaign = get_object_or_404(Campaign.objects.public(), slug=data["campaign"])
    reward = None
    if data.get("reward") is not None:
        reward = campaign.rewards.filter(pk=data["reward"]).first()
        if reward is None:
            raise DomainError("That reward is not part of this campaign.", field="reward")
    if data["currency"] != campaign.currency:
        raise DomainError(f"This campaign collects {campaign.currency}.", field="currency")
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
    return Response(PledgeSerializer(pledge).data, status=status.HTTP_201_CREATED)


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def confirm(request, public_id):
    pledge = selectors.pledge_of(request.user, public_id)
    services.confirm_card(pledge, setup_intent_id=request.data.get("setup_intent"), by=request.user)
    pledge.refresh_from_db()
    return Response(PledgeSerializer(pledge).data)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def detail(request, public_id):
    return Response(PledgeSerializer(selectors.pledge_of(request.user, public_id)).data)

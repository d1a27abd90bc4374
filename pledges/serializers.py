"""API representations of pledges."""

from rest_framework import serializers

from pledges.models import Pledge


class MinorUnitsField(serializers.IntegerField):
    """An integer amount in minor units; fractions (10.5 or "10.50") are refused, not rounded."""

    def to_internal_value(self, data):
        fractional = isinstance(data, str) and not data.strip().isdigit()
        if isinstance(data, bool | float) or fractional:
            raise serializers.ValidationError(
                "Amounts are whole numbers of the currency's minor unit (cents)."
            )
        return super().to_internal_value(data)


class PledgeCreateSerializer(serializers.Serializer):
    campaign = serializers.SlugField()
    reward = serializers.IntegerField(required=False, allow_null=True)
    amount_minor = MinorUnitsField(min_value=1)
    currency = serializers.CharField(max_length=3)
    public_name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    anonymous = serializers.BooleanField(required=False, default=False)
    message = serializers.CharField(max_length=280, required=False, allow_blank=True, default="")


class PledgeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    client_secret = serializers.SerializerMethodField()

    class Meta:
        model = Pledge
        fields = [
            "id",
            "campaign",
            "reward",
            "amount_minor",
            "currency",
            "status",
            "public_name",
            "anonymous",
            "message",
            "setup_intent_id",
            "client_secret",
            "created_at",
        ]

    def get_client_secret(self, pledge):
        return getattr(pledge, "client_secret", None)

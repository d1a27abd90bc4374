"""API representations of pledges."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from pledges.models import Pledge


class MinorUnitsField(serializers.Field):
    """A whole amount in minor units: a JSON integer or a string of ASCII digits, bounded.

    Checked by type and length before any conversion, so no input makes int() build a huge
    number. Refused: booleans, floats (10.5), "10.50", exponents ("1e3"), signs, spaces,
    non-ASCII digits ("١٢"), anything above MAX_DIGITS digits, and values below 1. The
    business limits (MIN/MAX_PLEDGE_MINOR, a reward's minimum) stay with the service.
    """

    MAX_DIGITS = 12
    default_error_messages = {
        "invalid": _("Amounts are whole numbers of the currency's minor unit (cents)."),
        "too_large": _("Amounts have at most {max_digits} digits of minor units."),
        "min_value": _("Enter an amount above zero."),
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            if len(data) > self.MAX_DIGITS and data.isascii() and data.isdigit():
                self.fail("too_large", max_digits=self.MAX_DIGITS)
            if not (0 < len(data) <= self.MAX_DIGITS and data.isascii() and data.isdigit()):
                self.fail("invalid")
            data = int(data)
        elif type(data) is not int:  # bool is an int subclass; floats are never whole here
            self.fail("invalid")
        if data >= 10**self.MAX_DIGITS:  # a comparison: cheap for any size of int
            self.fail("too_large", max_digits=self.MAX_DIGITS)
        if data < 1:
            self.fail("min_value")
        return data

    def to_representation(self, value):
        return int(value)


class PledgeCreateSerializer(serializers.Serializer):
    campaign = serializers.SlugField()
    reward = serializers.IntegerField(required=False, allow_null=True)
    amount_minor = MinorUnitsField()
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

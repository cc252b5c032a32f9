"""The accounts API's request and response shapes."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Role
from config.serializers import StrictSerializer


class ApiKeySerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    user = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id", "name", "prefix", "role", "user", "created_at", "last_used_at",
            "expires_at", "revoked_at", "state",
        ]  # fmt: skip
        read_only_fields = fields


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField(help_text="The full key. Shown once, never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields

    def get_key(self, obj: ApiKey) -> str:
        return str(self.context["raw_key"])


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class EmailSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class ResetConfirmSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    token = serializers.CharField(max_length=200)


class TokenRequestSerializer(StrictSerializer):
    api_key = serializers.CharField(max_length=200)


class TokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_personal = serializers.BooleanField()


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    team = TeamSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "team", "created_at"]
        read_only_fields = fields


class MemberInviteSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANALYST)


class MemberRoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.Serializer):
    user = inline_serializer(
        "MeUser", {"id": serializers.IntegerField(), "email": serializers.EmailField()}
    )
    team = TeamSerializer()
    role = serializers.CharField()
    auth = serializers.CharField()


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "request_id", "user_email", "team", "method", "path", "action",
            "outcome", "status_code", "duration_ms", "client_ip", "user_agent", "detail",
        ]  # fmt: skip
        read_only_fields = fields


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at"]
        read_only_fields = fields

"""The API's sign-in: tokens issued (password, and the second factor where the account
has one), listed, revoked, and signing out. Thin: agencies.tokens and agencies.mfa do the work."""

from django.contrib.auth import authenticate, logout
from django_otp import user_has_device
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from agencies.auth_audit import request_details
from agencies.mfa import check_code, mfa_applies
from agencies.models import ApiToken
from agencies.selectors import manageable_tokens
from agencies.tokens import issue_token, revoke_token
from core.input_serializers import RefusesUnknownKeys, refuse_any_body
from core.query_parameters import reads_no_query
from core.viewsets import RestrictedViewSet

REFUSED = (
    "Unable to sign in with the credentials given (username, password and, for an account "
    "with a second factor, otp_token)."
)


class TokenRequestSerializer(RefusesUnknownKeys, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp_token = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="TOTP or recovery code, where required"
    )


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only now")
    id = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    current = serializers.SerializerMethodField(help_text="The token this request was made with")

    class Meta:
        model = ApiToken
        fields = ["id", "user", "created_at", "expires_at", "last_used_at", "mfa_verified", "current"]

    def get_current(self, token: ApiToken) -> bool:
        return token == self.context["request"].auth


DETAIL = inline_serializer("AuthDetail", {"detail": serializers.CharField()})


@extend_schema(
    request=TokenRequestSerializer,
    responses={
        201: IssuedTokenSerializer,
        400: OpenApiResponse(description="Refused: the credentials (or the code) are wrong"),
        403: OpenApiResponse(DETAIL, description="The account must enrol a second factor first"),
        429: OpenApiResponse(DETAIL, description="The account is locked out after failed sign-ins"),
    },
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@reads_no_query
def obtain_token(request):
    """A token for the API. Failures count towards the account's lock-out (429 once locked)."""
    form = TokenRequestSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    http_request = request._request
    user = authenticate(http_request, username=data["username"], password=data["password"])
    if user is None:
        raise ValidationError({"non_field_errors": [REFUSED]})
    second_factor = mfa_applies(user)
    if second_factor:
        if not user_has_device(user):
            raise PermissionDenied(
                "This account must enrol a second factor before it can have API tokens: sign in at "
                "/accounts/login/ first."
            )
        if check_code(http_request, user=user, code=data.get("otp_token", "")) is None:
            raise ValidationError({"non_field_errors": [REFUSED]})
    token, raw = issue_token(user=user, mfa_verified=second_factor, where=request_details(http_request))
    return Response(
        IssuedTokenSerializer({"token": raw, "id": token.pk, "expires_at": token.expires_at}).data,
        status=status.HTTP_201_CREATED,
    )


class ApiTokenViewSet(RestrictedViewSet, mixins.ListModelMixin, mixins.DestroyModelMixin):
    """Live tokens the caller may revoke: their own; an agency admin's also those of the
    agency's users; a platform admin's, all."""

    serializer_class = ApiTokenSerializer
    selector = staticmethod(manageable_tokens)

    def destroy(self, request, *args, **kwargs):
        revoke_token(actor=request.user, token_id=kwargs["pk"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(request=None, responses={204: None})
@api_view(["POST"])
@reads_no_query
def sign_out(request):
    """Revokes the token the request was made with, or ends the session."""
    refuse_any_body(request.data)
    if isinstance(request.auth, ApiToken):
        revoke_token(actor=request.user, token_id=request.auth.pk, reason="signed out")
    else:
        logout(request._request)
    return Response(status=status.HTTP_204_NO_CONTENT)

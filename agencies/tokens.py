"""API tokens that expire, can be revoked, and die with the password.

A token reads `<id>.<secret>`; the table keeps the id and a SHA-256 digest of the whole
token (the secret is 256 random bits, so no salt or slow hash is needed), so a leaked copy
of the table authenticates no one. A token also stops working when it expires, when it
is revoked (by its owner, an admin of the owner's agency or a platform admin, or by
signing out through the API), when the password changes (its `password_mark` no longer
matches) and when it was issued without a second factor to a user who now needs one.

Own model rather than django-rest-knox: knox has no notion of who besides the owner may
list and revoke a token, of the password it was issued under, or of the second factor,
which are the parts this platform needs; the rest is the few lines below.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from agencies.mfa import mfa_required
from agencies.models import ApiToken, User
from agencies.selectors import manageable_tokens
from audit.log import event_for, record_event, record_events

KEYWORD = "Token"
TOKEN_ID = re.compile(r"[0-9a-f]{16}")
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def password_mark(user: User) -> str:
    return salted_hmac("agencies.tokens.password_mark", user.password, algorithm="sha256").hexdigest()


def issue_token(*, user: User, mfa_verified: bool, where: dict) -> tuple[ApiToken, str]:
    """A new token for `user` and its only plain copy, to hand to the caller once."""
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    raw = f"{token_id}.{secret}"
    now = timezone.now()
    with transaction.atomic():
        ApiToken.objects.filter(user=user, expires_at__lte=now).delete()
        token = ApiToken.objects.create(
            id=token_id,
            user=user,
            digest=_digest(raw),
            password_mark=password_mark(user),
            mfa_verified=mfa_verified,
            expires_at=now + settings.API_TOKEN_LIFETIME,
        )
        details = {"token": token_id, "expires_at": token.expires_at, "mfa": mfa_verified, **where}
        record_events(
            [
                event_for("auth.login", actor=user, details={"via": "api-token", **where}),
                event_for("auth.token.created", actor=user, obj=token, details=details),
            ]
        )
    return token, raw


def authenticate_token(raw: str) -> ApiToken:
    """The live token `raw` names, its user loaded; AuthenticationFailed, always with the
    same message, for anything else."""
    token_id, _, _ = raw.partition(".")
    token = (
        ApiToken.objects.select_related("user__agency").filter(pk=token_id).first()
        if TOKEN_ID.fullmatch(token_id)
        else None
    )
    now = timezone.now()
    if (
        token is None
        or not constant_time_compare(token.digest, _digest(raw))
        or token.expires_at <= now
        or not token.user.is_active
        or not constant_time_compare(token.password_mark, password_mark(token.user))
        or (not token.mfa_verified and mfa_required(token.user))
    ):
        raise AuthenticationFailed("Invalid or expired token.")
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <id>.<secret>`."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header: give `Token <token>`.")
        try:
            raw = parts[1].decode()
        except UnicodeError as error:
            raise AuthenticationFailed("Invalid or expired token.") from error
        token = authenticate_token(raw)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return KEYWORD


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`, the token from POST /api/auth/token/",
        }


def revoke_token(*, actor: User, token_id: str, reason: str = "") -> None:
    """Revokes one token `actor` may manage; any other id is a 404, as if it did not exist."""
    with transaction.atomic():
        token = (
            manageable_tokens(actor).select_for_update(of=("self",)).filter(pk=token_id).first()
            if TOKEN_ID.fullmatch(token_id)
            else None
        )
        if token is None:
            raise Http404("No such token.")
        owner = token.user
        # Built first: deleting the token clears its primary key.
        event = event_for(
            "auth.token.revoked",
            actor=actor,
            agency_id=owner.agency_id,
            obj=token,
            details={
                "token": token_id,
                "user": owner.get_username(),
                "reason": reason or ("by its owner" if owner.pk == actor.pk else "by an admin"),
            },
        )
        token.delete()
        record_events([event])


def revoke_all_tokens(*, user: User, reason: str) -> int:
    """Revokes every token of `user` (a password change); audited when there were any."""
    with transaction.atomic():
        token_ids = list(ApiToken.objects.filter(user=user).values_list("pk", flat=True))
        if token_ids:
            ApiToken.objects.filter(pk__in=token_ids).delete()
            record_event(
                "auth.token.revoked",
                actor=user,
                details={"tokens": token_ids, "user": user.get_username(), "reason": reason},
            )
    return len(token_ids)

"""Reads of agencies' users and tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from agencies.models import ApiToken, User


def manageable_tokens(user: User) -> QuerySet[ApiToken]:
    """The tokens `user` may list and revoke: their own; an agency admin's also those of
    their agency's users; a platform admin's, every one."""
    if user is None or not user.is_authenticated:
        return ApiToken.objects.none()
    tokens = ApiToken.objects.select_related("user").filter(expires_at__gt=timezone.now())
    if user.is_superuser:
        return tokens
    if user.role == User.Role.AGENCY_ADMIN and user.agency_id:
        return tokens.filter(user__agency_id=user.agency_id, user__is_superuser=False) | tokens.filter(
            user=user
        )
    return tokens.filter(user=user)

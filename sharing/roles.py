"""Who may act on sharing: a platform admin, or a user of the right role in the right agency.

Its own module because agreements, releases and requests all ask it, and none of them
should import another for it; each refusal says who may do what was tried.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied

from agencies.models import User


def require_platform_admin(user: User, action: str) -> None:
    if not user.is_superuser:
        raise PermissionDenied(f"only a platform admin may {action} an agreement")


def require_role(user: User, agency_id: int, roles: Iterable[str], action: str) -> None:
    if user.is_superuser:
        return
    if user.agency_id != agency_id or user.role not in roles:
        raise PermissionDenied(
            f"only {' or '.join(r.replace('_', ' ') for r in roles)}s of that agency may {action}"
        )

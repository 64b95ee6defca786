"""Sign-ins, failed sign-ins, wrong second-factor codes, lock-outs and sign-outs go to the
audit log, whichever path they come through (login form, admin, API, MFA pages)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from agencies.mfa import OTP_FAILURE, mfa_applies
from agencies.models import User
from audit.log import record_event

USERNAME_LIMIT = 150


def request_details(request: HttpRequest | None) -> dict:
    """Where a sign-in event came from: client address and path."""
    if request is None:
        return {}
    request = getattr(request, "_request", request)
    ip = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "")
    return {"ip": ip, "path": request.path[:200]}


@receiver(user_logged_in, dispatch_uid="agencies.audit_login")
def audit_login(sender, request: HttpRequest | None, user: User, **kwargs) -> None:
    # The password step: where a second factor applies, `auth.mfa.verified` completes it.
    second_factor = "pending" if mfa_applies(user) else "not required"
    record_event(
        "auth.login", actor=user, details={**request_details(request), "second_factor": second_factor}
    )


@receiver(user_logged_out, dispatch_uid="agencies.audit_logout")
def audit_logout(sender, request: HttpRequest | None, user: User | None, **kwargs) -> None:
    if user is not None:
        record_event("auth.logout", actor=user, details=request_details(request))


@receiver(user_login_failed, dispatch_uid="agencies.audit_login_failed")
def audit_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:USERNAME_LIMIT]
    details = {"username": username, **request_details(request)}
    if credentials.get("factor") == OTP_FAILURE:
        # The password was right, so the attempt is on this account: it is named as the actor.
        user = User.objects.filter(username=username).first()
        record_event("auth.mfa.failed", actor=user, details=details)
    else:
        record_event("auth.login_failed", details=details)


@receiver(user_locked_out, dispatch_uid="agencies.audit_locked_out")
def audit_locked_out(sender, request: HttpRequest | None, username: str, ip_address: str, **kwargs) -> None:
    details = {"username": str(username or "")[:USERNAME_LIMIT], **request_details(request), "ip": ip_address}
    record_event("auth.locked_out", details=details)

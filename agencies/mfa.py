"""Second factor (django-otp): who must use one, checking a code, and keeping a signed-in
but unverified session away from everything but the verification pages.

A TOTP app is the factor; ten single-use recovery codes (a static device) stand in for a
lost phone. A wrong code counts as a failed sign-in, so django-axes locks the account out
after as many wrong codes as wrong passwords.
"""

from __future__ import annotations

from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import match_token, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.models import User
from audit.log import record_event

ROLES_REQUIRING_MFA = frozenset({User.Role.LIAISON, User.Role.AGENCY_ADMIN})
# Sent with a wrong code in `user_login_failed`, so the audit receiver tells it from a wrong password.
OTP_FAILURE = "otp"


def mfa_required(user: User) -> bool:
    """Liaison officers, agency admins, platform admins and anyone else who may enter the
    admin (staff) always; analysts where their agency says so."""
    if user.is_superuser or user.is_staff or user.role in ROLES_REQUIRING_MFA:
        return True
    # The agency as loaded with the user (token authentication loads both in one query).
    return bool(user.agency_id) and user.agency.mfa_for_analysts


def mfa_applies(user: User) -> bool:
    """Required, or chosen: a user who enrolled a device is asked for it too."""
    return mfa_required(user) or user_has_device(user)


def check_code(request: HttpRequest, *, user: User, code: str, device: Device | None = None) -> Device | None:
    """The device that accepts `code` (a TOTP code or an unused recovery code; only `device`
    when given, as at enrolment), or None, which counts and audits a failed sign-in."""
    code = "".join((code or "").split())
    credentials = {"username": user.get_username(), "factor": OTP_FAILURE}
    verified = None
    # A locked-out account has no code checked, also in a session whose password step came
    # before the lock-out (else many such sessions would each go on guessing).
    if code and AxesProxyHandler.is_allowed(request, credentials):
        if device is None:
            verified = match_token(user, code)
        else:
            with transaction.atomic():
                verified = device if device.verify_token(code) else None
    if verified is None:
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return verified


def _open_paths() -> tuple[str, ...]:
    return (
        reverse("mfa-verify"),
        reverse("mfa-setup"),
        reverse("mfa-qr"),
        reverse("logout"),
        reverse("api-token"),
        "/" + settings.STATIC_URL.lstrip("/"),
    )


class MfaRequiredMiddleware:
    """After the password, a user who must give a second factor reaches only the pages that
    take it (or enrol a device) until the session is verified; the API answers 403."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not request.path_info.startswith(_open_paths())
            and mfa_applies(user)
        ):
            if request.path_info.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Sign-in is not complete: give your second factor at /accounts/mfa/."},
                    status=403,
                )
            target = "mfa-verify" if user_has_device(user) else "mfa-setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


RECOVERY_CODES = 10


def pending_totp_device(user: User) -> TOTPDevice:
    """The unconfirmed TOTP device being enrolled (one per user, kept so a scanned secret stays valid)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def may_enrol(user: User, *, verified: bool) -> bool:
    """A first device needs only the password; replacing one (the TOTP device was removed,
    the session verified with a recovery code) needs a verified session."""
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        return False
    return verified or not user_has_device(user)


def enrol(*, user: User, device: TOTPDevice, details: dict) -> list[str]:
    """Confirms the TOTP device that accepted a code and replaces the recovery codes; returns
    them, the only time they are shown."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
        record_event("auth.mfa.enrolled", actor=user, details={"recovery_codes": RECOVERY_CODES, **details})
    return codes


def record_verified(*, user: User, device: Device, details: dict) -> None:
    kind = "recovery_code" if isinstance(device, StaticDevice) else "totp"
    record_event("auth.mfa.verified", actor=user, details={"factor": kind, **details})

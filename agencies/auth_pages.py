"""The second-factor pages (verify a code, enrol an authenticator app) and the lock-out
answer. Thin: agencies.mfa does the work."""

import base64
import io

import segno
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp import user_has_device

from agencies import mfa
from agencies.auth_audit import request_details


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else settings.LOGIN_REDIRECT_URL


@never_cache
@login_required
def mfa_verify(request: HttpRequest) -> HttpResponse:
    user, next_url = request.user, _next_url(request)
    if not user_has_device(user):
        return redirect(f"{reverse('mfa-setup')}?{request.GET.urlencode()}")
    if user.is_verified():
        return redirect(next_url)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        device = mfa.check_code(request, user=user, code=form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            mfa.record_verified(user=user, device=device, details=request_details(request))
            return redirect(next_url)
        form.add_error("code", "That code is not valid.")
    return render(request, "registration/mfa_verify.html", {"form": form, "next": next_url})


@never_cache
@login_required
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user, next_url = request.user, _next_url(request)
    if not mfa.may_enrol(user, verified=user.is_verified()):
        return redirect(f"{reverse('mfa-verify')}?{request.GET.urlencode()}")
    device = mfa.pending_totp_device(user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        if mfa.check_code(request, user=user, code=form.cleaned_data["code"], device=device) is not None:
            codes = mfa.enrol(user=user, device=device, details=request_details(request))
            otp_login(request, device)
            return render(request, "registration/mfa_recovery_codes.html", {"codes": codes, "next": next_url})
        form.add_error("code", "That code is not valid: check the time on your phone and try the next one.")
    context = {
        "form": form,
        "next": next_url,
        "uri": device.config_url,
        "secret": typed_secret(device.bin_key),
        "required": mfa.mfa_required(user),
    }
    return render(request, "registration/mfa_setup.html", context)


def typed_secret(key: bytes) -> str:
    """The key as authenticator apps take it typed in: base32, in groups of four."""
    text = base64.b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@never_cache
@login_required
def mfa_qr(request: HttpRequest) -> HttpResponse:
    """The enrolment URI as a QR code (SVG), served as an image so the page needs no inline markup."""
    if not mfa.may_enrol(request.user, verified=request.user.is_verified()):
        return HttpResponse(status=404)
    buffer = io.BytesIO()
    segno.make(mfa.pending_totp_device(request.user).config_url, error="m").save(
        buffer, kind="svg", scale=5, border=2
    )
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer once an account is locked out: 429, JSON for the API."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        f"Too many failed sign-ins: signing in is locked for {minutes} minutes. "
        "An administrator can unlock it sooner."
    )
    if request.user.is_authenticated and not request.user.is_verified():
        # A wrong second-factor code locked it: the half-finished sign-in goes too.
        logout(request)
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)

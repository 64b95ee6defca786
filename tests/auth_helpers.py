"""TOTP codes computed independently of django-otp (pyotp, RFC 6238), for tests that sign in."""

import base64
import time

import pyotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.models import User


def totp_for_secret(secret: str, step: int | None = None) -> str:
    """The code of a base32 `secret` (as the enrolment page shows it) at time step `step`
    (default: now)."""
    totp = pyotp.TOTP(secret.replace(" ", ""))
    return totp.at(30 * step) if step is not None else totp.now()


def secret_of(device: TOTPDevice) -> str:
    return base64.b32encode(bytes.fromhex(device.key)).decode()


def next_code(device: TOTPDevice) -> str:
    """A code the device has not accepted yet: django-otp refuses a time step used before
    (replay), so a second sign-in within 30 seconds takes the next step's code."""
    device.refresh_from_db()
    step = max(int(time.time()) // 30, device.last_t + 1)
    return totp_for_secret(secret_of(device), step)


def totp_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def browser_sign_in(page, base: str, user: User, password: str, path: str) -> None:
    """Signs in through the real pages: the password form, then the second factor if the
    account has a device."""
    page.goto(base + path)
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        page.wait_for_url("**/accounts/mfa/**")
        page.fill("#id_code", next_code(device))
        page.click("#mfa-submit")


def signed_in(client, user: User):
    """The client signed in as `user` with the second factor given: a TOTP device, and the
    session marked the way django_otp.login marks it."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client

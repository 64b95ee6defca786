"""Authentication is strong enough for what it guards (issue 11, class 10; the sign-in
events of class 12): lock-out on every sign-in path, API tokens that expire, are revoked
and die with the password, are kept hashed, and a second factor for the roles that need it."""

import hashlib
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import ApiToken, User
from audit.models import AuditEvent
from tests.auth_helpers import next_code, secret_of, totp_device, totp_for_secret
from tests.sharing_helpers import platform_admin, staff

pytestmark = pytest.mark.django_db

PASSWORD = "a long pass phrase 7"
LIMIT = 3


@pytest.fixture(autouse=True)
def lockout_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def cus():
    team = staff("cus")
    for user in (team.analyst, team.liaison, team.admin):
        user.set_password(PASSWORD)
        user.save()
    return team


@pytest.fixture
def pol():
    team = staff("pol", kind="police")
    team.analyst.set_password(PASSWORD)
    team.analyst.save()
    return team


@pytest.fixture
def superuser():
    user = platform_admin()
    user.set_password(PASSWORD)
    user.save()
    return user


def password_login(client, user: User):
    """The password step on the login form (Client.login bypasses the request axes needs)."""
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def attempt(client, path: str, user: User, password: str, otp: str = ""):
    """One sign-in through the login form, the admin's login or the token endpoint."""
    if path == "form":
        return client.post("/accounts/login/", {"username": user.username, "password": password})
    if path == "admin":
        return client.post(
            "/admin/login/?next=/admin/", {"username": user.username, "password": password, "next": "/admin/"}
        )
    body = {"username": user.username, "password": password, "otp_token": otp}
    return client.post("/api/auth/token/", body, format="json")


def succeeded(client, path: str, response) -> bool:
    if path == "token":
        return response.status_code == 201 and "token" in response.json()
    return response.status_code == 302 and signed_in(client)


def token_for(user: User, otp: str = "") -> str:
    response = attempt(APIClient(), "token", user, PASSWORD, otp)
    assert response.status_code == 201, response.content
    return response.json()["token"]


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def token_works(token: str) -> bool:
    status = with_token(token).get("/api/auth/tokens/").status_code
    assert status in (200, 401)
    return status == 200


# Lock-out ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["form", "admin", "token"])
def test_failed_sign_ins_lock_the_account_out_even_for_the_right_password(path, cus, superuser):
    user = superuser if path == "admin" else cus.analyst
    client = APIClient()
    for _ in range(LIMIT - 1):
        assert not succeeded(client, path, attempt(client, path, user, "wrong guess"))
    # Below the limit the right password still gets in.
    assert succeeded(client, path, attempt(client, path, user, PASSWORD))
    client = APIClient()
    locking = attempt(client, path, user, "wrong guess")
    assert locking.status_code == 429
    response = attempt(client, path, user, PASSWORD)
    assert response.status_code == 429
    assert not succeeded(client, path, response)
    assert "locked" in response.content.decode()

    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == LIMIT + 1
    assert {event.details["username"] for event in failed} == {user.username}
    assert all(event.details["ip"] == "127.0.0.1" and event.actor_id is None for event in failed)
    locked = AuditEvent.objects.filter(action="auth.locked_out")
    assert locked.exists() and locked.first().details["username"] == user.username


def test_the_lock_out_lasts_its_cool_off_and_an_admin_can_lift_it_sooner(cus, settings):
    client = Client()
    for _ in range(LIMIT):
        attempt(client, "form", cus.analyst, "wrong guess")
    assert attempt(client, "form", cus.analyst, PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME - timedelta(minutes=1)):
        assert attempt(client, "form", cus.analyst, PASSWORD).status_code == 429
    call_command("axes_reset_username", cus.analyst.username)
    assert succeeded(client, "form", attempt(client, "form", cus.analyst, PASSWORD))


def test_the_lock_out_ends_after_its_cool_off(cus, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            attempt(Client(), "form", cus.analyst, "wrong guess")
    # Each attempt while locked out starts the cool-off again.
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME - timedelta(minutes=1), tick=False):
        assert attempt(Client(), "form", cus.analyst, PASSWORD).status_code == 429
    with time_machine.travel(start + 2 * settings.AXES_COOLOFF_TIME, tick=False):
        client = Client()
        assert succeeded(client, "form", attempt(client, "form", cus.analyst, PASSWORD))


def test_a_locked_out_account_is_refused_from_another_address_too(cus):
    for _ in range(LIMIT):
        attempt(Client(REMOTE_ADDR="10.0.0.1"), "form", cus.analyst, "wrong guess")
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert attempt(other, "form", cus.analyst, PASSWORD).status_code == 429
    assert not signed_in(other)


def test_wrong_second_factor_codes_count_as_failures_and_lock_out(cus):
    device = totp_device(cus.liaison)
    client, earlier = Client(), Client()
    assert succeeded(earlier, "form", attempt(earlier, "form", cus.liaison, PASSWORD))
    assert succeeded(client, "form", attempt(client, "form", cus.liaison, PASSWORD))
    for _ in range(LIMIT - 1):
        response = client.post("/accounts/mfa/", {"code": "000000"})
        assert response.status_code == 200 and "not valid" in response.content.decode()
    response = client.post("/accounts/mfa/", {"code": "000001"})
    assert response.status_code == 429
    assert not signed_in(client)
    # Locked out: the password and a right code both are refused now.
    assert attempt(client, "form", cus.liaison, PASSWORD).status_code == 429
    api = APIClient()
    assert attempt(api, "token", cus.liaison, PASSWORD, next_code(device)).status_code == 429
    # A session whose password step came before the lock-out gets no code checked either.
    assert earlier.post("/accounts/mfa/", {"code": next_code(device)}).status_code == 429
    assert not signed_in(earlier)
    failures = AuditEvent.objects.filter(action="auth.mfa.failed")
    assert failures.count() >= LIMIT
    assert {event.actor_id for event in failures} == {cus.liaison.pk}


def test_the_token_endpoint_counts_a_wrong_code_as_a_failure(cus):
    device = totp_device(cus.admin)
    api = APIClient()
    for code in ["", "123456"][: LIMIT - 1]:
        response = attempt(api, "token", cus.admin, PASSWORD, code)
        assert response.status_code == 400 and "token" not in response.json()
    assert attempt(api, "token", cus.admin, PASSWORD, "654321").status_code == 429
    assert attempt(api, "token", cus.admin, PASSWORD, next_code(device)).status_code == 429
    assert not ApiToken.objects.exists()


# Tokens --------------------------------------------------------------------------------


def test_a_token_is_kept_hashed_and_what_the_table_holds_authenticates_no_one(cus):
    token = token_for(cus.analyst)
    assert token_works(token)
    row = ApiToken.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM agencies_apitoken")
        stored = " ".join(str(value) for value in cursor.fetchone())
    secret = token.split(".", 1)[1]
    assert secret not in stored and token not in stored
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert not token_works(f"{row.pk}.{row.digest}")
    assert not token_works(row.digest)
    event = AuditEvent.objects.get(action="auth.token.created")
    assert event.actor_id == cus.analyst.pk and event.object_id == row.pk
    assert event.details["token"] == row.pk and secret not in str(event.details)


def test_a_token_expires(cus, settings):
    settings.API_TOKEN_LIFETIME = timedelta(hours=2)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = token_for(cus.analyst)
    assert ApiToken.objects.get().expires_at == start + timedelta(hours=2)
    with time_machine.travel(start + timedelta(hours=1, minutes=59), tick=False):
        assert token_works(token)
    with time_machine.travel(start + timedelta(hours=2, seconds=1), tick=False):
        assert not token_works(token)


def test_the_owner_lists_and_revokes_their_tokens(cus):
    first, second = token_for(cus.analyst), token_for(cus.analyst)
    listed = with_token(first).get("/api/auth/tokens/").json()["results"]
    assert {item["id"] for item in listed} == {first.split(".")[0], second.split(".")[0]}
    assert [item["current"] for item in listed if item["id"] == first.split(".")[0]] == [True]
    assert with_token(first).delete(f"/api/auth/tokens/{second.split('.')[0]}/").status_code == 204
    assert not token_works(second) and token_works(first)
    event = AuditEvent.objects.get(action="auth.token.revoked")
    assert event.actor_id == cus.analyst.pk and event.details["reason"] == "by its owner"
    assert event.object_type == "agencies.apitoken" and event.object_id == second.split(".")[0]


def test_admins_revoke_the_tokens_they_manage_and_no_others(cus, pol, superuser, sign_in):
    analyst_token, pol_token = token_for(cus.analyst), token_for(pol.analyst)
    cus_admin = sign_in(APIClient(), cus.admin)
    listed = {item["id"] for item in cus_admin.get("/api/auth/tokens/").json()["results"]}
    assert listed == {analyst_token.split(".")[0]}
    # Another agency's token answers exactly as a token that does not exist.
    hidden = cus_admin.delete(f"/api/auth/tokens/{pol_token.split('.')[0]}/")
    missing = cus_admin.delete("/api/auth/tokens/0123456789abcdef/")
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()
    assert token_works(pol_token)
    # An analyst manages only their own.
    assert with_token(analyst_token).delete(f"/api/auth/tokens/{pol_token.split('.')[0]}/").status_code == 404

    assert cus_admin.delete(f"/api/auth/tokens/{analyst_token.split('.')[0]}/").status_code == 204
    assert not token_works(analyst_token)
    platform = sign_in(APIClient(), superuser)
    assert platform.delete(f"/api/auth/tokens/{pol_token.split('.')[0]}/").status_code == 204
    assert not token_works(pol_token)
    reasons = AuditEvent.objects.filter(action="auth.token.revoked").values_list("actor_id", "details")
    assert [(actor, details["reason"]) for actor, details in reasons] == [
        (cus.admin.pk, "by an admin"),
        (superuser.pk, "by an admin"),
    ]


@pytest.mark.parametrize("bad", ["x", "0123456789abcdef", "0123456789abcdef.", "\x00ab.cd", "ab" * 40, "é.é"])
def test_malformed_tokens_and_token_ids_are_refused_not_errors(bad, cus):
    token = token_for(cus.analyst)
    assert not token_works(bad)
    assert not token_works(f"{token.split('.')[0]}.{bad}")
    response = with_token(token).delete(f"/api/auth/tokens/{quote(bad)}/")
    assert response.status_code == 404
    assert token_works(token)


def test_signing_out_through_the_api_revokes_the_token(cus):
    token = token_for(cus.analyst)
    assert with_token(token).post("/api/auth/logout/").status_code == 204
    assert not token_works(token)


@pytest.mark.parametrize("path", ["password change form", "admin", "database update"])
def test_a_password_change_kills_the_tokens(path, cus, superuser, sign_in):
    token = token_for(cus.analyst)
    new = "another long pass phrase 8"
    if path == "password change form":
        client = Client()
        password_login(client, cus.analyst)
        response = client.post(
            "/accounts/password_change/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 302
    elif path == "admin":
        client = sign_in(Client(), superuser)
        response = client.post(
            f"/admin/agencies/user/{cus.analyst.pk}/password/",
            {"password1": new, "password2": new, "usable_password": "true"},
        )
        assert response.status_code == 302
    else:
        # Around every hook: the token still stops, since it was issued under the old password.
        User.objects.filter(pk=cus.analyst.pk).update(password=make_password(new))
    cus.analyst.refresh_from_db()
    assert cus.analyst.check_password(new)
    assert not token_works(token)
    if path != "database update":
        assert not ApiToken.objects.exists()
        event = AuditEvent.objects.get(action="auth.token.revoked")
        assert event.details["reason"] == "password changed" and event.actor_id == cus.analyst.pk


def test_a_token_issued_without_a_second_factor_stops_when_the_role_needs_one(cus):
    token = token_for(cus.analyst)
    cus.analyst.role = User.Role.LIAISON
    cus.analyst.save()
    assert not token_works(token)


# Second factor -------------------------------------------------------------------------


def required_users(cus) -> dict[str, User]:
    agency = staff("tax", kind="tax")
    agency.agency.mfa_for_analysts = True
    agency.agency.save()
    agency.analyst.set_password(PASSWORD)
    agency.analyst.save()
    superuser = platform_admin()
    superuser.set_password(PASSWORD)
    superuser.save()
    staff_analyst = staff("sta").analyst
    staff_analyst.is_staff = True
    staff_analyst.set_password(PASSWORD)
    staff_analyst.save()
    return {
        "staff analyst": staff_analyst,
        "liaison": cus.liaison,
        "agency admin": cus.admin,
        "platform admin": superuser,
        "analyst of an agency requiring it": agency.analyst,
    }


@pytest.mark.parametrize(
    "who", ["liaison", "agency admin", "platform admin", "staff analyst", "analyst of an agency requiring it"]
)
def test_roles_needing_a_second_factor_reach_nothing_on_the_password_alone(who, cus):
    user = required_users(cus)[who]
    client = APIClient()
    password_login(client, user)
    for page in ("/", "/search/", "/requests/", "/liaison/requests/", "/admin/"):
        response = client.get(page)
        assert response.status_code == 302 and response.url.startswith("/accounts/mfa/setup/"), page
    for api in ("/api/records/", "/api/agreements/", "/api/auth/tokens/"):
        assert client.get(api).status_code == 403, api
    # The token endpoint asks for the code too: without a device, none is issued.
    assert attempt(APIClient(), "token", user, PASSWORD).status_code == 403
    device = totp_device(user)
    assert attempt(APIClient(), "token", user, PASSWORD).status_code == 400
    assert client.get("/search/").url.startswith("/accounts/mfa/?")
    response = client.post("/accounts/mfa/", {"code": next_code(device), "next": "/search/"})
    assert response.status_code == 302 and response.url == "/search/"
    assert client.get("/search/").status_code == 200
    assert client.get("/api/agreements/").status_code == 200
    assert attempt(APIClient(), "token", user, PASSWORD, next_code(device)).status_code == 201
    event = AuditEvent.objects.filter(action="auth.mfa.verified").get()
    assert event.actor_id == user.pk and event.details["factor"] == "totp"


def test_an_analyst_needs_no_second_factor_unless_their_agency_asks(cus):
    client = Client()
    password_login(client, cus.analyst)
    assert client.get("/search/").status_code == 200
    assert attempt(APIClient(), "token", cus.analyst, PASSWORD).status_code == 201
    cus.agency.mfa_for_analysts = True
    cus.agency.save()
    assert client.get("/search/").url.startswith("/accounts/mfa/setup/")


def test_enrolment_shows_the_secret_once_and_confirms_with_a_code(cus):
    client = Client()
    password_login(client, cus.liaison)
    page = client.get("/accounts/mfa/setup/").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    uri = re.search(r'id="totp-uri">([^<]+)<', page).group(1)
    assert uri.startswith("otpauth://totp/") and secret.replace(" ", "") in uri
    qr = client.get("/accounts/mfa/setup/qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    assert "<script" not in page and "style=" not in page

    refused = client.post("/accounts/mfa/setup/", {"code": "000000"})
    assert "not valid" in refused.content.decode()
    done = client.post("/accounts/mfa/setup/", {"code": totp_for_secret(secret)})
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == len(set(codes)) == 10
    assert client.get("/liaison/requests/").status_code == 200
    # Enrolled: the setup page and its QR code are gone; the codes are never shown again.
    assert client.get("/accounts/mfa/setup/").status_code == 302
    assert client.get("/accounts/mfa/setup/qr.svg").status_code == 404
    enrolled = AuditEvent.objects.get(action="auth.mfa.enrolled")
    assert enrolled.actor_id == cus.liaison.pk and not any(code in str(enrolled.details) for code in codes)
    assert AuditEvent.objects.filter(action="auth.mfa.failed", actor_id=cus.liaison.pk).count() == 1


def test_someone_with_only_the_password_cannot_replace_an_enrolled_device(cus):
    device = totp_device(cus.liaison)
    client = Client()
    password_login(client, cus.liaison)
    response = client.get("/accounts/mfa/setup/")
    assert response.status_code == 302 and response.url.startswith("/accounts/mfa/?")
    assert client.get("/accounts/mfa/setup/qr.svg").status_code == 404
    assert list(cus.liaison.totpdevice_set.values_list("pk", flat=True)) == [device.pk]


def test_a_recovery_code_signs_in_once(cus):
    client = Client()
    password_login(client, cus.liaison)
    page = client.get("/accounts/mfa/setup/").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    done = client.post("/accounts/mfa/setup/", {"code": totp_for_secret(secret)})
    code = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())[0]

    first = Client()
    password_login(first, cus.liaison)
    assert first.post("/accounts/mfa/", {"code": code}).status_code == 302
    assert first.get("/liaison/requests/").status_code == 200
    second = Client()
    password_login(second, cus.liaison)
    assert "not valid" in second.post("/accounts/mfa/", {"code": code}).content.decode()
    assert second.get("/liaison/requests/").status_code == 302
    used = AuditEvent.objects.get(action="auth.mfa.verified")
    assert used.details["factor"] == "recovery_code"


def test_the_device_secret_is_the_one_enrolment_showed(cus):
    client = Client()
    password_login(client, cus.admin)
    page = client.get("/accounts/mfa/setup/").content.decode()
    shown = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert secret_of(cus.admin.totpdevice_set.get()).rstrip("=") == shown


def test_sign_ins_and_sign_outs_are_audited(cus):
    client = Client(REMOTE_ADDR="10.1.2.3")
    attempt(client, "form", cus.analyst, "wrong guess")
    attempt(client, "form", cus.analyst, PASSWORD)
    signed_out = client.post("/accounts/logout/")
    # To the sign-in page, not Django's own "Logged out" page, which is the admin's.
    assert (signed_out.status_code, signed_out.url) == (302, "/accounts/login/")
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor_id", "agency_id", "details"))
    assert [event[:3] for event in events] == [
        ("auth.login_failed", None, None),
        ("auth.login", cus.analyst.pk, cus.agency.pk),
        ("auth.logout", cus.analyst.pk, cus.agency.pk),
    ]
    assert events[0][3] == {"username": cus.analyst.username, "ip": "10.1.2.3", "path": "/accounts/login/"}
    assert events[1][3]["ip"] == "10.1.2.3" and events[1][3]["second_factor"] == "not required"
    assert "password" not in str(events)

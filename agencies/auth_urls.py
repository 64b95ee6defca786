"""Sign-in routes: the API's tokens (under /api/auth/) and the second-factor pages (under /accounts/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from agencies import auth_pages, auth_views

router = SimpleRouter()
router.register("tokens", auth_views.ApiTokenViewSet, basename="api-token-item")

api = [
    path("token/", auth_views.obtain_token, name="api-token"),
    path("logout/", auth_views.sign_out, name="api-logout"),
    *router.urls,
]
pages = [
    path("mfa/", auth_pages.mfa_verify, name="mfa-verify"),
    path("mfa/setup/", auth_pages.mfa_setup, name="mfa-setup"),
    path("mfa/setup/qr.svg", auth_pages.mfa_qr, name="mfa-qr"),
]

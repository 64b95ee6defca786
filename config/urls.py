from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from config.health import health
from config.inputs import IdConverter
from config.views import home

# Before the apps' URLs are read: they name ids as `<id:pk>`.
register_converter(IdConverter, "id")

urlpatterns = [
    path("", home, name="home"),
    path("health/", health, name="health"),
    path("", include("intel.page_urls")),
    path("", include("sharing.page_urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("intel.urls")),
    path("api/", include("sharing.urls")),
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

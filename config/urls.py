from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from agencies import auth_urls
from config.health import health
from workspace.pages import home

urlpatterns = [
    path("", home, name="home"),
    # Asked by browsers of pages that name no icon (the admin's, the API's): not a 404 each.
    # Lazily: in production the static name is the manifest's, not read before it is needed;
    # not permanent: that name changes with the icon.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=False)),
    path("health/", health, name="health"),
    path("", include("workspace.urls")),
    path("", include("intel.page_urls")),
    path("", include("sharing.page_urls")),
    path("", include("linkchart.urls")),
    path("", include("cases.page_urls")),
    path("", include("targeting.evaluation_urls")),
    path("", include("targeting.page_urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include(auth_urls.pages)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("intel.urls")),
    path("api/", include("sharing.urls")),
    path("api/", include("cases.urls")),
    path("api/graph/", include("graph.urls")),
    path("api/targeting/", include("targeting.urls")),
    path("api/auth/", include(auth_urls.api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI, signed in only, with its start-up script served apart (`?script`): the
    # strict CSP allows no inline script; templates/api_docs.html drops the inline style.
    path(
        "api/docs/",
        login_required(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs.html")
        ),
        name="api-docs",
    ),
]

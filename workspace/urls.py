from django.urls import path

from workspace import pages

app_name = "workspace"
urlpatterns = [
    path("search/", pages.search, name="search"),
    path("entities/<uuid:pk>/", pages.entity, name="entity"),
    path("entities/<uuid:pk>/analyse/", pages.analyse, name="analyse"),
    path("entities/<uuid:pk>/analyses/", pages.analyses_state, name="analyses-state"),
    path("entities/<uuid:pk>/disclosure/", pages.request_disclosure, name="request-disclosure"),
]

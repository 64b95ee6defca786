from django.urls import path

from intel import pages

app_name = "intel"
urlpatterns = [
    path("search/", pages.search, name="search"),
    path("entities/<uuid:pk>/", pages.entity_detail, name="entity"),
    path("records/<uuid:pk>/", pages.record_detail, name="record"),
]

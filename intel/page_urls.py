from django.urls import path

from intel import pages

app_name = "intel"
urlpatterns = [
    path("search/", pages.search, name="search"),
    path("entities/<id:pk>/", pages.entity_detail, name="entity"),
    path("records/<id:pk>/", pages.record_detail, name="record"),
]

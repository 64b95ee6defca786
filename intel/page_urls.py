from django.urls import path

from intel import pages

app_name = "intel"
urlpatterns = [
    path("records/<uuid:pk>/", pages.record_detail, name="record"),
    path("imports/", pages.imports, name="imports"),
    path("imports/<uuid:pk>/", pages.import_batch, name="import"),
]

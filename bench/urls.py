"""The project's URLs plus one bench-only endpoint: the record list with the choke
point's grants built another way (`bench/variants.py`), for the side-by-side benchmark."""

from django.urls import path

from bench.variants import VariantRecordViewSet
from config.urls import urlpatterns as project_urlpatterns

VARIANT_RECORDS_PATH = "/bench/records/"

urlpatterns = [
    path(VARIANT_RECORDS_PATH.strip("/") + "/", VariantRecordViewSet.as_view({"get": "list"})),
    *project_urlpatterns,
]

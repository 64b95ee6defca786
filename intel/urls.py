from rest_framework.routers import DefaultRouter

from intel.views import EntityViewSet, ImportViewSet, LinkViewSet, RecordViewSet, SearchViewSet

router = DefaultRouter()
router.register("records", RecordViewSet, basename="record")
router.register("entities", EntityViewSet, basename="entity")
router.register("links", LinkViewSet, basename="link")
router.register("search", SearchViewSet, basename="search")
router.register("imports", ImportViewSet, basename="import")

urlpatterns = router.urls

from core.viewsets import Router
from intel.views import (
    CandidateViewSet,
    EntityViewSet,
    ImportViewSet,
    LinkViewSet,
    MergeViewSet,
    RecordViewSet,
    SearchViewSet,
)

router = Router()
router.register("records", RecordViewSet, basename="record")
router.register("entities", EntityViewSet, basename="entity")
router.register("links", LinkViewSet, basename="link")
router.register("search", SearchViewSet, basename="search")
router.register("imports", ImportViewSet, basename="import")
router.register("candidates", CandidateViewSet, basename="candidate")
router.register("merges", MergeViewSet, basename="merge")

urlpatterns = router.urls

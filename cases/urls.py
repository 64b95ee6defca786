from cases import views
from core.viewsets import Router

router = Router()
router.register("cases", views.CaseViewSet, basename="case")

urlpatterns = router.urls

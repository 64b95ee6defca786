from rest_framework.routers import DefaultRouter

from cases import views

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="case")

urlpatterns = router.urls

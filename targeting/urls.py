from core.viewsets import Router
from targeting import views

router = Router()
router.register("queue", views.QueueViewSet, basename="targeting-queue")
router.register("profiles", views.ProfileViewSet, basename="targeting-profile")

urlpatterns = router.urls

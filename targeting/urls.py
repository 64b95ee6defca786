from rest_framework.routers import DefaultRouter

from targeting import views

router = DefaultRouter()
router.register("queue", views.QueueViewSet, basename="targeting-queue")
router.register("profiles", views.ProfileViewSet, basename="targeting-profile")

urlpatterns = router.urls

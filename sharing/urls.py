from django.urls import path

from core.viewsets import Router
from sharing import views

router = Router()
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("requests", views.DisclosureRequestViewSet, basename="request")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("records/release/", views.release_in_bulk, name="records-release"),
    path("records/<uuid:pk>/release/", views.release_record, name="record-release"),
    path("records/<uuid:pk>/release-onward/", views.release_onward, name="record-release-onward"),
    path("entities/<uuid:pk>/discovery/", views.discovery, name="entity-discovery"),
    path("discovery/holdings/", views.discovery_holdings, name="discovery-holdings"),
    path("session/purpose/", views.session_purpose, name="session-purpose"),
    *router.urls,
]

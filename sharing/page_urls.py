from django.urls import path

from sharing import pages

app_name = "sharing"
urlpatterns = [
    path("liaison/requests/", pages.request_queue, name="request-queue"),
    path("liaison/requests/<uuid:pk>/", pages.request_detail, name="request-detail"),
    path("liaison/shared/", pages.shared, name="shared"),
    path("liaison/access/", pages.access, name="access"),
    path("requests/", pages.my_requests, name="my-requests"),
    path("records/<uuid:pk>/release/", pages.release_record, name="release-record"),
]

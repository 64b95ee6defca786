from django.urls import path

from targeting import pages

app_name = "targeting"
urlpatterns = [
    path("targeting/", pages.queue, name="queue"),
    path("targeting/profile/", pages.profile, name="profile"),
    path("targeting/<uuid:pk>/", pages.declaration, name="declaration"),
]

"""The evaluation page's paths, mounted at the site's root by config/urls.py."""

from django.urls import path

from targeting import evaluation_pages

app_name = "targeting_evaluation"
urlpatterns = [
    path("targeting/evaluation/", evaluation_pages.latest, name="latest"),
    path("targeting/evaluation/<uuid:pk>/plot.png", evaluation_pages.plot, name="plot"),
]

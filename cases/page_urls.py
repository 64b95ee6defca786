from django.urls import path

from cases import pages

app_name = "cases"
urlpatterns = [
    path("cases/", pages.case_list, name="case-list"),
    path("cases/<uuid:pk>/", pages.case_detail, name="case-detail"),
]

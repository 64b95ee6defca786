from django.urls import path

from linkchart import pages

app_name = "linkchart"
urlpatterns = [path("chart/", pages.chart, name="chart")]

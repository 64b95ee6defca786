from django.urls import path

from graph.views import AnalysisView, ClustersView, NeighbourhoodView, PathsView, SeizureNetworkView

urlpatterns = [
    path("entities/<uuid:pk>/neighbourhood/", NeighbourhoodView.as_view(), name="graph-neighbourhood"),
    path("paths/", PathsView.as_view(), name="graph-paths"),
    path("clusters/", ClustersView.as_view(), name="graph-clusters"),
    path("analytics/<str:operation>/", AnalysisView.as_view(), name="graph-analysis"),
    path("seizure-network/", SeizureNetworkView.as_view(), name="graph-seizure-network"),
]

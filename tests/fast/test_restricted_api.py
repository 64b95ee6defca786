"""Restriction is built into the API: every viewset of every app reads through the
selector it names, by the base viewset's one `get_queryset`; none builds a queryset of its
own, so a new one cannot forget the choke point or its agency's scope. (What those
selectors let each agency see is tested against the oracle in the full tier.)"""

import inspect

import pytest

from agencies import auth_urls
from cases import urls as cases_urls
from core.viewsets import RestrictedViewSet
from intel import urls as intel_urls
from intel.views import ReadingViewSet
from sharing import urls as sharing_urls
from targeting import urls as targeting_urls

ROUTERS = [auth_urls.router, intel_urls.router, sharing_urls.router, cases_urls.router, targeting_urls.router]
VIEWSETS = [viewset for router in ROUTERS for _, viewset, _ in router.registry]


def selectors_of(viewset) -> list:
    return [viewset.selector, *viewset.selector_by_action.values()]


@pytest.mark.parametrize("viewset", VIEWSETS, ids=lambda viewset: viewset.__name__)
def test_every_viewset_reads_through_selectors_by_the_bases_get_queryset(viewset):
    assert issubclass(viewset, RestrictedViewSet)
    assert viewset.get_queryset is RestrictedViewSet.get_queryset
    for selector in selectors_of(viewset):
        assert inspect.isfunction(selector)
        app = viewset.__module__.split(".")[0]
        assert selector.__module__ == f"{app}.selectors", (viewset.__name__, selector.__qualname__)


@pytest.mark.parametrize(
    "name", ["RecordViewSet", "EntityViewSet", "LinkViewSet", "SearchViewSet", "CandidateViewSet"]
)
def test_viewsets_over_records_give_their_selectors_the_reader_with_its_purpose(name):
    viewset = next(v for v in VIEWSETS if v.__name__ == name)
    assert issubclass(viewset, ReadingViewSet)
    assert viewset.viewer is ReadingViewSet.viewer


def test_the_check_would_see_a_viewset_of_its_own():
    class OwnQueryset(ReadingViewSet):
        def get_queryset(self):
            return super().get_queryset()

    assert OwnQueryset.get_queryset is not RestrictedViewSet.get_queryset


def test_the_routers_hold_every_app_viewset():
    """A viewset registered on a router this test does not know would escape it."""
    from config import urls

    registered = {viewset for router in ROUTERS for _, viewset, _ in router.registry}
    served = set()

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
            elif getattr(pattern.callback, "cls", None) is not None and hasattr(pattern.callback, "actions"):
                served.add(pattern.callback.cls)

    walk(urls.urlpatterns)
    assert served == registered

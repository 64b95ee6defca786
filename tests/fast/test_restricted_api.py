"""Restriction is built into the API: every viewset over records and what records state
reads through the selector it names, by the base viewset's one `get_queryset`; none builds
a queryset of its own, so a new one cannot forget the choke point. (What those selectors
let each agency see is tested against the oracle in the full tier.)"""

import pytest

from intel import selectors
from intel.urls import router
from intel.views import ImportViewSet, ReadingViewSet

# The agency's own uploads are not records' content: scoped by membership, not by the rule.
NOT_READING_RECORDS = {ImportViewSet}
VIEWSETS = [viewset for _, viewset, _ in router.registry if viewset not in NOT_READING_RECORDS]
SELECTORS = {getattr(selectors, name) for name in dir(selectors) if callable(getattr(selectors, name))}


@pytest.mark.parametrize("viewset", VIEWSETS, ids=lambda viewset: viewset.__name__)
def test_every_viewset_reads_through_a_selector_by_the_bases_get_queryset(viewset):
    assert issubclass(viewset, ReadingViewSet)
    assert viewset.get_queryset is ReadingViewSet.get_queryset
    assert viewset.reading in SELECTORS
    assert set(viewset.readings.values()) <= SELECTORS


def test_the_check_would_see_a_viewset_of_its_own():
    class OwnQueryset(ReadingViewSet):
        reading = staticmethod(selectors.visible_records)

        def get_queryset(self):
            return super().get_queryset()

    assert OwnQueryset.get_queryset is not ReadingViewSet.get_queryset

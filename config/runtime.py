import gc

from django.urls import get_resolver


def settle_heap() -> None:
    """Puts everything allocated so far (modules, settings, URL resolvers, caches filled by
    the first requests) out of reach of Python's full cyclic collections: it lives as long
    as the process, and scanning it again and again stalled API requests at random
    (docs/benchmarks.md, section 4). The URL patterns are loaded first: they import every
    view, and with them the analytics libraries (SciPy, networkx, igraph), which the first
    request imported otherwise, after the freeze, for every full collection to scan."""
    get_resolver().url_patterns  # noqa: B018
    gc.collect()
    gc.freeze()

import gc


def settle_heap() -> None:
    """Puts everything allocated so far (modules, settings, URL resolvers, caches filled by
    the first requests) out of reach of Python's full cyclic collections: it lives as long
    as the process, and scanning it again and again stalled API requests at random
    (docs/benchmarks.md, section 4)."""
    gc.collect()
    gc.freeze()

"""Python's cyclic garbage collector, set for a server whose heap is mostly long-lived JSON dicts.

After start-up (schemas, the resource table, bootstrap objects: a few hundred thousand containers
that live as long as the process) ``gc.freeze()`` moves everything into the permanent generation,
so no full collection walks them again. The first generation's threshold is raised from 700 to
``GEN0_THRESHOLD`` allocations: objects decoded per request and per watch event are freed by
reference counting long before a cycle collection would look at them, and collecting every 700
allocations spent CPU on scanning them. ``KUBEFACADE_GC_DEFAULT=1`` keeps Python's defaults
(for measuring the difference).
"""

from __future__ import annotations

import gc
import os

GEN0_THRESHOLD = 50_000


def tune_gc() -> bool:
    """Freeze what exists now and raise the young-generation threshold; False when left at defaults."""
    if os.environ.get("KUBEFACADE_GC_DEFAULT"):
        return False
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    return True

"""BLAS on one thread, cheaply enough to be entered per chain or per LD block.

The order of a threaded BLAS sum, and so the last bits of a dot product, depends on the
thread count; small problems are also slower threaded on a busy machine. Building a
threadpoolctl controller inspects every loaded shared library (5-40 ms), which dominated
short chains (the eigen cut-off tuning runs four per analysis) and per-block work, so one
controller is kept per process and rebuilt only after new Python modules were imported (an
import may have loaded another BLAS, e.g. SciPy's own).
"""

from __future__ import annotations

import sys

_controller = None
_modules_seen = -1


def single_threaded_blas():
    """Context manager limiting every loaded BLAS to one thread (threadpoolctl's ``limit``)."""
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _modules_seen = len(sys.modules)
    return _controller.limit(limits=1, user_api="blas")

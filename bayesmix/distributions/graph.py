"""Small helpers to read prior hyperparameters back from a PyMC/PyTensor graph."""

from __future__ import annotations

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import ancestors


def constant_value(var):
    """The numpy value of ``var`` if it depends on no random or free input, else None.

    Constants are returned directly; small constant sub-graphs (casts, ``nu * s2 / 2`` ...)
    are evaluated.
    """
    if isinstance(var, Constant):
        return np.asarray(var.data)
    if var.owner is None:
        return None
    if any(a.owner is None and not isinstance(a, Constant) for a in ancestors([var])):
        return None
    try:
        return np.asarray(var.eval())
    except Exception:  # noqa: BLE001 - anything not evaluable is simply "not constant"
        return None


def small_graph_mode():
    """PyTensor mode for the small per-iteration graphs of the Gibbs steps.

    Python linker with the usual rewrites except elementwise fusion (a fused Composite runs
    scalar by scalar in Python; unfused, every elementwise op is one numpy ufunc call): no
    numba/C compilation, which costs seconds per graph on first use.
    """
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer="fast_run").excluding("fusion")

"""Small helpers around PyMC/PyTensor graphs: reading prior hyperparameters back from a
graph, the mode of the Gibbs steps' small graphs, and log densities that do not keep their
model alive."""

from __future__ import annotations

import weakref

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import ancestors


def constant_value(var):
    """The numpy value of ``var`` if it depends on no random or free input, else None.

    Constants are returned directly; small constant sub-graphs (casts, ``nu * s2 / 2`` ...)
    are evaluated op by op (:func:`evaluation_mode`: no rewrites, no compilation; 1 ms where
    the default mode took 30 ms, paid for every prior parameter of every model built).
    """
    if isinstance(var, Constant):
        return np.asarray(var.data)
    if var.owner is None:
        return None
    if any(a.owner is None and not isinstance(a, Constant) for a in ancestors([var])):
        return None
    try:
        return np.asarray(var.eval(mode=evaluation_mode()))
    except Exception:  # noqa: BLE001 - anything not evaluable is simply "not constant"
        return None


def evaluation_mode():
    """PyTensor mode that runs each op's Python ``perform`` as the graph is (no rewrites), for
    graphs evaluated once or twice: tiny constant graphs, the conjugacy checks of
    :mod:`bayesmix.inference.conjugacy`. Compiling with rewrites costs tens of milliseconds
    per graph, more than such an evaluation saves (:func:`small_graph_mode` is for the
    per-iteration functions)."""
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer=None)


def small_graph_mode():
    """PyTensor mode for the small per-iteration graphs of the Gibbs steps.

    Python linker with the usual rewrites except elementwise fusion (a fused Composite runs
    scalar by scalar in Python; unfused, every elementwise op is one numpy ufunc call): no
    numba/C compilation, which costs seconds per graph on first use.
    """
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer="fast_run").excluding("fusion")


class WeakLogp:
    """The log density of a ``pm.CustomDist`` as a method of an object held weakly:
    ``pm.CustomDist(..., logp=WeakLogp(self.likelihood_logp))``.

    PyMC registers each CustomDist's log density in its global dispatch tables for good, so
    a lambda closing over a model keeps the model, and the LD it holds, alive after the
    model is gone (each short chain of the eigen cut-off tuning kept its copy of the
    eigenvectors: 1 GB at 1.1M SNPs). The object must be alive when the log density is
    built, which it is while its model is used. Pickled (a model shipped to a Dask worker)
    it travels with the object."""

    def __init__(self, method):
        self._method = weakref.WeakMethod(method)

    def __call__(self, *args):
        method = self._method()
        if method is None:
            raise RuntimeError("the log density's model no longer exists: build the model "
                               "again")
        return method(*args)

    def __reduce__(self):
        return WeakLogp, (self._method(),)

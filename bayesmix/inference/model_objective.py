"""A PyMC model's log-density in its free coordinates, compiled once for an optimiser.

:class:`ModelObjective` compiles ``model.logp(jacobian=False)`` (and, on request, its gradient
over the value variables): exactly the function ``pm.find_MAP`` maximises. The MiXeR fit
sequences (:func:`bayesmix.inference.mle.fit_univariate`) evaluate their likelihood through
it, so the production fit and ``find_MAP`` share one graph: the model of
:func:`bayesmix.models.mixer.UnivariateMixer`, whose value variables (with its default flat
priors) are the free coordinates (logit pi, log sig2_beta, log sig2_zero) of
:data:`bayesmix.inference.mle.UNIVARIATE_SPACE`, and whose log-density is then the weighted
log-likelihood itself.

Compilation uses :data:`GRAPH_MODE`: PyTensor's full graph rewrites (so a logp-only function
gets the gradient-free kernel variant, :func:`bayesmix.ops.fused.fused_to_logp_only`) with the
Python VM linker, whose thunk for the fused Op calls the numba kernel in ``perform``. The
default NUMBA linker would first compile the whole graph with the kernel inlined: ~25 s for
the convolve kernel on a cold cache and ~1 s on a warm one, per process, against ~1 s here;
each evaluation costs the same kernel call plus a few Python thunks (docs/mixer.md, "One
graph", has the measurements; ``benchmarks/mixer_graph.py`` makes them).
"""

from __future__ import annotations

import threading

import numpy as np


def graph_mode():
    """The compile mode of :class:`ModelObjective` (see the module docstring)."""
    from pytensor.compile.mode import Mode
    from pytensor.link.vm import VMLinker

    return Mode(linker=VMLinker(use_cloop=False, c_thunks=False), optimizer="fast_run")


class ModelObjective:
    """``model.logp(jacobian=False)`` of a PyMC ``model`` over its value variables
    (the free coordinates, in ``model.value_vars`` order), compiled lazily: a logp-only
    function and a logp + gradient function, each once.

    ``mode``: PyTensor compile mode (default :func:`graph_mode`).
    """

    def __init__(self, model, mode=None):
        self.model = model
        self.value_vars = list(model.value_vars)
        self.names = tuple(v.name for v in self.value_vars)
        self.mode = graph_mode() if mode is None else mode
        self._functions = {}
        # a compiled function keeps its inputs and outputs in its own storage: one call at
        # a time (threads fitting the same data share the objective)
        self._lock = threading.RLock()

    def _call(self, with_grad: bool, u):
        with self._lock:
            return self._function(with_grad)(*self._inputs(u))

    def _function(self, with_grad: bool):
        if with_grad not in self._functions:
            import pytensor

            logp = self.model.logp(jacobian=False)
            outputs = [logp] + (list(pytensor.grad(logp, self.value_vars)) if with_grad else [])
            self._functions[with_grad] = pytensor.function(
                self.value_vars, outputs, mode=self.mode, trust_input=True,
                on_unused_input="ignore")
        return self._functions[with_grad]

    def _inputs(self, u):
        return [np.asarray(x, dtype=np.float64).reshape(()) for x in u]

    def logp(self, u) -> float:
        """log-density at free coordinates ``u``."""
        return float(self._call(False, u)[0])

    def logp_grad(self, u) -> tuple[float, np.ndarray]:
        """(log-density, its gradient in the free coordinates) at ``u``."""
        out = self._call(True, u)
        return float(out[0]), np.array([float(g) for g in out[1:]])
